"""The xpusim command line: each command's happy path and its clean, located errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from sim.accounting.runner import RunOutput
from sim.cli import app

SCENARIO = """\
name: cli-test
description: A small scenario for the command-line tests.
seed: 4
horizon:
  start: 2024-01-01
  end: 2025-01-01
economics:
  discount_rate_per_year: 0.08
  depreciation_years: 5
  pue: 1.15
  electricity_usd_per_kwh: 0.08
  facility_usd_per_kw_year: 1000
  maintenance_fraction_per_year: 0.03
  host_power_overhead_fraction: 0.3
  engineer_usd_per_month: 25000
vendors:
  nvidia:
    gross_margin_fraction: 0.75
    lead_time_weeks: 26
    street_price_multiplier: []
provider:
  name: aws
  pools:
    h100: {initial_chips: 100}
    trainium2: {initial_chips: 100}
  procurement: {target_utilization: 0.7}
  pricing: {committed_fraction: 0.5, committed_discount_fraction: 0.3}
segments:
  lab:
    training:
      jobs_per_month: 10
      size: {law: fixed, mean_pflop: 1000000}
      gang_chips: 8
    inference:
      tokens_per_s: 10000
    platforms:
      training: {h100: 0.9, trainium2: 0.1}
      inference: {h100: 1.0}
"""

BAD_LINE = 10  # line of "  pue: 1.15" in SCENARIO, where the bad value goes


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


@pytest.fixture
def bad_scenario(tmp_path: Path) -> Path:
    lines = SCENARIO.splitlines()
    assert lines[BAD_LINE - 1] == "  pue: 1.15"
    lines[BAD_LINE - 1] = "  pue: lots"
    path = tmp_path / "bad.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(runner: CliRunner, *args: Any) -> Any:
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def assert_clean_error(result: Any, *fragments: str) -> str:
    """Exit 2, exactly one 'error:' line on stderr, no traceback; return the line."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return str(lines[0])


# --------------------------------------------------------------------------- entry points


def test_python_dash_m_sim_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sim", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    for command in ("run", "validate", "show", "schema", "diff", "catalog", "tco"):
        assert command in done.stdout


def test_version(runner: CliRunner) -> None:
    result = invoke(runner, "--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("xpusim ")


def test_unknown_command_and_option_exit_2(runner: CliRunner, scenario: Path) -> None:
    assert invoke(runner, "frobnicate").exit_code == 2
    assert invoke(runner, "show", scenario, "--bogus").exit_code == 2
    assert invoke(runner, "tco", scenario, "--utilization", "1.5").exit_code == 2


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["run", "{scenario}", "--seed", "-1"],
            ["error: --seed: invalid value", "expected an integer from 0 to", "found -1"],
        ),
        (
            ["run", "{scenario}", "--seed", "abc"],
            ["--seed: invalid value", "expected an integer", "found 'abc'"],
        ),
        (
            ["tco", "{scenario}", "--utilization", "1.5"],
            ["--utilization: invalid value", "expected a number from 0 to 1", "found 1.5"],
        ),
        (
            ["tco", "--chip", "h100", "--utilization", "1.5"],
            ["xpusim tco: no such option --chip", "one of --set, --utilization", "--all-chips"],
        ),
        (["run"], ["xpusim run: missing argument SCENARIO", "found nothing", "xpusim run --help"]),
        (
            ["run", "{scenario}", "--seed"],
            ["xpusim run: option '--seed' requires an argument", "expected an integer"],
        ),
        (["run", "{scenario}", "extra"], ["xpusim run: got unexpected extra argument"]),
        (["frobnicate"], ["xpusim: no such command 'frobnicate'", "one of run, validate"]),
        (["rnu"], ["no such command 'rnu'", "did you mean run?"]),
        (["--bogus"], ["xpusim: no such option --bogus", "--version"]),
        (["explain", "{scenario}", "--year", "x"], ["--year: invalid value", "found 'x'"]),
    ],
)
def test_command_line_mistakes_print_one_error_line(
    runner: CliRunner, scenario: Path, args: list[str], fragments: list[str]
) -> None:
    """A mistake on the command line is reported like one in a scenario: one 'error:' line
    naming the option, what it expects and what was found; exit 2; no click usage box."""
    result = invoke(runner, *(a.format(scenario=scenario) for a in args))
    assert_clean_error(result, *fragments)
    assert result.stdout == ""
    assert "Usage:" not in result.output and "\u256d" not in result.output  # no "Error" box


