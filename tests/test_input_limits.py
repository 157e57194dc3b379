"""Hostile or huge input: only regular files are read, seeds and run sizes are bounded before
any work starts, and control characters never reach the terminal raw.

Devices, named pipes and symbolic-link loops cannot be committed to the malformed corpus, so
they are made here in ``tmp_path``. Each case goes through the loader and through the command
line: one ``error:`` line, exit status 2, nothing written.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import sim.model.estimate
import sim.safeio
from sim.cli import app
from sim.engine.core import simulate
from sim.errors import ScenarioError, UserError, printable
from sim.model.estimate import MAX_RUN_EVENTS, check_run_size, estimate_events, run_size
from sim.model.rng import MAX_SEED
from sim.model.schema import Scenario
from sim.safeio import read_user_bytes
from sim.scenario import load_scenario
from sim.scenario.marks import MAX_FILE_BYTES
from tests.test_cli import SCENARIO

HERE = Path(__file__).parent
DATA = HERE / "data"
CATALOG = (DATA / "chips.yaml", DATA / "stacks.yaml")
BASELINE = HERE.parent / "scenarios" / "baseline.yaml"
DEVICE = Path("/dev/zero")
needs_device = pytest.mark.skipif(not DEVICE.exists(), reason="no /dev/zero here")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def invoke(*args: Any) -> Any:
    return CliRunner().invoke(app, [str(a) for a in args])


def clean_error(result: Any, *fragments: str) -> str:
    """Exit 2, exactly one printable 'error:' line, no traceback; return the line."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert lines[0].isprintable(), repr(lines[0])
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return str(lines[0])


def run_refused(path: Path, tmp_path: Path, *fragments: str, extra: tuple[str, ...] = ()) -> str:
    out = tmp_path / "out"
    line = clean_error(invoke("run", path, "--out", out, *extra), *fragments)
    assert not out.exists(), "a refused run leaves no folder"
    return line


def child_of(tmp_path: Path, target: str) -> Path:
    """A scenario in tmp_path that extends ``target`` (relative to tmp_path)."""
    child = tmp_path / "child.yaml"
    child.write_text(f"# extends something odd\nextends: {target}\nname: child\n")
    return child


# --------------------------------------------------------------------------- only regular files


@needs_device
def test_symlink_to_dev_zero_is_refused_unread(tmp_path: Path) -> None:
    z = tmp_path / "z.yaml"
    z.symlink_to(DEVICE)
    with pytest.raises(ScenarioError) as info:
        load_scenario(z, catalog_files=CATALOG)
    assert "is a character device" in str(info.value) and info.value.file == str(z)
    run_refused(z, tmp_path, "z.yaml", "character device", "not a regular file")


@needs_device
def test_extends_a_device_through_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "z.yaml").symlink_to(DEVICE)
    child = child_of(tmp_path, "z.yaml")
    line = run_refused(child, tmp_path, f"{child}:2", "key 'extends'", "character device")
    assert "does not exist" not in line


@needs_fifo
def test_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    run_refused(fifo, tmp_path / "a", "pipe.yaml", "named pipe (FIFO)")
    child = child_of(tmp_path, "pipe.yaml")
    run_refused(child, tmp_path / "b", f"{child}:2", "key 'extends'", "named pipe (FIFO)")


def test_directory_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "scenario.yaml"
    folder.mkdir()
    run_refused(folder, tmp_path / "a", "scenario.yaml", "is a directory")
    child = child_of(tmp_path, "scenario.yaml")
    run_refused(child, tmp_path / "b", f"{child}:2", "key 'extends'", "is a directory")


def test_symlink_loops_are_refused(tmp_path: Path) -> None:
    a, b, me = tmp_path / "a.yaml", tmp_path / "b.yaml", tmp_path / "me.yaml"
    a.symlink_to(b)
    b.symlink_to(a)
    me.symlink_to(me)
    for path in (a, me):
        run_refused(path, tmp_path / "x", path.name, "symbolic link loop")
    child = child_of(tmp_path, "a.yaml")
    run_refused(child, tmp_path / "y", f"{child}:2", "key 'extends'", "symbolic link loop")


