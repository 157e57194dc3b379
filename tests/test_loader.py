"""Tests for the scenario package (sim.scenario) and uncertain numbers (its distributions)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.experiments.design import sample_values
from sim.model.schema import Catalog, Scenario
from sim.scenario import (
    LoadedScenario,
    diff_scenarios,
    dump_yaml,
    load_catalog,
    load_scenario,
    scenario_json_schema,
    substitute,
)
from sim.scenario.distributions import (
    Beta,
    Choice,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    parse_distribution,
)
from sim.scenario.fields import is_integer_path
from sim.scenario.layers import shipped_catalog_files

DATA = Path(__file__).parent / "data"
CATALOG = (DATA / "chips.yaml", DATA / "stacks.yaml")
REPO = Path(__file__).parent.parent
BASELINE = REPO / "scenarios" / "baseline.yaml"


def load(name: str, *overrides: str) -> LoadedScenario:
    return load_scenario(DATA / name, overrides, catalog_files=CATALOG)


def _line_of(path: Path, text: str) -> int:
    """1-based line of the first line of ``path`` containing ``text``."""
    for i, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return i
    raise AssertionError(f"{text!r} not in {path}")


# --------------------------------------------------------------------------- layers


def test_minimal_loads_with_the_test_catalog() -> None:
    loaded = load("minimal.yaml")
    s = loaded.scenario
    assert isinstance(s, Scenario)
    assert s.name == "minimal"
    assert set(s.catalog.chips) == {"h100", "trn2"}
    assert s.catalog.chips["h100"].peak_bf16_tflops == 989.0
    assert list(s.catalog.chips["h100"].workloads) == ["training", "inference"]
    assert s.provider.pools["h100"].deliveries[0].date == dt.date(2025, 6, 1)
    assert loaded.files == (*CATALOG, DATA / "minimal.yaml")
    assert loaded.path == DATA / "minimal.yaml"
    assert loaded.distributions == {}


def test_precedence_set_over_file_over_parent_over_catalog() -> None:
    loaded = load("child.yaml", "economics.pue=1.5")
    s = loaded.scenario
    assert s.economics.pue == 1.5  # --set beats child (1.4), parent (1.3), minimal (1.2)
    assert s.economics.electricity_usd_per_kwh == 0.09  # parent beats minimal (0.08)
    assert s.economics.engineer_usd_per_month == 25000  # child figure beats minimal
    assert s.economics.discount_rate_per_year == 0.08  # only in minimal
    assert s.catalog.chips["h100"].cloud_price_usd_per_chip_hour == 3.5  # parent over catalog
    assert s.catalog.chips["h100"].busy_power_w == 700  # catalog
    assert s.name == "child"
    assert "extends" not in loaded.data
    # lists replace: the child's two deliveries, not minimal's one plus two
    assert [d.chips for d in s.provider.pools["h100"].deliveries] == [50, 50]


def test_extends_chain_lists_every_file_base_first() -> None:
    loaded = load("child.yaml")
    assert loaded.files == (
        *CATALOG,
        DATA / "minimal.yaml",
        DATA / "parent.yaml",
        DATA / "child.yaml",
    )


def test_marks_follow_the_layer_that_supplied_each_value() -> None:
    loaded = load("child.yaml", "economics.pue=1.5")
    m = loaded.marks
    assert m[("economics", "pue")].file == "--set"
    assert m[("economics", "electricity_usd_per_kwh")].file == str(DATA / "parent.yaml")
    assert m[("economics", "electricity_usd_per_kwh")].line == _line_of(
        DATA / "parent.yaml", "electricity_usd_per_kwh"
    )
    assert m[("economics", "discount_rate_per_year")].file == str(DATA / "minimal.yaml")
    assert m[("catalog", "chips", "h100", "busy_power_w")].file == str(DATA / "chips.yaml")
    delivery = m[("provider", "pools", "h100", "deliveries", 1, "chips")]
    assert (delivery.file, delivery.line) == (str(DATA / "child.yaml"), 19)


def test_errors_point_into_the_layer_that_gave_the_value() -> None:
    with pytest.raises(ScenarioError) as info:
        load("child.yaml", "economics.pue=0.5")
    assert info.value.file == "--set" and info.value.key == "economics.pue"
    # a value from the parent file is reported at the parent's line
    with pytest.raises(ScenarioError) as info:
        load("child.yaml", "economics.pue=1.2", "catalog.chips.h100.busy_power_w=50")
    assert info.value.key == "catalog.chips.h100.idle_power_w"
    assert info.value.file is not None and info.value.file.endswith("chips.yaml")


# --------------------------------------------------------------------------- unset


def _child(tmp_path: Path, body: str, name: str = "child.yaml") -> Path:
    """A scenario file in tmp_path extending a copy of tests/data/minimal.yaml."""
    (tmp_path / "minimal.yaml").write_text((DATA / "minimal.yaml").read_text())
    path = tmp_path / name
    path.write_text(body)
    return path


def test_unset_removes_an_inherited_pool(tmp_path: Path) -> None:
    path = _child(
        tmp_path,
        "extends: minimal.yaml\n"
        "name: no-trn2\n"
        "unset:\n"
        "  - provider.pools.trn2\n"
        "  - segments.labs.platforms.training.trn2\n"
        "segments:\n"
        "  labs:\n"
        "    platforms:\n"
        "      training: {h100: 1.0}\n",
    )
    loaded = load_scenario(path, catalog_files=CATALOG)
    s = loaded.scenario
    assert set(s.provider.pools) == {"h100"}
    assert s.segments["labs"].platforms["training"] == {"h100": 1.0}
    assert "unset" not in loaded.data
    assert not [p for p in loaded.marks if p[:3] == ("provider", "pools", "trn2")]
    assert not [p for p in loaded.marks if p[:1] == ("unset",)]
    # the rest of the parent survives, and the catalog still has the chip
    assert s.provider.pools["h100"].initial_chips == 1000
    assert "trn2" in s.catalog.chips


def test_without_unset_a_child_cannot_remove_a_pool(tmp_path: Path) -> None:
    path = _child(
        tmp_path,
        "extends: minimal.yaml\n"
        "name: merged\n"
        "segments: {labs: {platforms: {training: {h100: 1.0}}}}\n",
    )
    with pytest.raises(ScenarioError, match=r"shares sum to 1\.2"):
        load_scenario(path, catalog_files=CATALOG)


def test_unset_removes_a_segment_and_the_file_may_define_it_anew(tmp_path: Path) -> None:
    (tmp_path / "two.yaml").write_text(
        "extends: minimal.yaml\n"
        "name: two\n"
        "segments:\n"
        "  extra:\n"
        "    inference: {tokens_per_s: 1000.0}\n"
        "    platforms: {inference: {h100: 1.0}}\n"
    )
    path = _child(
        tmp_path,
        "extends: two.yaml\n"
        "name: fresh\n"
        "unset: [segments.extra, segments.labs]\n"
        "segments:\n"
        "  labs:\n"
        "    inference: {tokens_per_s: 5.0}\n"
        "    platforms: {inference: {trn2: 1.0}}\n",
    )
    s = load_scenario(path, catalog_files=CATALOG).scenario
    assert list(s.segments) == ["labs"]
    labs = s.segments["labs"]
    assert labs.training is None  # defined anew, not merged onto the removed one
    assert labs.platforms == {"inference": {"trn2": 1.0}}
    assert labs.inference is not None and labs.inference.tokens_per_s == 5.0


def test_unset_applies_to_what_a_file_inherits_only(tmp_path: Path) -> None:
    # minimal.yaml itself defines economics: its own unset (applied first) cannot see it
    path = tmp_path / "self.yaml"
    body = (DATA / "minimal.yaml").read_text() + "unset: [economics.pue]\n"
    path.write_text(body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, catalog_files=CATALOG)
    e = info.value
    assert "no key 'economics' at the top level" in e.message
    assert e.file == str(path) and e.line == len(body.splitlines())


def test_set_overrides_come_after_unset(tmp_path: Path) -> None:
    path = _child(
        tmp_path,
        "extends: minimal.yaml\nname: c\nunset: [vendors.nvidia.lead_time_weeks]\n",
    )
    with pytest.raises(ScenarioError, match="missing required key 'lead_time_weeks'"):
        load_scenario(path, catalog_files=CATALOG)
    s = load_scenario(path, ["vendors.nvidia.lead_time_weeks=12"], catalog_files=CATALOG)
    assert s.scenario.vendors["nvidia"].lead_time_weeks == 12


@pytest.mark.parametrize(
    ("entry", "message", "hint"),
    [
        ("provider.pools.trn3", "no key 'trn3' under 'provider.pools'", "'trn2'"),
        ("segments.lab", "no key 'lab' under 'segments'", "'labs'"),
        ("economics.pue.value", "'economics.pue' is a single value", None),
        ("provider.pools.h100.deliveries.0", "'provider.pools.h100.deliveries' is a list", None),
    ],
)
def test_unset_of_a_missing_path_is_located(
    tmp_path: Path, entry: str, message: str, hint: str | None
) -> None:
    path = _child(
        tmp_path,
        f"extends: minimal.yaml\nname: bad\nunset:\n  - seed\n  - {entry}\n",
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, catalog_files=CATALOG)
    e = info.value
    assert message in e.message
    assert (e.file, e.line, e.key) == (str(path), 5, "unset")
    assert e.found == repr(entry)
    if hint is not None:
        assert e.hint is not None and hint in e.hint
    assert f"{path}:5" in str(e)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("provider.pools.trn2", "'unset' lists the inherited keys"),
        ("{a: 1}", "'unset' lists the inherited keys"),
        ("[provider..trn2]", "must be a dotted key path"),
        ("[3]", "must be a dotted key path"),
    ],
)
def test_unset_must_be_a_list_of_paths(tmp_path: Path, value: str, message: str) -> None:
    path = _child(tmp_path, f"extends: minimal.yaml\nname: bad\nunset: {value}\n")
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(path, catalog_files=CATALOG)
    assert (info.value.file, info.value.line) == (str(path), 3)


def test_unset_matches_keys_that_contain_dots(tmp_path: Path) -> None:
    (tmp_path / "cal.yaml").write_text(
        "extends: minimal.yaml\n"
        "name: cal\n"
        "calibration:\n"
        "  targets: {usage_ratio_vs_gpu.trn.2025: 0.5, other: 1.0}\n"
    )
    path = _child(
        tmp_path,
        "extends: cal.yaml\nname: c\nunset: [calibration.targets.usage_ratio_vs_gpu.trn.2025]\n",
    )
    s = load_scenario(path, catalog_files=CATALOG).scenario
    assert s.calibration is not None and s.calibration.targets == {"other": 1.0}


def test_unset_leaves_the_parent_file_loadable_unchanged(tmp_path: Path) -> None:
    path = _child(tmp_path, "extends: minimal.yaml\nname: c\nunset: [economics.pue]\n")
    with pytest.raises(ScenarioError):
        load_scenario(path, catalog_files=CATALOG)
    parent = load_scenario(tmp_path / "minimal.yaml", catalog_files=CATALOG)
    assert parent.scenario.economics.pue == 1.2


# --------------------------------------------------------------------------- figures


def test_catalog_figures_become_values_with_provenance() -> None:
    loaded = load("minimal.yaml")
    p = loaded.provenance["catalog.chips.h100.peak_bf16_tflops"]
    assert p == {
        "source": "NVIDIA H100 datasheet",
        "date": "2022",
        "kind": "measured",
        "note": "",
        "unit": "tflops",
        "file": str(DATA / "chips.yaml"),
        "line": _line_of(DATA / "chips.yaml", "peak_bf16_tflops"),
    }
    assert loaded.provenance["catalog.chips.h100.cloud_price_usd_per_chip_hour"]["date"] == (
        "2025-01-15"
    )  # a YAML date is recorded as YYYY-MM-DD text
    assert loaded.data["catalog"]["chips"]["h100"]["peak_bf16_tflops"] == 989
    # the scenario records its sources (without file and line) for the run folder
    src = loaded.scenario.sources["catalog.chips.h100.peak_bf16_tflops"]
    assert src == {k: v for k, v in p.items() if k not in ("file", "line")}


def test_overriding_a_figure_drops_its_provenance() -> None:
    loaded = load("child.yaml")
    assert "catalog.chips.h100.cloud_price_usd_per_chip_hour" not in loaded.provenance
    assert "catalog.chips.h100.cloud_price_usd_per_chip_hour" not in loaded.scenario.sources
    assert "catalog.chips.h100.busy_power_w" in loaded.provenance
    eng = loaded.provenance["economics.engineer_usd_per_month"]
    assert eng["source"] == "test salary survey" and eng["date"] == "2025-03-01"
    assert eng["file"] == str(DATA / "child.yaml") and eng["line"] == 6


def test_figure_given_by_set_records_provenance() -> None:
    loaded = load("minimal.yaml", "economics.pue={value: 1.25, source: audit, kind: measured}")
    assert loaded.scenario.economics.pue == 1.25
    assert loaded.provenance["economics.pue"]["source"] == "audit"
    assert loaded.provenance["economics.pue"]["file"] == "--set"


# --------------------------------------------------------------------------- --set


@pytest.mark.parametrize(
    ("override", "path", "expected"),
    [
        ("seed=5", "seed", 5),
        ("economics.pue=1.35", "economics.pue", 1.35),
        ("outputs.jobs_table=true", "outputs.jobs_table", True),
        ("horizon.end=2025-12-01", "horizon.end", dt.date(2025, 12, 1)),
        (
            "segments.labs.training.requires_features=[fsdp]",
            "segments.labs.training.requires_features",
            ["fsdp"],
        ),
        ("economics={pue: 1.4}", "economics.pue", 1.4),
        ("economics={pue: 1.4}", "economics.depreciation_years", 5),  # mappings merge
        (
            "provider.pools.h100.deliveries.0.chips=7",
            "provider.pools.h100.deliveries.0.chips",
            7,
        ),
        (
            "vendors.amd={gross_margin_fraction: 0.5, lead_time_weeks: 12}",
            "vendors.amd.lead_time_weeks",
            12,
        ),
        ("segments.labs.inference.tokens_per_s=2e6", "segments.labs.inference.tokens_per_s", 2e6),
        (" economics.pue = 1.3", "economics.pue", 1.3),
        ("description=a=b", "description", "a=b"),
    ],
)
def test_set_values(override: str, path: str, expected: Any) -> None:
    cur: Any = load("minimal.yaml", override).scenario.model_dump()
    for part in path.split("."):
        cur = cur[int(part)] if part.isdigit() else cur[part]
    assert cur == (list(expected) if isinstance(expected, tuple) else expected)


def test_set_creates_new_dict_keys_one_at_a_time() -> None:
    s = load(
        "minimal.yaml", "vendors.amd.gross_margin_fraction=0.5", "vendors.amd.lead_time_weeks=10"
    ).scenario
    assert s.vendors["amd"].lead_time_weeks == 10


def test_later_set_wins() -> None:
    assert (
        load("minimal.yaml", "economics.pue=1.3", "economics.pue=1.6").scenario.economics.pue == 1.6
    )


def test_set_does_not_leak_between_loads() -> None:
    load("minimal.yaml", "provider.pools.h100.deliveries.0.chips=7")
    assert load("minimal.yaml").scenario.provider.pools["h100"].deliveries[0].chips == 100


# --------------------------------------------------------------------------- distributions


def test_distributions_load_at_their_central_values() -> None:
    loaded = load("uncertain.yaml")
    s = loaded.scenario
    assert s.economics.pue == 1.2
    assert s.economics.electricity_usd_per_kwh == pytest.approx(0.08)
    assert s.economics.discount_rate_per_year == 0.08
    assert s.economics.engineer_usd_per_month == 20000
    assert s.economics.maintenance_fraction_per_year == pytest.approx(0.1 * 2 / 8)
    assert s.scheduling.policy == "backfill"  # the most likely choice
    gang = s.segments["labs"].training
    assert gang is not None and gang.gang_chips == round(64.5) and isinstance(gang.gang_chips, int)
    assert set(loaded.distributions) == {
        "economics.pue",
        "economics.electricity_usd_per_kwh",
        "economics.discount_rate_per_year",
        "economics.engineer_usd_per_month",
        "economics.maintenance_fraction_per_year",
        "scheduling.policy",
        "segments.labs.training.gang_chips",
    }
    pue = loaded.distributions["economics.pue"]
    assert isinstance(pue, Triangular) and pue.source == "test range"


def test_distribution_via_set() -> None:
    loaded = load("minimal.yaml", "economics.pue={dist: uniform, low: 1.1, high: 1.3}")
    assert loaded.scenario.economics.pue == pytest.approx(1.2)
    assert isinstance(loaded.distributions["economics.pue"], Uniform)


DISTS = [
    Triangular(dist="triangular", low=1.0, mode=2.0, high=5.0),
    Triangular(dist="triangular", low=1.0, mode=1.0, high=2.0),
    Uniform(dist="uniform", low=-1.0, high=3.0),
    Normal(dist="normal", mean=10.0, sd=2.0),
    Normal(dist="normal", mean=0.1, sd=0.05, low=0.0),
    Normal(dist="normal", mean=0.5, sd=1.0, low=0.0, high=1.0),
    LogNormal(dist="lognormal", median=100.0, sigma=0.5),
    Beta(dist="beta", alpha=2.0, beta=5.0, low=10.0, high=20.0),
    Choice(dist="choice", values=[3, 1, 2]),
    Choice(dist="choice", values=[1, 2, 4], weights=[0.2, 0.5, 0.3]),
]


@pytest.mark.parametrize("d", DISTS, ids=lambda d: f"{d.dist}")
def test_ppf_is_monotone_and_within_bounds(d: Any) -> None:
    u = np.linspace(0.0, 1.0, 201)
    x = d.ppf(u)
    assert x.shape == u.shape
    if d.dist == "choice" and d.weights is None:
        return  # values in the order given, not sorted
    assert np.all(np.diff(x) >= 0)
    lo, hi = d.bounds()
    inner = d.ppf(np.linspace(0.05, 0.95, 19))
    assert lo <= inner.min() + 1e-9 and inner.max() <= hi + 1e-9


def test_central_values() -> None:
    assert DISTS[0].central() == 2.0
    assert DISTS[2].central() == 1.0
    assert DISTS[3].central() == 10.0
    assert DISTS[6].central() == 100.0
    assert DISTS[7].central() == pytest.approx(10 + 10 * 2 / 7)
    assert DISTS[8].central() == 3  # unweighted choice: the first value
    assert DISTS[9].central() == 2  # weighted choice: the most likely value
    assert DISTS[3].bounds() == pytest.approx((10 - 1.6449 * 2, 10 + 1.6449 * 2), rel=1e-4)
    assert DISTS[4].bounds()[0] == 0.0


def test_choice_ppf_follows_the_weights() -> None:
    d = Choice(dist="choice", values=["a", "b"], weights=[0.25, 0.75])
    assert list(d.ppf(np.array([0.0, 0.2, 0.3, 0.99, 1.0]))) == ["a", "a", "b", "b", "b"]


@pytest.mark.parametrize(
    "bad",
    [
        {"dist": "triangular", "low": 2, "mode": 1, "high": 3},
        {"dist": "uniform", "low": 2, "high": 2},
        {"dist": "normal", "mean": 0, "sd": 0},
        {"dist": "normal", "mean": 5, "sd": 1, "high": 4},
        {"dist": "lognormal", "median": -1, "sigma": 1},
        {"dist": "beta", "alpha": 0, "beta": 1, "low": 0, "high": 1},
        {"dist": "choice", "values": []},
        {"dist": "choice", "values": [1, 2], "weights": [1]},
        {"dist": "uniform", "low": 0, "high": 1, "mode": 0.5},
        {"dist": "uniform", "low": float("nan"), "high": 1},
    ],
)
def test_invalid_distributions_are_rejected(bad: dict[str, Any]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        parse_distribution(bad)


def test_sample_values_and_substitute() -> None:
    loaded = load("uncertain.yaml")
    paths = sorted(loaded.distributions)
    u = np.array([np.full(len(paths), 0.0), np.full(len(paths), 0.999)])
    rows = sample_values({p: loaded.distributions[p] for p in paths}, u)
    assert len(rows) == 2 and set(rows[0]) == set(paths)
    assert rows[0]["economics.pue"] == pytest.approx(1.1)
    assert rows[0]["scheduling.policy"] == "fifo" and rows[1]["scheduling.policy"] == "backfill"
    gang = rows[1]["segments.labs.training.gang_chips"]
    assert isinstance(gang, int) and 32 <= gang <= 97
    low = substitute(loaded, rows[0])
    assert low.scenario.economics.pue == pytest.approx(1.1)
    assert low.scenario.segments["labs"].training.gang_chips == 32  # type: ignore[union-attr]
    assert low.distributions == loaded.distributions
    assert loaded.scenario.economics.pue == 1.2  # the original is untouched
    assert loaded.data["economics"]["pue"] == 1.2


def test_substitute_errors_read_like_set() -> None:
    loaded = load("minimal.yaml")
    with pytest.raises(ScenarioError) as info:
        substitute(loaded, {"economics.pue": 0.2})
    assert info.value.file == "--set" and info.value.key == "economics.pue"
    assert "expected a number >= 1" in str(info.value)
    with pytest.raises(ScenarioError, match="did you mean 'pue'"):
        substitute(loaded, {"economics.pu": 1.3})


def test_substitute_drops_provenance_of_a_replaced_figure() -> None:
    loaded = load("minimal.yaml")
    out = substitute(loaded, {"catalog.chips.h100.busy_power_w": 650.0})
    assert out.scenario.catalog.chips["h100"].busy_power_w == 650.0
    assert "catalog.chips.h100.busy_power_w" not in out.provenance
    assert "catalog.chips.h100.busy_power_w" not in out.scenario.sources


def test_is_integer_path() -> None:
    assert is_integer_path("seed")
    assert is_integer_path("provider.pools.anything.deliveries.3.chips")
    assert is_integer_path("vendors.nvidia.allocation_cap_chips_per_quarter")  # int | None
    assert not is_integer_path("economics.pue")
    assert not is_integer_path("outputs.jobs_table")  # bool is not an integer field
    assert not is_integer_path("no.such.path")


# --------------------------------------------------------------------------- outputs


def test_json_schema_shape() -> None:
    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["title"] == "xpusim scenario"
    assert set(Scenario.model_fields) | {"extends", "unset"} <= set(schema["properties"])
    assert "Figure" in schema["$defs"] and "Distribution" in schema["$defs"]
    json.dumps(schema)  # plain JSON


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def test_json_schema_accepts_scenarios_figures_and_distributions() -> None:
    validator = jsonschema.Draft202012Validator(scenario_json_schema())
    for name in ("minimal.yaml", "child.yaml", "uncertain.yaml"):
        import yaml

        raw = yaml.safe_load((DATA / name).read_text())
        errors = list(validator.iter_errors(_jsonable(raw)))
        assert not errors, (name, [e.message for e in errors])
    bad = {"economics": {"pue2": 1.3}}
    assert list(validator.iter_errors(bad))
    assert list(validator.iter_errors({"economics": {"pue": "high"}}))


def test_dump_round_trip(tmp_path: Path) -> None:
    for name in ("minimal.yaml", "child.yaml", "uncertain.yaml"):
        loaded = load(name)
        text = dump_yaml(loaded.data)
        out = tmp_path / name
        out.write_text(text)
        again = load_scenario(out, catalog_files=CATALOG)
        assert again.scenario == loaded.scenario, name
        assert dump_yaml(again.data) == text  # deterministic and stable


def test_dump_orders_keys_by_schema() -> None:
    text = dump_yaml(load("child.yaml").data)
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line[0].isspace()]
    order = list(Scenario.model_fields)
    assert keys == sorted(keys, key=order.index)
    assert "start: 2025-01-01" in text  # dates as YYYY-MM-DD


def test_diff_scenarios() -> None:
    a, b = load("minimal.yaml"), load("child.yaml")
    rows = diff_scenarios(a.scenario, b.scenario)
    paths = [r[0] for r in rows]
    assert paths == sorted(paths)
    d = {p: (x, y) for p, x, y in rows}
    assert d["economics.pue"] == (1.2, 1.4)
    assert d["name"] == ("minimal", "child")
    assert d["catalog.chips.h100.cloud_price_usd_per_chip_hour"] == (4.0, 3.5)
    assert d["provider.pools.h100.deliveries.1.chips"] == (None, 50)
    assert not any(p.startswith("sources") for p in paths)
    assert diff_scenarios(a.scenario, load("minimal.yaml").scenario) == []


def test_loading_reads_but_never_writes(tmp_path: Path) -> None:
    before = {p: p.stat().st_mtime_ns for p in DATA.iterdir()}
    load("child.yaml", "economics.pue=1.5")
    assert {p: p.stat().st_mtime_ns for p in DATA.iterdir()} == before


# --------------------------------------------------------------------------- property


NUMERIC_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "seed": st.integers(0, 2**40),
    "replications": st.integers(1, 10_000),
    "economics.pue": st.floats(1.0, 3.0),
    "economics.electricity_usd_per_kwh": st.floats(0.0, 10.0),
    "economics.discount_rate_per_year": st.floats(-0.5, 1.0),
    "provider.pools.h100.initial_chips": st.integers(0, 100_000_000),
    "provider.pools.trn2.initial_age_years": st.floats(0.0, 30.0),
    "segments.labs.training.jobs_per_month": st.floats(0.0, 1e6),
    "segments.labs.inference.tokens_per_s": st.floats(0.0, 1e12),
    "catalog.chips.trn2.hbm_gb": st.floats(1e-3, 1e6),
    "catalog.stacks.neuron.maturity_start": st.floats(0.0, 1.0),
}

set_sequences = st.lists(
    st.sampled_from(sorted(NUMERIC_FIELDS)).flatmap(
        lambda path: NUMERIC_FIELDS[path].map(lambda v: (path, v))
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(set_sequences)
def test_valid_sets_round_trip(sets: list[tuple[str, Any]]) -> None:
    loaded = load("minimal.yaml", *(f"{p}={v!r}" for p, v in sets))
    dumped = loaded.scenario.model_dump()
    final = dict(sets)  # the last --set of a path wins
    for path, value in final.items():
        cur: Any = dumped
        for part in path.split("."):
            cur = cur[part]
        assert cur == value and type(cur) is type(value)
    # and the resolved data reloads to the same scenario
    again = substitute(loaded, {})
    assert again.scenario == loaded.scenario


# --------------------------------------------------------------------------- shipped data


def test_shipped_catalog_loads_with_provenance() -> None:
    assert all(p.is_file() for p in shipped_catalog_files()), "the catalog is not shipped"
    catalog, provenance = load_catalog()
    assert isinstance(catalog, Catalog) and catalog.chips and catalog.stacks
    assert provenance and all(k.startswith("catalog.") for k in provenance)
    any_key = next(iter(provenance))
    assert set(provenance[any_key]) == {"source", "date", "kind", "note", "unit", "file", "line"}


def test_load_catalog_from_test_files() -> None:
    catalog, provenance = load_catalog(CATALOG)
    assert set(catalog.chips) == {"h100", "trn2"}
    assert provenance["catalog.stacks.neuron.maturity_start"]["kind"] == "assumed"


def test_shipped_baseline_loads_and_round_trips(tmp_path: Path) -> None:
    loaded = load_scenario(BASELINE)
    assert loaded.files[-1] == BASELINE
    out = tmp_path / "baseline.yaml"
    out.write_text(dump_yaml(loaded.data))
    assert load_scenario(out).scenario == loaded.scenario


def test_shipped_scenarios_all_load() -> None:
    paths = sorted((REPO / "scenarios").glob("*.yaml"))
    assert BASELINE in paths and len(paths) >= 16, "the scenario library is missing"
    for path in paths:
        loaded = load_scenario(path)
        assert loaded.scenario.name == path.stem
        assert loaded.files[-1] == path and loaded.provenance