def test_command_line_mistakes_escape_what_was_typed(runner: CliRunner, scenario: Path) -> None:
    line = assert_clean_error(invoke(runner, "run", scenario, "--seed", "\x1b[31m"), "--seed")
    assert "\x1b" not in line and "\\x1b[31m" in line


def test_help_is_unchanged_by_the_error_line(runner: CliRunner) -> None:
    """--help and a bare ``xpusim`` still print click's help, not an error line."""
    for args in (["--help"], ["run", "--help"], ["tco", "-h"]):
        result = invoke(runner, *args)
        assert result.exit_code == 0 and "Usage: xpusim" in result.stdout, args
    bare = invoke(runner)
    assert "Usage: xpusim" in bare.output
    assert not any(line.lstrip().startswith("error:") for line in bare.output.splitlines())


def test_help_shows_no_type_for_flags_and_wraps_whole_paragraphs(runner: CliRunner) -> None:
    """Flags show no '<bool>'; each help paragraph is one line for the terminal to wrap, so
    no line ends where the docstring's source line happened to end."""
    from typer.main import get_command

    group: Any = get_command(app)
    assert "<bool>" not in invoke(runner, "--help").stdout
    for name, command in group.commands.items():
        assert "<bool>" not in invoke(runner, name, "--help").stdout, name
        for paragraph in (command.help or "").split("\n\n"):
            assert "\n" not in paragraph, (name, paragraph)
        summary = (command.help or "").split("\n\n")[0]
        assert len(summary) <= 100, (name, summary)  # one line in the list of commands