def test_broken_symlink_is_named_as_such(tmp_path: Path) -> None:
    link = tmp_path / "gone.yaml"
    link.symlink_to(tmp_path / "nowhere.yaml")
    run_refused(link, tmp_path / "x", "gone.yaml", "broken symbolic link")
    child = child_of(tmp_path, "gone.yaml")
    run_refused(child, tmp_path / "y", f"{child}:2", "broken symbolic link")


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text(SCENARIO)
    link = tmp_path / "link.yaml"
    link.symlink_to(real)
    assert invoke("validate", link).exit_code == 0


@needs_device
def test_a_catalog_file_that_is_a_device_is_refused(tmp_path: Path) -> None:
    z = tmp_path / "chips.yaml"
    z.symlink_to(DEVICE)
    with pytest.raises(ScenarioError) as info:
        load_scenario(DATA / "minimal.yaml", catalog_files=(z, CATALOG[1]))
    assert info.value.file == str(z) and "character device" in str(info.value)


def test_reads_at_most_the_limit_plus_one_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (3 * 1024 * 1024))
    read: list[int] = []
    real_read = os.read

    def counting_read(fd: int, n: int) -> bytes:
        chunk = real_read(fd, n)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(sim.safeio.os, "read", counting_read)
    with pytest.raises(ScenarioError, match="too large"):
        read_user_bytes(big, "big.yaml", limit=1000)
    assert sum(read) == 1001
    read.clear()
    with pytest.raises(ScenarioError, match=f"more than {MAX_FILE_BYTES:,} bytes"):
        read_user_bytes(big, "big.yaml", MAX_FILE_BYTES)
    assert sum(read) == MAX_FILE_BYTES + 1
    small = tmp_path / "small.yaml"
    small.write_bytes(b"x" * 1000)
    assert read_user_bytes(small, "small.yaml", limit=1000) == b"x" * 1000


@needs_fifo
def test_a_file_swapped_for_a_pipe_after_the_check_is_caught_on_the_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "swapped.yaml"
    os.mkfifo(fifo)
    monkeypatch.setattr(sim.safeio, "file_problem", lambda path: None)  # the race is lost
    with pytest.raises(ScenarioError, match="named pipe"):
        read_user_bytes(fifo, "swapped.yaml", MAX_FILE_BYTES)


# --------------------------------------------------------------------------- seeds


def test_seed_bound_is_the_schema_bound() -> None:
    field = Scenario.model_fields["seed"]
    assert any(getattr(m, "le", None) == MAX_SEED for m in field.metadata)
    assert MAX_SEED == 2**63 - 1


