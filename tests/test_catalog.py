"""The shipped chip catalog: coverage, sources, the article ratios; and the checks themselves."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest

from sim.model.catalog import (
    ARTICLE_RATIOS,
    LIFECYCLE_FIELDS,
    REQUIRED_CHIPS,
    catalog_table,
    check_catalog,
    numeric_fields,
    ratio_results,
)
from sim.model.schema import Catalog
from sim.scenario import load_catalog

Provenance = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def shipped() -> tuple[Catalog, Provenance]:
    catalog, provenance = load_catalog()
    return catalog, {k: dict(v) for k, v in provenance.items()}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


# --------------------------------------------------------------------------- shipped catalog


def test_every_required_chip_is_catalogued(shipped: tuple[Catalog, Provenance]) -> None:
    catalog, _ = shipped
    known = {_norm(cid) for cid in catalog.chips} | {_norm(c.name) for c in catalog.chips.values()}
    missing = [name for name in REQUIRED_CHIPS if _norm(name) not in known]
    assert not missing, f"catalog lacks {missing}; has {sorted(catalog.chips)}"
    for cid in {r.numerator for r in ARTICLE_RATIOS} | {r.denominator for r in ARTICLE_RATIOS}:
        assert cid in catalog.chips, f"article ratios need chip id {cid!r}"


def test_required_stacks_are_catalogued(shipped: tuple[Catalog, Provenance]) -> None:
    catalog, _ = shipped
    names = {_norm(s) for s in catalog.stacks} | {_norm(s.name) for s in catalog.stacks.values()}
    for stack in ("CUDA", "Neuron", "XLA", "ROCm", "Maia"):
        assert any(_norm(stack) in n for n in names), f"no {stack} stack in {sorted(names)}"


def test_shipped_catalog_has_no_problems(shipped: tuple[Catalog, Provenance]) -> None:
    catalog, provenance = shipped
    problems = check_catalog(catalog, provenance)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("ratio", ARTICLE_RATIOS, ids=lambda r: f"{r.numerator}-{r.metric}")
def test_article_ratio_holds(shipped: tuple[Catalog, Provenance], ratio: Any) -> None:
    catalog, _ = shipped
    (result,) = [(m, ok) for r, m, ok in ratio_results(catalog) if r == ratio]
    measured, ok = result
    assert ok, f"{ratio.name}: catalog gives {measured}, expected {ratio.expected}"


def test_catalog_table_has_one_row_per_chip_with_sources(
    shipped: tuple[Catalog, Provenance],
) -> None:
    catalog, provenance = shipped
    table = catalog_table(catalog, provenance)
    assert list(table["id"]) == list(catalog.chips)
    for column in ("id", "name", "vendor", "family", "stack", "launch", "sources"):
        assert column in table.columns
    for column in ("peak_bf16_tflops", "hbm_gb", "busy_power_w", "unit_cost_usd", "training_mfu"):
        assert pd.api.types.is_float_dtype(table[column])
    assert (table["sources"].str.len() > 0).all()


# --------------------------------------------------------------------------- the checks catch


def _with_chip(catalog: Catalog, chip_id: str, **update: Any) -> Catalog:
    chips = dict(catalog.chips)
    chips[chip_id] = chips[chip_id].model_copy(update=update)
    return catalog.model_copy(update={"chips": chips})


def test_broken_ratio_is_caught(shipped: tuple[Catalog, Provenance]) -> None:
    catalog, provenance = shipped
    trn1 = catalog.chips["trainium1"]
    broken = _with_chip(catalog, "trainium2", hbm_gb=trn1.hbm_gb * 2.0)
    problems = check_catalog(broken, provenance)
    assert any("article ratio broken" in p and "hbm" in p for p in problems), problems
    assert not dict(((r.metric, ok) for r, _, ok in ratio_results(broken)))["hbm"]


def test_missing_chip_breaks_its_ratios(shipped: tuple[Catalog, Provenance]) -> None:
    catalog, provenance = shipped
    chips = {k: v for k, v in catalog.chips.items() if k != "inferentia1"}
    problems = check_catalog(catalog.model_copy(update={"chips": chips}), provenance)
    assert sum("not computable" in p for p in problems) == 2


def test_dropped_and_empty_sources_are_caught(shipped: tuple[Catalog, Provenance]) -> None:
    catalog, provenance = shipped
    key = _key(provenance, "chips.h100.hbm_gb")
    mutated = {k: v for k, v in provenance.items() if k != key}
    assert any("chips.h100.hbm_gb: no source" in p for p in check_catalog(catalog, mutated))
    mutated = {**provenance, key: {**provenance[key], "source": "  "}}
    assert any("chips.h100.hbm_gb: empty source" in p for p in check_catalog(catalog, mutated))


@pytest.mark.parametrize(
    "source", ["/srv/seeds/001_5169a566430ea738.txt", "C:\\docs\\a.pdf", "file:///x.txt"]
)
def test_local_path_source_is_caught(shipped: tuple[Catalog, Provenance], source: str) -> None:
    catalog, provenance = shipped
    key = _key(provenance, "chips.h100.busy_power_w")
    mutated = {**provenance, key: {**provenance[key], "source": source}}
    assert any("looks like a local path" in p for p in check_catalog(catalog, mutated))


@pytest.mark.parametrize("kind", ["assumed", "derived", "calibrated"])
def test_unexplained_assumption_is_caught(shipped: tuple[Catalog, Provenance], kind: str) -> None:
    catalog, provenance = shipped
    key = _key(provenance, "stacks.neuron.maturity_start")
    mutated = {**provenance, key: {**provenance[key], "kind": kind, "note": ""}}
    problems = check_catalog(catalog, mutated)
    assert any("stacks.neuron.maturity_start" in p and "needs a note" in p for p in problems)


def test_unknown_kind_is_caught(shipped: tuple[Catalog, Provenance]) -> None:
    catalog, provenance = shipped
    key = _key(provenance, "chips.h100.hbm_gb")
    mutated = {**provenance, key: {**provenance[key], "kind": "guessed"}}
    assert any("kind 'guessed'" in p for p in check_catalog(catalog, mutated))


def test_every_numeric_field_needs_provenance(shipped: tuple[Catalog, Provenance]) -> None:
    catalog, _ = shipped
    expected = sum(len(numeric_fields(c)) for c in catalog.chips.values()) + sum(
        len(numeric_fields(s)) for s in catalog.stacks.values()
    )
    # each chip's lifecycle (GA, end of sale, successor) and each dated price change too
    expected += sum(
        len(LIFECYCLE_FIELDS) + len(c.cloud_price_changes) for c in catalog.chips.values()
    )
    problems = check_catalog(catalog, {})
    assert sum(p.endswith("no source (no provenance entry)") for p in problems) == expected


def _key(provenance: Provenance, path: str) -> str:
    """The provenance key of ``path`` (the loader may prefix catalog keys with 'catalog.')."""
    for key in (path, f"catalog.{path}"):
        if key in provenance:
            return key
    raise AssertionError(f"no provenance for {path}")