def test_closed_stdout_is_no_input_error(
    runner: CliRunner, scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``xpusim show ... | head -1``: a reader that stops early is not an 'error:' of input
    (typer's own handling: exit 1, nothing said)."""
    import errno

    import sim.cli.scenarios

    def closed(*_args: object) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(sim.cli.scenarios, "load", closed)
    result = runner.invoke(app, ["show", str(scenario)])
    assert result.exit_code == 1 and "error:" not in result.output, result.output


# --------------------------------------------------------------------------- validate / show


def test_validate_ok(runner: CliRunner, scenario: Path) -> None:
    result = invoke(runner, "validate", scenario)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"ok {scenario}"


def test_validate_reports_each_invalid_file(
    runner: CliRunner, scenario: Path, bad_scenario: Path
) -> None:
    result = invoke(runner, "validate", scenario, bad_scenario)
    assert f"ok {scenario}" in result.stdout
    assert_clean_error(result, f"{bad_scenario}:{BAD_LINE}", "economics.pue", "lots")


def test_unknown_key_suggests_the_known_one(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(
        SCENARIO.replace("  end: 2025-01-01\n", "  end: 2025-01-01\n  warmup_dayz: 3\n")
    )
    line = assert_clean_error(invoke(runner, "validate", path), f"{path}:7", "warmup_dayz")
    assert "warmup_days" in line  # did you mean


def test_misspelt_required_key_is_reported_at_its_line(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text(SCENARIO.replace("  pue: 1.15\n", "  peu: 1.15\n"), encoding="utf-8")
    line = assert_clean_error(invoke(runner, "validate", path), f"{path}:{BAD_LINE}:")
    assert "key 'economics.peu'" in line and "did you mean 'pue'?" in line
    assert "more error" not in line  # the unknown and the missing key are one mistake


def test_validate_lists_every_error_run_says_how_to_see_them(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "two.yaml"
    two = SCENARIO.replace("  pue: 1.15\n", "  pue: lots\n").replace(
        "  end: 2025-01-01\n", "  end: 2025-01-01\n  warmup_dayz: 3\n"
    )
    path.write_text(two, encoding="utf-8")
    result = invoke(runner, "validate", path)
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("error: ") for line in lines), lines
    assert f"{path}:7:" in lines[0] and "more error" not in lines[0]  # validate lists them
    assert f"{path}:{BAD_LINE + 1}:" in lines[1] and "'lots'" in lines[1]
    one = assert_clean_error(invoke(runner, "show", path), f"{path}:7:")
    assert "(+1 more error, listed by xpusim validate)" in one


def test_validate_with_bad_set_value(runner: CliRunner, scenario: Path) -> None:
    result = invoke(runner, "validate", scenario, "--set", "economics.pue=cheap")
    assert_clean_error(result, "economics.pue")


def test_show_prints_resolved_yaml_with_overrides(runner: CliRunner, scenario: Path) -> None:
    result = invoke(runner, "show", scenario, "--set", "economics.pue=1.3")
    assert result.exit_code == 0, result.output
    data = yaml.safe_load(result.stdout)
    assert data["name"] == "cli-test"
    assert data["economics"]["pue"] == 1.3
    assert "trainium2" in data["catalog"]["chips"]  # the shipped catalog is resolved in


@pytest.mark.parametrize("command", ["show", "tco", "run", "validate"])
def test_missing_file_is_a_clean_error(runner: CliRunner, tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nope.yaml"
    assert_clean_error(invoke(runner, command, missing), "nope.yaml")


def test_invalid_file_is_a_located_error(runner: CliRunner, bad_scenario: Path) -> None:
    assert_clean_error(invoke(runner, "show", bad_scenario), f"{bad_scenario}:{BAD_LINE}")


def test_yaml_syntax_error_is_located(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nhorizon: [unclosed\n", encoding="utf-8")
    assert_clean_error(invoke(runner, "show", path), "broken.yaml:")


def test_bad_set_path_is_a_clean_error(runner: CliRunner, scenario: Path) -> None:
    result = invoke(runner, "show", scenario, "--set", "economics.peu=1.2")
    assert_clean_error(result, "economics.peu")
    result = invoke(runner, "show", scenario, "--set", "no-equals-sign")
    assert_clean_error(result)


# --------------------------------------------------------------------------- schema / diff


def test_schema_to_stdout_and_file(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert "horizon" in json.dumps(schema)
    out = tmp_path / "xpusim.schema.json"
    result = invoke(runner, "schema", "--out", out)
    assert result.exit_code == 0
    assert json.loads(out.read_text()) == schema


def test_schema_to_unwritable_place(runner: CliRunner, tmp_path: Path) -> None:
    assert_clean_error(invoke(runner, "schema", "--out", tmp_path / "no" / "dir" / "s.json"))


def test_diff_lists_changed_paths(runner: CliRunner, scenario: Path) -> None:
    result = invoke(
        runner, "diff", scenario, scenario, "--set-b", "economics.pue=1.4", "--set-a", "seed=9"
    )
    assert result.exit_code == 0, result.output
    assert "economics.pue" in result.stdout
    assert "1.15" in result.stdout and "1.4" in result.stdout
    assert "seed" in result.stdout
    same = invoke(runner, "diff", scenario, scenario)
    assert same.exit_code == 0
    assert "no differences" in same.stdout


def test_diff_years_heads_and_count(
    runner: CliRunner, scenario: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Years and seeds without thousands separators, the two sides of one file told apart,
    and '1 difference' in the singular."""
    monkeypatch.chdir(scenario.parent)
    scenario = Path(scenario.name)  # a short name: column heads are not folded
    year = "catalog.stacks.neuron.maturity_midpoint_year"
    result = invoke(
        runner, "diff", scenario, scenario, "--set-b", f"{year}=2031", "--set-b", "seed=20240529"
    )
    assert result.exit_code == 0, result.output
    assert "2031" in result.stdout and "2,031" not in result.stdout
    assert "20240529" in result.stdout and "20,240,529" not in result.stdout
    assert "2 differences" in result.stdout
    assert "scenario.yaml (--set-b)" in result.stdout
    one = invoke(runner, "diff", scenario, scenario, "--set-b", "economics.pue=1.4")
    assert one.exit_code == 0, one.output
    assert "1 difference" in one.stdout and "1 differences" not in one.stdout
    both = invoke(runner, "diff", scenario, scenario, "--set-a", "seed=1", "--set-b", "seed=2")
    assert "A: scenario.yaml (--set-a)" in both.stdout
    assert "B: scenario.yaml (--set-b)" in both.stdout
    monkeypatch.setenv("COLUMNS", "50")  # a narrow terminal folds a long key, never cuts it
    narrow = invoke(runner, "diff", scenario, scenario, "--set-b", f"{year}=2031")
    assert narrow.exit_code == 0 and "\u2026" not in narrow.stdout, narrow.stdout
    assert "point_year" in narrow.stdout.replace("\u2502", "").replace(" ", "").replace("\n", "")


# --------------------------------------------------------------------------- catalog


def test_catalog_table_with_sources(runner: CliRunner) -> None:
    result = invoke(runner, "catalog")
    assert result.exit_code == 0, result.output
    for chip in ("h100", "trainium2", "inferentia1", "tpu_v5e", "mi300x"):
        assert chip in result.stdout
    assert "bnext-2023-12" in result.stdout
    assert "\x1b[" not in result.stdout  # plain text when not on a terminal


def test_catalog_one_chip(runner: CliRunner) -> None:
    result = invoke(runner, "catalog", "--chip", "trainium2")
    assert result.exit_code == 0, result.output
    assert "hbm_gb" in result.stdout and "awsdocs-neuron" in result.stdout
    assert "end_of_sale_date" in result.stdout and "trainium3" in result.stdout  # successor
    assert_clean_error(invoke(runner, "catalog", "--chip", "trainium9"), "trainium")


def test_catalog_check_passes_on_shipped_catalog(runner: CliRunner) -> None:
    result = invoke(runner, "catalog", "--check")
    assert result.exit_code == 0, result.output
    assert "catalog check passed" in result.stdout
    assert result.stdout.count(" ok ") >= 7 or result.stdout.count("ok") >= 7


def test_catalog_check_fails_on_broken_catalog(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.cli.economics
    import sim.scenario

    catalog, provenance = sim.scenario.load_catalog()
    chips = dict(catalog.chips)
    chips["trainium2"] = chips["trainium2"].model_copy(update={"hbm_gb": 1000.0})
    broken = catalog.model_copy(update={"chips": chips})
    monkeypatch.setattr(sim.cli.economics, "load_catalog", lambda: (broken, provenance))
    result = invoke(runner, "catalog", "--check")
    assert result.exit_code == 1
    assert "FAIL" in result.stdout and "article ratio broken" in result.stdout


# --------------------------------------------------------------------------- tco


def test_tco_table(runner: CliRunner, scenario: Path) -> None:
    result = invoke(runner, "tco", scenario)
    assert result.exit_code == 0, result.output
    assert "h100" in result.stdout and "trainium2" in result.stdout
    assert "mi300x" not in result.stdout
    assert "utilisation 0.7" in result.stdout
    result = invoke(runner, "tco", scenario, "--utilization", "0.5", "--all-chips")
    assert result.exit_code == 0, result.output
    assert "mi300x" in result.stdout and "utilisation 0.5" in result.stdout


def test_tco_zero_utilization_is_a_clean_error(runner: CliRunner, scenario: Path) -> None:
    assert_clean_error(invoke(runner, "tco", scenario, "--utilization", "0"), "utilization")


# --------------------------------------------------------------------------- run


def _fake_runner(
    monkeypatch: pytest.MonkeyPatch,
    calls: list[tuple[Any, int]],
    seen_workers: list[int | None] | None = None,
    seen_counterfactual: list[bool] | None = None,
) -> None:
    def run(
        scenario: Any,
        seed: int,
        workers: int | None = None,
        progress: Any = None,
        counterfactual: bool = True,
    ) -> RunOutput:
        calls.append((scenario, seed))
        if seen_workers is not None:
            seen_workers.append(workers)
        if seen_counterfactual is not None:
            seen_counterfactual.append(counterfactual)
        return RunOutput(
            summary={
                "answer_usd": 1234567.5,
                "provider": {"tco_usd": 1.0e9, "revenue_usd": 1.5e9},
                "queue": {"h100": {"mean_wait_hours": 0.5, "utilization": 0.7}},
            },
            tables={"timeseries": pd.DataFrame({"pool": ["h100"], "chips": [100]})},
        )

    import sim.cli.scenarios

    monkeypatch.setattr(sim.cli.scenarios, "run_replications", run)


def test_run_writes_folder_and_prints_headlines(
    runner: CliRunner, scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, int]] = []
    _fake_runner(monkeypatch, calls)
    out = tmp_path / "run1"
    result = invoke(runner, "run", scenario, "--out", out, "--set", "economics.pue=1.2")
    assert result.exit_code == 0, result.output
    assert calls and calls[0][1] == 4  # the scenario's seed
    assert calls[0][0].economics.pue == 1.2
    assert str(out) in result.stdout
    assert "Provider TCO" in result.stdout and "$1B" in result.stdout  # labelled, in dollars
    assert "one replication (no interval" in result.stdout
    assert "mean_wait_hours" not in result.stdout  # queues only with --all
    everything = invoke(runner, "run", scenario, "--out", tmp_path / "all", "--all")
    assert "Training queues per pool" in everything.stdout
    assert "queue.h100.mean_wait_hours" in everything.stdout
    assert (out / "timeseries.parquet").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["scenario"]["economics"]["pue"] == 1.2


def test_run_seed_quiet_and_existing_out(
    runner: CliRunner, scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, int]] = []
    _fake_runner(monkeypatch, calls)
    out = tmp_path / "run2"
    result = invoke(runner, "run", scenario, "--seed", "17", "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert calls[-1][1] == 17
    again = invoke(runner, "run", scenario, "--out", out)
    assert_clean_error(again, "already exists; choose another --out or remove it")
    assert len(calls) == 1  # nothing was simulated the second time


def test_run_passes_workers(
    runner: CliRunner, scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workers: list[int | None] = []
    _fake_runner(monkeypatch, [], workers)
    assert invoke(runner, "run", scenario, "--out", tmp_path / "a", "--quiet").exit_code == 0
    result = invoke(runner, "run", scenario, "--out", tmp_path / "b", "--workers", "1", "-q")
    assert result.exit_code == 0, result.output
    assert workers == [None, 1]  # None: the runner's default, all cores
    refused = invoke(runner, "run", scenario, "--out", tmp_path / "c", "--workers", "0")
    assert refused.exit_code == 2 and "--workers" in refused.output
    assert len(workers) == 2 and not (tmp_path / "c").exists()


def test_run_no_counterfactual(
    runner: CliRunner, scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    _fake_runner(monkeypatch, [], None, seen)
    assert invoke(runner, "run", scenario, "--out", tmp_path / "a", "-q").exit_code == 0
    result = invoke(runner, "run", scenario, "--out", tmp_path / "b", "--no-counterfactual")
    assert result.exit_code == 0, result.output
    assert seen == [True, False]


def test_run_default_folder(
    runner: CliRunner, scenario: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_runner(monkeypatch, [])
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, "run", scenario, "--quiet")
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip())
    assert folder.parent == Path("results") / "cli-test"
    assert (folder / "summary.json").is_file()


def test_run_invalid_scenario_leaves_no_folder(
    runner: CliRunner, bad_scenario: Path, tmp_path: Path
) -> None:
    out = tmp_path / "never"
    assert_clean_error(invoke(runner, "run", bad_scenario, "--out", out), "bad.yaml")
    assert not out.exists()


def test_extends_and_set_precedence(runner: CliRunner, scenario: Path, tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text(
        textwrap.dedent(
            f"""\
            extends: {scenario.name}
            name: child
            economics:
              pue: 1.25
            """
        ),
        encoding="utf-8",
    )
    data = yaml.safe_load(invoke(runner, "show", child).stdout)
    assert data["name"] == "child" and data["economics"]["pue"] == 1.25
    assert data["economics"]["electricity_usd_per_kwh"] == 0.08  # inherited
    data = yaml.safe_load(invoke(runner, "show", child, "--set", "economics.pue=1.5").stdout)
    assert data["economics"]["pue"] == 1.5


TINY_SCENARIO = Path(__file__).parent / "data" / "sweep" / "tiny.yaml"


def test_run_imports_no_heavy_optional_library(tmp_path: Path) -> None:
    """``xpusim run -q`` imports no plotting, Dask, SALib, optimiser, schema checker, terminal
    output (rich: it shows nothing), asyncio, or other commands' experiments and views: the
    commands that need them import them when they run (each costs the run's start-up)."""
    heavy = ["matplotlib", "dask", "distributed", "SALib", "scipy", "jsonschema", "rich",
             "asyncio", "sim.experiments.sensitivity", "sim.experiments.calibration",
             "sim.experiments.verification", "sim.experiments.orchestrate",
             "sim.results.sweep_folder", "sim.results.folders", "sim.views.headline",
             "sim.accounting.tco"]  # fmt: skip
    code = (
        "import sys\n"
        "from sim.cli import main\n"
        "try:\n"
        f"    main(['run', {str(TINY_SCENARIO)!r}, '--out', {str(tmp_path / 'run')!r}, '-q'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "run" / "summary.json").is_file()


def test_tco_date_prices_on_that_date(runner: CliRunner) -> None:
    """gpu-shortage-2023 doubles Nvidia's street price from 2023-01-01 to 2024-07-01."""
    shortage = Path(__file__).parent.parent / "scenarios" / "gpu-shortage-2023.yaml"

    def h100(date: str) -> dict[str, Any]:
        result = invoke(runner, "tco", shortage, "--date", date, "--format", "json")
        assert result.exit_code == 0, result.output
        return next(r for r in json.loads(result.stdout) if r["chip"] == "h100")

    before, during = h100("2022-06-01"), h100("2023-06-01")
    assert before["date"] == "2022-06-01" and during["date"] == "2023-06-01"
    assert before["street_price_multiplier"] == 1.0 and during["street_price_multiplier"] == 2.0
    assert during["capex_usd_per_chip"] == pytest.approx(2 * before["capex_usd_per_chip"])
    assert during["tco_usd_per_chip_hour"] > before["tco_usd_per_chip_hour"]
    assert_clean_error(invoke(runner, "tco", shortage, "--date", "2023-13-01"), "YYYY-MM-DD")


def test_tco_formats_and_100_columns(runner: CliRunner, scenario: Path) -> None:
    rows = list(
        csv.DictReader(io.StringIO(invoke(runner, "tco", scenario, "--format", "csv").stdout))
    )
    assert [r["chip"] for r in rows] == ["h100", "trainium2"] and rows[0]["date"] == "2024-01-01"
    md = invoke(runner, "tco", scenario, "--format", "md").stdout
    assert "| chip | capex |" in md
    wide = CliRunner(env={"COLUMNS": "100"})
    table = invoke(wide, "tco", scenario, "--all-chips").stdout
    assert all(len(line) <= 100 for line in table.splitlines())
    for key in ("tco_usd_per_chip_hour", "gross_margin_usd_per_busy_chip_hour"):
        value = float(rows[0][key])  # whole on its line, in the last column too
        assert f"${value:.3g}" in table or f"${value:.4g}" in table, key
    assert all(h in table for h in ("cost_plus", "competitive", "margin /busy chip-h"))
    assert_clean_error(invoke(runner, "tco", scenario, "--format", "xml"), "--format")


def test_every_help_example_names_files_that_exist(runner: CliRunner) -> None:
    """The 'Example:' of each command's --help names scenario files of this repository."""
    import glob
    import re

    root = Path(__file__).resolve().parent.parent
    examples = 0
    for command in app.registered_commands:
        name, doc = command.name, command.callback.__doc__ if command.callback else ""
        for example in re.findall(r"Example: (xpusim [^\n]+(?:\n    --[^\n]+)?)", doc or ""):
            for token in example.split():
                if token.endswith(".yaml"):
                    examples += 1
                    assert glob.glob(str(root / token)), f"{name}: {token} does not exist"
    assert examples >= 8
    help_text = invoke(runner, "sensitivity", "--help").stdout
    assert "scenarios/baseline.yaml" in help_text


def test_catalog_formats(runner: CliRunner) -> None:
    records = json.loads(invoke(runner, "catalog", "--format", "json").stdout)
    h100 = next(r for r in records if r["id"] == "h100")
    assert h100["vendor"] == "nvidia" and h100["training_tflops"] > 0
    assert "assumption" in h100["sources"] or "." in h100["sources"]  # sources in full
    rows = list(csv.DictReader(io.StringIO(invoke(runner, "catalog", "--format", "csv").stdout)))
    assert [r["id"] for r in rows] == [r["id"] for r in records]
