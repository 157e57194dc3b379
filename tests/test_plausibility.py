"""Plausibility warnings (sim/data/plausible.yaml): a value far outside its documented range
loads with a warning naming the likely slip; percentages get a hint towards the fraction."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.scenario import load_scenario
from sim.scenario.plausibility import _matches, plausibility_warnings, ranges
from tests.test_cli import invoke

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline.yaml"
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_every_range_is_documented_and_reaches_a_baseline_value() -> None:
    values = load_scenario(BASELINE).scenario.model_dump()
    for r in ranges():
        assert r.low < r.high and r.source, r.path
        assert r.slip in ("", "cents", "percent"), r.path
        found = list(_matches(values, r.path.split("."), ()))
        assert found, f"{r.path} names no value of the baseline"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_are_plausible(path: Path) -> None:
    assert plausibility_warnings(load_scenario(path)) == []


def test_cents_typed_as_dollars_is_a_warning_not_an_error(tmp_path: Path) -> None:
    text = BASELINE.read_text(encoding="utf-8")
    text = text.replace("    mode: 0.0806", "    mode: 8.06").replace(
        "    low: 0.065\n    mode: 8.06\n    high: 0.12",
        "    low: 6.5\n    mode: 8.06\n    high: 12",
    )
    path = tmp_path / "cents.yaml"
    path.write_text(text, encoding="utf-8")
    result = invoke(CliRunner(), "validate", path)
    assert result.exit_code == 0, result.output
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "electricity_usd_per_kwh" in t)
    assert f"warning: {path}:{line}: key 'economics.electricity_usd_per_kwh'" in result.stderr
    assert "cents typed as dollars? 8.06 cents is 0.0806" in result.stderr


def test_percent_typed_as_fraction() -> None:
    loaded = load_scenario(BASELINE, ["economics.host_power_overhead_fraction=3"])
    (warning,) = plausibility_warnings(loaded)
    assert "a percentage typed as a fraction? 3% is 0.03" in warning
    result = invoke(
        CliRunner(), "validate", BASELINE, "--set", "economics.discount_rate_per_year=10%"
    )
    assert result.exit_code == 2 and "10% is 0.1" in result.stderr


def test_far_but_not_a_slip_says_check_the_unit() -> None:
    loaded = load_scenario(BASELINE, ["economics.pue=2.5"])
    (warning,) = plausibility_warnings(loaded)
    assert "outside the plausible range 1 to 2; check the unit" in warning
