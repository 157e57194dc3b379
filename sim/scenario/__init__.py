"""Scenarios in and out: YAML with marks, layers, key paths, the one substitution, dumps."""

from sim.scenario.dump import (
    diff_scenarios,
    dump_yaml,
    leading_comment,
    saved_yaml,
    scenario_json_schema,
)
from sim.scenario.loading import (
    LoadedScenario,
    load_catalog,
    load_claims,
    load_scenario,
    substitute,
)

__all__ = [
    "LoadedScenario",
    "diff_scenarios",
    "dump_yaml",
    "leading_comment",
    "load_catalog",
    "load_claims",
    "load_scenario",
    "saved_yaml",
    "scenario_json_schema",
    "substitute",
]
