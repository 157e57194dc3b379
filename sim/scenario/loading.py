"""Load a scenario: YAML layers -> one resolved, validated :class:`~sim.model.schema.Scenario`.

:func:`load_scenario` reads the catalog, the ``extends:`` chain and the file
(:mod:`sim.scenario.layers`), applies the ``--set`` overrides
(:mod:`sim.scenario.overrides`), replaces sourced figures and distributions by their values
(:mod:`sim.scenario.figures`) and validates the result. :func:`substitute` is the one way to
change a loaded scenario afterwards (sweep points, sensitivity points, calibration, checks).

Every mapping key and list item keeps the file and line it came from, so that any problem,
a YAML syntax error as much as a pydantic validation error or a dangling cross-reference,
is reported as ``file:line: key 'a.b.c': what is wrong; expected ..., found ...``.

Nothing here writes files, prints or exits; every user error is a
:class:`~sim.errors.ScenarioError`. Inputs are bounded (file size, nesting depth, list
length, node count) so that a malformed or hostile file fails fast. Anchors and aliases are
refused (use ``extends``), which also rules out "billion laughs" alias bombs, and only the
standard scalar tags are accepted, so YAML never builds Python objects.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.model.catalog import Claim
from sim.model.schema import Catalog, Scenario
from sim.scenario.distributions import BaseDistribution, Distribution
from sim.scenario.fields import plain_value
from sim.scenario.figures import PROVENANCE_FIELDS, centralise
from sim.scenario.layers import catalog_layers, extends_chain, merged, winning_marks
from sim.scenario.marks import Mark
from sim.scenario.overrides import (
    SET_FILE,
    apply_override,
    apply_overrides,
    check_path,
    parse_override,
    path_of,
    set_error,
)
from sim.scenario.paths import KeyPath, dotted, walk_paths
from sim.scenario.problems import located, validate_scenario

__all__ = ["LoadedScenario", "load_catalog", "load_claims", "load_scenario", "substitute"]


@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with everything needed to explain where each value came from."""

    scenario: Scenario
    data: dict[str, Any]
    path: Path
    files: tuple[Path, ...]
    provenance: dict[str, dict[str, Any]]
    distributions: dict[str, Distribution]
    marks: Mapping[KeyPath, Mark] = field(default_factory=dict, repr=False, compare=False)


def _plain_provenance(prov: Mapping[KeyPath, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {dotted(p): v for p, v in prov.items()}


def _with_sources(data: dict[str, Any], prov: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    if not prov:
        return data
    user = data.get("sources")
    if user is not None and not isinstance(user, dict):
        return data  # validation reports it
    sources = dict(user or {})
    for k, v in prov.items():
        sources[k] = {f: v[f] for f in PROVENANCE_FIELDS}
    return {**data, "sources": sources}


def load_scenario(
    path: Path | str,
    overrides: Sequence[str] = (),
    *,
    catalog_files: Sequence[Path | str] | None = None,
) -> LoadedScenario:
    """Read, merge and validate a scenario file and its ``--set`` overrides.

    ``catalog_files`` replaces the shipped catalog (tests use small ones). Raises
    :class:`~sim.errors.ScenarioError` for anything a user can get wrong.
    """
    path = Path(path)
    catalog = catalog_layers(catalog_files)
    chain = extends_chain(path)
    parsed = [parse_override(text) for text in overrides]
    layers = [layer for _, layer in catalog] + [layer for _, layer in chain]
    data = merged(layers)
    layers += apply_overrides(data, parsed)
    marks, prov = winning_marks(data, layers)
    distributions: dict[str, Distribution] = {}
    data = centralise(data, (), distributions)
    provenance = _plain_provenance(prov)
    data = _with_sources(data, provenance)
    scenario = validate_scenario(data, marks, str(path))
    return LoadedScenario(
        scenario=scenario,
        data=data,
        path=path,
        files=tuple(f for f, _ in catalog) + tuple(f for f, _ in chain),
        provenance=provenance,
        distributions=distributions,
        marks=marks,
    )


def substitute(loaded: LoadedScenario, values: Mapping[str, Any]) -> LoadedScenario:
    """The scenario with ``{dotted path: value}`` substituted and validated again.

    The one way to change a loaded scenario: sweep and sensitivity points, calibrated
    parameters and the reference scenarios of ``xpusim verify`` all go through it. Errors
    read like ``--set`` overrides. Integer fields get rounded values; a distribution is
    replaced by its central value. A substituted figure loses its provenance (the value is
    no longer the sourced one) unless the path is one of the scenario's distributions.
    """
    data = copy.deepcopy(loaded.data)
    marks = dict(loaded.marks)
    provenance = dict(loaded.provenance)
    for path, raw in values.items():
        text = f"{path}={raw!r}"
        if not isinstance(path, str) or not path.strip():
            raise set_error("the key path has an empty part", text, str(path) or None)
        segments = path_of(path.strip(), text)
        check_path(segments, text)
        value = plain_value(segments, raw)
        if isinstance(value, BaseDistribution):
            value = value.central()
        created = apply_override(data, segments, copy.deepcopy(value), text)
        for p in [*created, *walk_paths(value, segments)]:
            marks[p] = Mark(SET_FILE, None, repr(raw))
        key = dotted(segments)
        if key not in loaded.distributions and key in provenance:
            del provenance[key]
            sources = data.get("sources")
            if isinstance(sources, dict):
                sources.pop(key, None)
    scenario = validate_scenario(data, marks, SET_FILE)
    return replace(loaded, scenario=scenario, data=data, provenance=provenance, marks=marks)


def load_catalog(
    files: Sequence[Path | str] | None = None,
) -> tuple[Catalog, dict[str, dict[str, Any]]]:
    """The shipped catalog (or ``files``) validated, with provenance by dotted key path.

    Keys of the provenance are scenario paths (``catalog.chips.h100.peak_bf16_tflops``).
    """
    layers = catalog_layers(files)
    data = merged([layer for _, layer in layers])
    marks, prov = winning_marks(data, [layer for _, layer in layers])
    data = centralise(data, (), {})
    cat = data.get("catalog", {})
    try:
        catalog = Catalog.model_validate(cat)
    except ValidationError as e:
        label = str(layers[0][0]) if layers else "catalog"
        raise located(e, ("catalog",), cat, marks, root=Catalog, default_file=label) from None
    return catalog, _plain_provenance(prov)


@cache
def load_claims() -> tuple[Claim, ...]:
    """The published claims about the shipped catalog (``sim/data/claims.yaml``)."""
    text = (resources.files("sim") / "data" / "claims.yaml").read_text(encoding="utf-8")
    return tuple(Claim.model_validate(c) for c in yaml.safe_load(text)["claims"])
