"""The typed run summary: every number in summary.json is a declared metric, and back."""

from __future__ import annotations

from typing import Any

import pytest

from sim.accounting.runner import RUN_KEYS
from sim.accounting.summary import (
    ProgramSummary,
    ServingSummary,
    as_dict,
    find_metric,
    metrics,
)
from tests.test_scenarios import flatten, short_run

# added by the runner when replications are combined, not by one replication's accounts
RUN_LEVEL_KEYS = RUN_KEYS


def _leaves(summary: dict[str, Any]) -> dict[str, Any]:
    return flatten({k: v for k, v in summary.items() if k not in RUN_LEVEL_KEYS})


@pytest.mark.parametrize("name", ["baseline", "chatgpt-scale"])
def test_every_summary_leaf_is_exactly_one_declared_metric(name: str) -> None:
    leaves = _leaves(short_run(name).summary)
    assert leaves
    for key in leaves:
        matching = [m.key for m in metrics() if m.matches(key)]
        assert len(matching) == 1, f"{key}: matches {matching}"


def test_every_metric_without_placeholders_is_in_the_baseline_summary() -> None:
    leaves = _leaves(short_run("baseline").summary)
    fixed = [m.key for m in metrics() if "{" not in m.key]
    assert fixed
    assert [k for k in fixed if k not in leaves] == []


def test_per_query_metrics_appear_where_tokens_per_query_is_given() -> None:
    leaves = _leaves(short_run("chatgpt-scale").summary)
    assert any(k.endswith(".queries_per_day") for k in leaves)


def test_metric_metadata_is_declared_once_and_complete() -> None:
    keys = [m.key for m in metrics()]
    assert len(keys) == len(set(keys))
    for m in metrics():
        assert m.unit and m.label and m.description, m
    assert find_metric("serving.chatgpt.customer_cost_per_query_usd") is not None
    assert find_metric("provider.tco_breakdown_usd") is None  # a section, not a metric


def test_absent_optional_parts_are_left_out_of_the_dict() -> None:
    assert as_dict(ProgramSummary(0.0, 0.0, None, 0.0)) == {
        "nre_usd": 0.0,
        "savings_usd": 0.0,
        "breakeven_date": None,
        "npv_usd": 0.0,
    }
    serving = as_dict(ServingSummary(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, None))
    assert "queries_per_day" not in serving
    assert serving["provider_usd_per_mtok"] is None  # a metric that is None stays