@pytest.mark.parametrize("seed", [str(2**63), str(2**64), "-1"])
@pytest.mark.parametrize("command", ["run", "calibrate"])
def test_seed_out_of_range_is_a_usage_error(seed: str, command: str, tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    args: list[Any] = [command, path, "--seed", seed, "--out", tmp_path / "out"]
    if command == "calibrate":
        args += ["-t", "usage_ratio_vs_gpu.trainium.2024=0.1", "-f", "economics.pue:1:2"]
    result = invoke(*args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "--seed" in result.output
    assert not (tmp_path / "out").exists()


def test_largest_seed_runs(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    out = tmp_path / "out"
    result = invoke("run", path, "--seed", MAX_SEED, "--out", out, "-q")
    assert result.exit_code == 0, result.output
    assert f'"seed": {MAX_SEED}' in (out / "summary.json").read_text()


# --------------------------------------------------------------------------- warm-up


def test_warmup_not_shorter_than_the_horizon_is_located(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        SCENARIO.replace("  end: 2025-01-01\n", "  end: 2025-01-01\n  warmup_days: 400\n")
    )
    clean_error(invoke("validate", path), f"{path}:7", "horizon.warmup_days", "not shorter")
    ok = invoke("validate", path, "--set", "horizon.warmup_days=365")
    assert ok.exit_code == 0, ok.output  # 2024 has 366 days


def test_calibration_horizon_shorter_than_the_warmup_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    text = SCENARIO.replace("  end: 2025-01-01\n", "  end: 2026-01-01\n  warmup_days: 400\n")
    path.write_text(text)
    result = invoke(
        "calibrate", path, "-t", "usage_ratio_vs_gpu.trainium.2024=0.1",
        "-f", "economics.pue:1.1:1.3",
    )  # fmt: skip
    clean_error(result, "calibration horizon", "warm-up")


# --------------------------------------------------------------------------- run size


def _scenario(text: str = SCENARIO, *overrides: str, tmp_path: Path) -> Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return load_scenario(path, overrides).scenario


def test_estimate_is_exact_without_random_arrivals(tmp_path: Path) -> None:
    s = _scenario(SCENARIO, "segments.lab.training.jobs_per_month=0", tmp_path=tmp_path)
    est = estimate_events(s)
    assert est.training_arrivals == 0
    assert est.events == simulate(s, 1).events


def test_estimate_tracks_the_engine_with_growth(tmp_path: Path) -> None:
    s = _scenario(
        SCENARIO,
        "segments.lab.training.jobs_per_month=400",
        "segments.lab.training.growth_per_year=3",
        "segments.lab.training.size.mean_pflop=1000",
        tmp_path=tmp_path,
    )
    est = estimate_events(s)
    # 400 jobs a month (730 h) growing 4x a year (8,760 h), over 2024's 366 days
    g = math.log(4) / 8760
    expected = 400 / 730 * math.expm1(g * 366 * 24) / g
    assert est.training_arrivals == pytest.approx(expected, rel=1e-9)
    actual = simulate(s, 1).events
    assert actual == pytest.approx(est.events, rel=0.05)


def test_estimate_of_extreme_growth_is_huge_not_an_error(tmp_path: Path) -> None:
    s = load_scenario(
        BASELINE,
        ["horizon.end=2081-12-01", "segments.startups.training.growth_per_year=100"],
    ).scenario
    est = estimate_events(s)
    assert est.total > 1e100 or math.isinf(est.total)
    with pytest.raises(UserError) as info:
        check_run_size(s, file="s.yaml")
    text = str(info.value)
    assert text.startswith("s.yaml: the run is too large: about ") and "--allow-large" in text


@pytest.mark.parametrize(
    "overrides",
    [
        ("horizon.end=2081-12-31",),  # sixty years of the baseline
        ("segments.startups.training.growth_per_year=100",),  # extreme growth
        ("replications=10000",),
    ],
    ids=["60-year-horizon", "extreme-growth", "many-replications"],
)
def test_huge_runs_are_refused_before_running(overrides: tuple[str, ...], tmp_path: Path) -> None:
    extra = tuple(x for o in overrides for x in ("--set", o))
    line = run_refused(BASELINE, tmp_path, "the run is too large: about ", extra=extra)
    assert f"expected at most {MAX_RUN_EVENTS:,}" in line and "--allow-large" in line


def test_allow_large_lifts_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    monkeypatch.setattr(sim.model.estimate, "MAX_RUN_EVENTS", 100)
    run_refused(path, tmp_path, "too large", "expected at most 100")
    out = tmp_path / "big"
    result = invoke("run", path, "--out", out, "--allow-large", "-q")
    assert result.exit_code == 0, result.output
    assert (out / "summary.json").is_file()


def test_calibrate_counts_every_evaluation(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    s = load_scenario(path).scenario
    evaluations = int(MAX_RUN_EVENTS / run_size(s, 1)) + 1
    args = [
        "calibrate", path, "-t", "usage_ratio_vs_gpu.trainium.2024=0.1",
        "-f", "economics.pue:1.1:1.3", "--replications", "1", "--seed-sets", "1",
    ]  # fmt: skip
    # the budget of the one seed set, plus the held-out evaluation
    line = clean_error(invoke(*args, "--max-evaluations", evaluations - 1), "too large")
    assert f"{evaluations:,} evaluations x 1 replication x" in line
    clean_error(invoke(*args, "--replications", 10_001), "--replications", "at most 10,000")


def test_calibrate_free_bounds_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    result = invoke(
        "calibrate", path, "-t", "usage_ratio_vs_gpu.trainium.2024=0.1",
        "-f", "economics.pue:0.5:2",
    )  # fmt: skip
    clean_error(result, "error: --free", "economics.pue", ">= 1")


# --------------------------------------------------------------------------- control characters


CONTROL = "\x1b[31m\x07\x00\u202e"
RAW = "\x1b\x07\x00\u202e"


def _no_raw_controls(text: str) -> None:
    assert not any(ch in text for ch in RAW), repr(text)


def test_error_messages_escape_control_characters() -> None:
    err = UserError(f"bad {CONTROL}", file=f"f{CONTROL}.yaml", key=f"k{CONTROL}", found=CONTROL)
    _no_raw_controls(str(err))
    assert "\\x1b[31m\\x07\\x00\\u202e" in str(err)
    assert "\n" not in str(UserError("two\nlines"))


@pytest.mark.parametrize("make", [lambda s: f"description: '{s}'", lambda s: f"'k{s}': 1"])
def test_terminal_output_escapes_control_characters(
    make: Callable[[str], str], tmp_path: Path
) -> None:
    weird = tmp_path / "we\x1bird\x07.yaml"
    text = SCENARIO.replace("description: A small scenario for the command-line tests.", "")
    weird.write_text(text + make("\\e[2J\\a\\0\\u202e").replace("'", '"') + "\n")
    for args in (
        ["validate", weird],
        ["show", weird],
        ["diff", weird, weird, "--set-b", "description=x"],
        ["run", weird, "--out", tmp_path / "o\x1b"],
    ):
        result = invoke(*args)
        _no_raw_controls(result.output)
        assert "Traceback" not in result.output


def test_sweep_output_escapes_control_characters(tmp_path: Path) -> None:
    tiny = DATA / "sweep" / "tiny.yaml"
    out = tmp_path / "sweep\x1b[2J"
    args = ["sweep", tiny, "--grid", "economics.pue=1.1", "--workers", "1", "--out", out]
    for quiet in ([], ["-q"]):
        result = invoke(*args, *quiet)
        assert result.exit_code == 0, result.output
        _no_raw_controls(result.output)
        assert "sweep\\x1b[2J" in result.output


def test_usage_errors_escape_what_was_typed() -> None:
    result = invoke("\x1b[2Jfrobnicate")
    assert result.exit_code == 2
    _no_raw_controls(result.output)
    assert "\\x1b[2Jfrobnicate" in result.output


def test_printable_keeps_ordinary_text() -> None:
    text = "économie: 1.2 'quoted' \"double\" [a] {b} -- ✓"
    assert printable(text) == text


def test_calibrate_json_holds_the_fit(tmp_path: Path) -> None:
    """A tiny real calibration, its tables on stdout as JSON (progress on stderr)."""
    import json

    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    args = [
        "calibrate", path, "-t", "provider.energy_mwh=1000",
        "-f", "economics.pue:1.1:1.6", "--replications", "1", "--seed-sets", "2",
        "--max-evaluations", "8", "--tolerance", "10", "--format", "json",
    ]  # fmt: skip
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    params = [r for r in rows if r.get("parameter") == "economics.pue"]
    targets = [r for r in rows if r.get("target") == "provider.energy_mwh"]
    assert len(params) == 1 and len(targets) == 1
    assert 1.1 <= params[0]["value"] <= 1.6 and params[0]["low"] <= params[0]["high"]
    assert targets[0]["wanted"] == 1000
    assert "seed sets x 1 replications" in result.stderr
