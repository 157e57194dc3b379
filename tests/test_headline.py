"""The run headline (sim.views.headline) and the table formats (sim.views.tables), read as a
user reads them: in a 100-column terminal, as CSV, JSON and Markdown.

tests/data/baseline_summary.json is the summary.json of ``xpusim run scenarios/baseline.yaml``
(8 replications), kept so these tests need no simulation.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from sim.accounting.summary import find_metric
from sim.views.headline import groups as headline_groups
from sim.views.headline import headline_rows, headline_tables
from sim.views.numbers import HEADLINE, fmt_value
from sim.views.tables import render

SUMMARY: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "baseline_summary.json").read_text(encoding="utf-8")
)


def printed(summary: dict[str, Any], fmt: str = "table", everything: bool = False) -> str:
    out = io.StringIO()
    console = Console(file=out, width=100, no_color=True, color_system=None, soft_wrap=False)
    render(headline_tables(summary, everything=everything), fmt, console)
    return out.getvalue()


def test_default_headline_is_grouped_short_and_labelled() -> None:
    rows = headline_rows(SUMMARY)
    groups = list(dict.fromkeys(r.group for r in rows))
    # provider, customers, program, adoption in order
    assert groups == [g.id for g in headline_groups()]
    assert 20 <= len(rows) <= 30
    for r in rows:
        assert find_metric(r.key) is not None, r.key  # every row is a declared metric
        assert "." not in r.label and "_" not in r.label  # a label, not a dotted key
    energy = next(r for r in rows if r.key == "provider.energy_mwh")
    assert energy.label == "Energy (MWh)" and energy.unit == "MWh"
    assert energy.half_width == SUMMARY["interval95"]["provider"]["energy_mwh"]


def test_all_shows_every_result_leaf() -> None:
    rows = headline_rows(SUMMARY, everything=True)
    keys = [r.key for r in rows]
    assert len(keys) == len(set(keys)) > 100
    assert "queue.h100.mean_wait_hours" in keys and "seed" not in keys
    assert not any(k.startswith(("interval95", "replications")) for k in keys)
    # sections keep the summary's declaration order: the default groups' sections first
    assert keys.index("provider.tco_usd") < keys.index("customers.spend_usd")


@pytest.mark.parametrize("everything", [False, True])
def test_table_fits_100_columns_and_never_splits_a_number(everything: bool) -> None:
    text = printed(SUMMARY, everything=everything)
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert "means over 8 replications" in lines[0] and "95%" in lines[0]
    # each value is whole on the line of its label
    for r in headline_rows(SUMMARY, everything=everything):
        cell = fmt_value(r.value, r.unit, HEADLINE)
        # a long label folds (--all at 100 columns); its start shares the line of the value
        head = r.label if len(r.label) <= 30 else r.label[:30]
        assert any(head in line and f" {cell} " in f"{line} " for line in lines), r.key
    if not everything:  # the default headline's keys fit too
        for r in headline_rows(SUMMARY):
            assert any(line.rstrip().endswith(f" {r.key}") for line in lines), r.key
    # no number continues on the next line: no cell starts with a digit, comma or period
    # on a line whose label cell is empty
    for line in lines:
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 2 and cells[0] == "":
            assert all(c == "" for c in cells[1:3]), line


def test_years_and_seeds_print_without_separators() -> None:
    text = printed(SUMMARY)
    assert "seed 20240529" in text and "20,240,529" not in text
    assert "Trainium 2030" in text and "2,030" not in text
    assert "horizon 2022-01-01 to 2031-01-01" in text


def test_one_replication_says_there_is_no_interval() -> None:
    single = {k: v for k, v in SUMMARY.items() if k not in ("interval95", "replications")}
    single["replication_count"] = 1
    text = printed(single)
    assert "one replication (no interval" in text
    assert all(r.half_width is None for r in headline_rows(single))


def test_machine_formats_hold_raw_numbers() -> None:
    records = json.loads(printed(SUMMARY, "json"))
    tco = next(r for r in records if r["key"] == "provider.tco_usd")
    assert tco["value"] == SUMMARY["provider"]["tco_usd"]  # full precision
    assert tco["half_width"] == SUMMARY["interval95"]["provider"]["tco_usd"]
    assert tco["group"] == "provider" and tco["unit"] == "USD"
    rows = list(csv.DictReader(io.StringIO(printed(SUMMARY, "csv"))))
    assert [r["key"] for r in rows] == [r["key"] for r in records]  # no group title rows
    assert float(rows[0]["value"]) == records[0]["value"]
    md = printed(SUMMARY, "md")
    assert md.startswith("**Headline results") and "| metric | value | ± 95% |" in md
    assert re.search(r"\| +Provider TCO \| \$\d+\.\d+B \|", md)


def test_a_metric_declared_later_joins_its_group() -> None:
    """Grouping reads the summary's sections: a new scalar of the provider section that the
    summary declares shows up without any change to the headline."""
    extra = json.loads(json.dumps(SUMMARY))
    extra["provider"] = {"zzz_not_declared": 1.0, **extra["provider"]}
    keys = [r.key for r in headline_rows(extra)]
    assert "provider.zzz_not_declared" not in keys  # undeclared: not a metric
    assert keys == [r.key for r in headline_rows(SUMMARY)]
