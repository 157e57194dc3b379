"""``xpusim compare``: differences of runs with paired or unpaired 95% intervals, checked
against scipy.stats, in a 100-column terminal and as CSV, JSON and Markdown."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from scipy import stats
from typer.testing import CliRunner

import sim.api as xs
from sim.experiments.compare import compare_metric, same_seeds
from sim.views.compare import comparison_tables
from sim.views.headline import headline_rows
from sim.views.numbers import HEADLINE, fmt_value
from sim.views.tables import render
from tests.test_cli import SCENARIO, _fake_runner, invoke

BASE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "baseline_summary.json").read_text(encoding="utf-8")
)
KEY = "provider.tco_usd"


def variant(shifts: list[float], seeds: list[int] | None = None) -> dict[str, Any]:
    """The base summary with provider.tco_usd moved by ``shifts[i]`` in replication i (the
    mean moved by their mean), optionally under other seeds."""
    out = copy.deepcopy(BASE)
    for rep, shift in zip(out["replications"], shifts, strict=True):
        rep["provider"]["tco_usd"] += shift
    out["provider"]["tco_usd"] += sum(shifts) / len(shifts)
    if seeds is not None:
        for rep, seed in zip(out["replications"], seeds, strict=True):
            rep["seed"] = seed
    return out


def test_a_constant_shift_under_common_seeds_is_exact() -> None:
    n = len(BASE["replications"])
    d = compare_metric(BASE, variant([1e9] * n), KEY)
    assert d.pairing == "paired" and d.pairs == n
    assert d.absolute == pytest.approx(1e9)
    assert d.half_width == pytest.approx(0.0, abs=1e-3)  # no spread in the differences
    assert d.relative == pytest.approx(1e9 / BASE["provider"]["tco_usd"])
    assert d.significant is True


def test_paired_interval_is_scipys_t_interval_of_the_differences() -> None:
    shifts = [1e8 * (i - 3) for i in range(len(BASE["replications"]))]
    d = compare_metric(BASE, variant(shifts), KEY)
    sem = stats.sem(shifts)
    expected = stats.t.ppf(0.975, len(shifts) - 1) * sem
    assert d.pairing == "paired"
    assert d.half_width == pytest.approx(expected, rel=1e-9)
    assert d.absolute == pytest.approx(sum(shifts) / len(shifts), abs=1e-3)


def test_other_seeds_give_an_unpaired_interval() -> None:
    n = len(BASE["replications"])
    other = variant([0.0] * n, seeds=[1000 + i for i in range(n)])
    assert not same_seeds([BASE, other]) and same_seeds([BASE, BASE])
    d = compare_metric(BASE, other, KEY)
    h = BASE["interval95"]["provider"]["tco_usd"]
    assert d.pairing == "unpaired" and d.half_width == pytest.approx(math.hypot(h, h))
    assert d.absolute == 0.0 and d.significant is False


def test_text_and_missing_values_have_no_difference() -> None:
    d = compare_metric(BASE, BASE, "inhouse_program.reference_gpu")
    assert (d.absolute, d.half_width, d.pairing) == (None, None, "none")


def printed(named: list[tuple[str, dict[str, Any]]], fmt: str = "table") -> str:
    out = io.StringIO()
    console = Console(file=out, width=100, no_color=True, color_system=None, soft_wrap=False)
    render(comparison_tables(named), fmt, console)
    return out.getvalue()


def test_table_fits_100_columns_with_whole_numbers() -> None:
    other = variant([1e9] * len(BASE["replications"]))
    lines = printed([("base", BASE), ("variant", other)]).splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert "Compared with base" in lines[0] and "means over 8 replications" in lines[0]
    assert any("paired over the 8 seeds" in line for line in lines)
    tco = next(line for line in lines if "Provider TCO" in line)
    cells = [c.strip() for c in tco.split("│")]
    assert cells[1:4] == [
        fmt_value(BASE["provider"]["tco_usd"], "USD", HEADLINE),
        fmt_value(other["provider"]["tco_usd"], "USD", HEADLINE),
        "$1B",
    ]
    assert cells[5].startswith("+") and cells[5].endswith("%")
    for r in headline_rows(BASE):  # every metric row on one line
        assert any(f"{r.label} " in line for line in lines), r.key


def test_machine_formats_name_the_runs() -> None:
    other = variant([1e9] * len(BASE["replications"]))
    records = json.loads(printed([("base", BASE), ("v", other)], "json"))
    tco = next(r for r in records if r["key"] == KEY)
    assert tco["value_base"] == BASE["provider"]["tco_usd"]
    assert tco["difference_v"] == pytest.approx(1e9) and tco["interval_v"] == "paired"
    assert tco["label"] == "Provider TCO"
    rows = list(csv.DictReader(io.StringIO(printed([("base", BASE), ("v", other)], "csv"))))
    assert [r["key"] for r in rows] == [r["key"] for r in records]
    assert "| metric | base | v | difference | ± 95% | relative |" in printed(
        [("base", BASE), ("v", other)], "md"
    )


def _folder(path: Path, summary: dict[str, Any]) -> Path:
    path.mkdir()
    (path / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return path


def test_cli_compares_folders_and_three_runs(tmp_path: Path) -> None:
    runner = CliRunner()
    a = _folder(tmp_path / "a", BASE)
    b = _folder(tmp_path / "b", variant([1e9] * len(BASE["replications"])))
    c = _folder(tmp_path / "c", variant([-1e9] * len(BASE["replications"])))
    result = invoke(runner, "compare", a, b, c, "--format", "json")
    assert result.exit_code == 0, result.output
    tco = next(r for r in json.loads(result.stdout) if r["key"] == KEY)
    assert tco["difference_b"] == pytest.approx(1e9)
    assert tco["difference_c"] == pytest.approx(-1e9)
    table = invoke(runner, "compare", a, b, c)
    assert "b - a" in table.stdout and "c - a" in table.stdout


def test_cli_runs_scenario_files_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, int]] = []
    _fake_runner(monkeypatch, calls)
    monkeypatch.chdir(tmp_path)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    result = invoke(CliRunner(), "compare", scenario, scenario, "--seed", "11")
    assert result.exit_code == 0, result.output
    assert [seed for _, seed in calls] == [11, 11]  # both runs under the same seed
    assert "s (2)" in result.stdout and "Provider TCO" in result.stdout


@pytest.mark.parametrize("args", [["one"], ["nope", "nope2"]])
def test_cli_bad_arguments_are_one_clear_error(tmp_path: Path, args: list[str]) -> None:
    if args == ["one"]:
        args = [str(_folder(tmp_path / "one", BASE))]
    result = invoke(CliRunner(), "compare", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_usage_measures_are_stored_per_replication_and_pair_by_seed() -> None:
    """The in-house shares (the validation facts' metrics) pair under common seeds: each
    replication stores them, their mean is the summary's, and a lever's difference gets the
    paired interval of the per-seed differences."""
    sets = {"horizon.end": "2026-01-01", "replications": 3, "outputs.counterfactual": False}
    key = "usage.inhouse_share.chip_hours.2023"
    baseline = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    base = xs.run(xs.load(baseline, sets), seed=11, workers=1).summary
    lever = xs.run(
        xs.load(baseline, {**sets, "adoption.efficiency_floor": 1.0}),
        seed=11,
        workers=1,
    ).summary
    per_rep = [r["usage"]["inhouse_share"]["chip_hours"]["2023"] for r in base["replications"]]
    assert len(per_rep) == 3 and len(set(per_rep)) == 3  # each replication its own value
    assert np.mean(per_rep) == pytest.approx(base["usage"]["inhouse_share"]["chip_hours"]["2023"])
    d = compare_metric(base, lever, key)
    assert d.pairing == "paired" and d.pairs == 3
    diffs = [
        b["usage"]["inhouse_share"]["chip_hours"]["2023"] - a
        for a, b in zip(per_rep, lever["replications"], strict=True)
    ]
    assert d.half_width == pytest.approx(stats.t.ppf(0.975, 2) * stats.sem(diffs))
    assert d.absolute is not None and d.absolute > 0  # no efficiency penalty: more in-house use


def _first(summary: dict[str, Any], n: int) -> dict[str, Any]:
    """``summary`` as a run of its first ``n`` replications (same root seed, fewer reps)."""
    out = copy.deepcopy(summary)
    out["replications"] = out["replications"][:n]
    out["replication_count"] = n
    return out


def test_runs_of_other_replication_counts_pair_over_the_seeds_they_share() -> None:
    """A run of 8 replications and one of 2 from the same root seed share 2 seeds: the
    difference and its interval are the paired ones over those 2, and the caption says
    how many replications of each run were left out."""
    shifts = [3e8, 5e8] + [-9e9] * 6  # the unpaired replications must not count
    other = _first(variant(shifts), 2)
    d = compare_metric(BASE, other, KEY)
    assert d.pairing == "paired" and d.pairs == 2
    assert d.absolute == pytest.approx(4e8, abs=1e-3)
    assert d.half_width == pytest.approx(stats.t.ppf(0.975, 1) * stats.sem([3e8, 5e8]))
    base2 = np.mean([r["provider"]["tco_usd"] for r in BASE["replications"][:2]])
    assert d.reference == pytest.approx(base2) and d.relative == pytest.approx(4e8 / base2)
    caption = " ".join(printed([("base", BASE), ("v", other)]).split())
    assert "paired over the 2 seeds the runs share" in caption
    assert "6 of base's 8 replications left out" in caption and "do not share" not in caption
    # the other way round: the base is the shorter run
    back = " ".join(printed([("v", other), ("base", BASE)]).split())
    assert "6 of base's 8 replications left out" in back
    assert compare_metric(other, BASE, KEY).absolute == pytest.approx(-4e8, abs=1e-3)


def test_the_caption_says_why_an_interval_is_unpaired() -> None:
    n = len(BASE["replications"])
    one = variant(
        [0.0] * n, seeds=[BASE["replications"][0]["seed"]] + [1000 + i for i in range(1, n)]
    )
    d = compare_metric(BASE, one, KEY)
    assert d.pairing == "unpaired"
    caption = " ".join(printed([("base", BASE), ("v", one)]).split())
    assert "unpaired (the runs share 1 seed; pairing needs 2" in caption
    none = variant([0.0] * n, seeds=[1000 + i for i in range(n)])
    caption = " ".join(printed([("base", BASE), ("v", none)]).split())
    assert "unpaired (the runs do not share seeds" in caption and "paired over" not in caption
    full = " ".join(printed([("base", BASE), ("v", variant([1e9] * n))]).split())
    assert "paired over the 8 seeds" in full and "left out" not in full


def test_three_runs_each_get_their_own_pairing_note() -> None:
    n = len(BASE["replications"])
    two = _first(variant([1e9] * n), 2)
    other = variant([0.0] * n, seeds=[1000 + i for i in range(n)])
    caption = " ".join(printed([("a", BASE), ("b", two), ("c", other)]).split())
    assert "b: paired over the 2 seeds" in caption and "6 of a's 8 replications" in caption
    assert "c: unpaired (the runs do not share seeds" in caption


def test_a_metric_some_replications_lack_pairs_over_fewer_and_says_so() -> None:
    """A metric missing from some replications of one run pairs over the seeds where both
    stored it: the caption says so, and the csv carries each metric's pairs and the base
    mean its relative difference is taken against."""
    n = len(BASE["replications"])
    other = variant([1e9] * n)
    del other["replications"][-1]["provider"]["tco_usd"]
    d = compare_metric(BASE, other, KEY)
    assert d.pairing == "paired" and d.pairs == n - 1
    caption = " ".join(printed([("base", BASE), ("v", other)]).split())
    assert f"paired over the {n} seeds" in caption and "1 of them over fewer" in caption
    rows = list(csv.DictReader(io.StringIO(printed([("base", BASE), ("v", other)], "csv"))))
    row = next(r for r in rows if r["key"] == KEY)
    assert int(float(row["pairs_v"])) == n - 1
    assert float(row["relative_to_v"]) == pytest.approx(d.reference)
    full = next(
        r
        for r in csv.DictReader(
            io.StringIO(printed([("base", BASE), ("v", variant([1e9] * n))], "csv"))
        )
        if r["key"] == KEY
    )
    assert int(float(full["pairs_v"])) == n and "fewer" not in printed(
        [("base", BASE), ("v", variant([1e9] * n))]
    )
