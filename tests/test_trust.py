"""Trust: verify passes, bad input fails cleanly through the CLI, runs are reproducible."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.experiments.verification import run_checks

ROOT = Path(__file__).resolve().parents[1]
MALFORMED = sorted((ROOT / "tests" / "malformed").glob("*.yaml"))
SMALL = ["--set", "horizon.end=2026-01-01", "--set", "replications=1"]


#: Checks that fail on the shipped baseline, each a reported finding about the model (verify
#: prints them as FAIL and exits 1), never a reason to loosen the check. They are pinned here
#: so that the day one starts to pass, this test says so.
KNOWN_FINDINGS = {
    # validation: the baseline holds no anchor commitment like Project Rainier, so customers'
    # in-house share of spend in 2025 stays near 0.08 against the 0.42 [0.32-0.53] of
    # Amazon's accelerator compute (research log V14). rainier.yaml imposes the commitment
    # and lands inside the band, but by construction (the deal and the lab's assumed size
    # against a world scaled to 8.7% of AWS set it), so the fact stays on the baseline as a
    # finding (sim/data/validation.yaml, README "Validation").
    "in-house share of AWS accelerator compute, 2025",
    # validation: the same fact without Anthropic's committed Trainium2 (the baseline's own
    # scope) is 0.17 [0.08-0.25]; the model's 0.0796 on the validation seeds falls just
    # under the band (0.075 +- 0.009 over 8 replications), so the model under-predicts the
    # other customers' 2025 move as well
    "in-house share of AWS accelerator compute without the anchor customer, 2025",
}


@pytest.fixture(scope="module")
def reduced_checks() -> list[Any]:
    return run_checks(reduced=True, baseline=ROOT / "scenarios" / "baseline.yaml")


def _is_known(check: Any) -> bool:
    return any(check.name.startswith(k) for k in KNOWN_FINDINGS)


def test_verify_reduced_passes_every_check_but_the_known_findings(
    reduced_checks: list[Any],
) -> None:
    checks = reduced_checks
    failed = [c for c in checks if not c.passed and not _is_known(c)]
    assert not failed, failed
    groups = {c.group for c in checks}
    assert {
        "M/M/c vs Erlang C",
        "gang vs M/M/(c/k)",
        "Little's law",
        "conservation",
        "static TCO",
        "calibration",
        "catalog ratios",
        "validation",
        "program value",
    } <= groups
    program = [c for c in checks if c.group == "program value"]
    assert len(program) == 8 and all(c.kind == "verification" for c in program)
    kinds = {c.kind for c in checks}
    assert kinds == {"verification", "calibration", "statics", "validation"}
    # the calibration check runs on held-out seeds, never the fitting ones
    assert all("held-out" in c.note for c in checks if c.kind == "calibration")


def test_known_findings_still_fail(reduced_checks: list[Any]) -> None:
    known = [c for c in reduced_checks if _is_known(c)]
    assert {k for k in KNOWN_FINDINGS if any(c.name.startswith(k) for c in known)} == (
        KNOWN_FINDINGS
    )
    now_passing = [c.name for c in known if c.passed]
    assert not now_passing, f"now passing, drop from KNOWN_FINDINGS: {now_passing}"


def test_verify_without_its_baseline_fails_the_calibration_check(tmp_path: Path) -> None:
    from sim.experiments.verification import calibration_checks

    (check,) = calibration_checks(reduced=True, baseline=tmp_path / "missing.yaml")
    assert check.group == "calibration" and not check.passed
    assert "--baseline" in check.name


@pytest.mark.parametrize("path", MALFORMED, ids=[p.stem for p in MALFORMED])
def test_malformed_scenario_fails_cleanly_through_run(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    text = result.output
    assert "Traceback" not in text
    assert text.startswith("error: ") and text.count("\n") <= 2, text
    assert not out.exists(), "a failed run leaves no folder behind"
    assert not any(tmp_path.iterdir()), "nor anything else"


@pytest.mark.parametrize(
    "setting",
    [
        "economics.pue",
        "economics.pue=",
        "economics.pue=abc",
        "economics.peu=1.2",
        "provider.pools.h100.initial_chips=-1",
        "horizon.end=not-a-date",
        "=3",
    ],
)
def test_broken_set_fails_cleanly(setting: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", str(ROOT / "scenarios" / "baseline.yaml"), "--set", setting, "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: --set") and "Traceback" not in result.output
    assert not out.exists()


def test_same_seed_gives_byte_identical_run_folders(tmp_path: Path) -> None:
    scenario = str(ROOT / "scenarios" / "baseline.yaml")
    for name in ("a", "b"):
        result = CliRunner().invoke(
            app, ["run", scenario, *SMALL, "--seed", "7", "--out", str(tmp_path / name), "-q"]
        )
        assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "a").iterdir() if p.name != "manifest.json")
    assert "summary.json" in files and "timeseries.parquet" in files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_run_writes_nothing_outside_its_folder(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "sim",
        "run",
        str(ROOT / "scenarios" / "baseline.yaml"),
        *SMALL,
        "--out",
        "out",
        "-q",
    ]
    subprocess.run(cmd, cwd=work, env=env, check=True, capture_output=True, timeout=300)
    assert sorted(p.name for p in work.iterdir()) == ["out"]


def test_python_tags_cannot_run_code(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    bad = tmp_path / "evil.yaml"
    bad.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert not marker.exists()


# --------------------------------------------------------------------------- safe outputs

TINY = ROOT / "tests" / "data" / "sweep" / "tiny.yaml"
BASELINE = str(ROOT / "scenarios" / "baseline.yaml")
CALIBRATE = [
    "--target",
    "usage_ratio_vs_gpu.trainium.2023=0.005",
    "--free",
    "adoption.family_preference.trainium",
    "--max-evaluations",
    "1",
]
#: Every command that writes, with LINK where it names its output (a file or a folder).
WRITERS: dict[str, tuple[str, list[str]]] = {
    "run --out": ("folder", ["run", BASELINE, *SMALL, "--out", "LINK"]),
    "sweep --out": (
        "folder",
        [
            "sweep",
            str(TINY),
            "--grid",
            "economics.pue=1.1,1.2",
            "-r",
            "1",
            "-w",
            "1",
            "--out",
            "LINK",
        ],
    ),
    "sensitivity --out": (
        "folder",
        [
            "sensitivity",
            str(TINY),
            "--metric",
            "provider.tco_usd",
            "--n",
            "2",
            "-w",
            "1",
            "--out",
            "LINK",
        ],
    ),
    "plot": ("results", ["plot", "LINK"]),
    "report": ("results", ["report", "LINK"]),
    "schema --out": ("file", ["schema", "--out", "LINK"]),
    "calibrate --out": ("file", ["calibrate", BASELINE, *CALIBRATE, "--out", "LINK"]),
    "calibrate --in-place": ("scenario", ["calibrate", "LINK", *CALIBRATE, "--in-place"]),
    "verify --json": ("file", ["verify", "--reduced", "--json", "LINK"]),
}


@pytest.mark.parametrize("command", list(WRITERS))
def test_no_command_writes_through_a_link(command: str, tmp_path: Path) -> None:
    kind, args = WRITERS[command]
    target = tmp_path / "target"
    if kind == "file":
        target.write_text("keep")
    elif kind == "scenario":
        target = tmp_path / "target.yaml"
        target.write_text(f"extends: {BASELINE}\nname: linked\n")
    else:
        target.mkdir()
        if kind == "results":  # a sensitivity folder, which plot and report draw
            (target / "sensitivity.json").write_text(
                '{"metric": "m", "tornado": [{"parameter": "p", "low_value": 0, '
                '"high_value": 1, "metric_low": 1, "metric_high": 2}]}'
            )
    before = {p.name: p.read_bytes() for p in [target] if p.is_file()} or {
        p.name: p.read_bytes() for p in target.iterdir()
    }
    link = tmp_path / ("link.yaml" if kind == "scenario" else "link")
    link.symlink_to(target)
    result = CliRunner().invoke(app, [str(link) if a == "LINK" else a for a in args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output
    assert f"{link} is a symbolic link; xpusim does not write through links" in result.output
    assert "Traceback" not in result.output
    after = {p.name: p.read_bytes() for p in [target] if p.is_file()} or {
        p.name: p.read_bytes() for p in target.iterdir()
    }
    assert after == before, "the link's target is untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, link.name])


def test_expected_outputs_are_never_rewritten_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The goldens and image baselines change only by hand (tests.regenerate), never in CI."""
    from tests import regenerate

    goldens = sorted((ROOT / "tests" / "goldens").glob("*.json"))
    before = {p: p.read_bytes() for p in goldens}
    monkeypatch.setenv("CI", "1")
    assert regenerate.main(["goldens"]) == 2
    assert regenerate.main(["images"]) == 2
    assert {p: p.read_bytes() for p in goldens} == before
    monkeypatch.delenv("CI")
    assert regenerate.main(["everything"]) == 2  # usage error, nothing written
    assert {p: p.read_bytes() for p in goldens} == before


@pytest.mark.parametrize("fmt", ["json", "csv", "md"])
def test_verify_formats(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import csv
    import io
    import json

    import sim.experiments.verification
    from sim.experiments.checks import Check

    checks = [
        Check("Little's law", "L = lambda W", 2.0, 2.0, 0.01, True),
        Check(
            "comparative statics: price",
            "x0.7 raises usage",
            0.5,
            0.0,
            0.0,
            False,
            "+0.5 +- 0.1",
            "statics",
        ),
    ]
    # the command imports the checks when it runs (lazy imports of `xpusim run`)
    monkeypatch.setattr(sim.experiments.verification, "run_checks", lambda **_: checks)
    result = CliRunner().invoke(app, ["verify", "--format", fmt])
    assert result.exit_code == 1  # a failed check still fails the command
    if fmt == "json":
        rows = json.loads(result.stdout)  # stdout holds only the data
        assert [(r["kind"], r["check"], r["passed"]) for r in rows] == [
            ("verification", "L = lambda W", True),
            ("statics", "x0.7 raises usage", False),
        ]
        assert rows[1]["note"] == "+0.5 +- 0.1" and rows[0]["simulated"] == 2.0
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert [r["check"] for r in rows] == ["L = lambda W", "x0.7 raises usage"]
    else:
        assert "| Little's law | L = lambda W |" in result.stdout.replace("\\", "")
        assert "1 passed, 1 failed" in result.stdout
