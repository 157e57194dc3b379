"""The Python API (sim.api) and its example: examples/api_tour.py runs here, and
examples/api_tour.ipynb holds exactly its cells (``python -m tests.regenerate notebook``
rewrites the notebook from the script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import sim.api as xs
from sim.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "api_tour.py"
NOTEBOOK = ROOT / "examples" / "api_tour.ipynb"
SUMMARY: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "baseline_summary.json").read_text(encoding="utf-8")
)


def script_cells(text: str) -> list[tuple[str, str]]:
    """The ``# %%`` cells of a percent-format script: (kind, source) pairs."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            kind, lines = cells[-1]
            lines.append(line[2:] if kind == "markdown" and line.startswith("# ") else line)
    out = []
    for kind, lines in cells:
        source = "\n".join(lines).strip("\n")
        if kind == "markdown":
            source = source.replace("\n#\n", "\n\n").removesuffix("\n#")
        out.append((kind, source))
    return out


def notebook_from_script(text: str) -> dict[str, Any]:
    """An nbformat 4 notebook with the script's cells (outputs empty)."""
    cells = []
    for kind, source in script_cells(text):
        cell: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        cells.append(cell)
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(text: str) -> str:
    return json.dumps(notebook_from_script(text), indent=1, ensure_ascii=False) + "\n"


def test_notebook_holds_the_script_cells() -> None:
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cells = [(c["cell_type"], "".join(c["source"])) for c in notebook["cells"]]
    assert cells == script_cells(SCRIPT.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4 and all(c.get("outputs", []) == [] for c in notebook["cells"])


def test_example_runs_from_the_repository_root(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "2 replications" in out and "Provider TCO:" in out
    assert "datetime64" in out and "2030-12-01" in out  # months are datetimes
    assert "(paired)" in out and "2 runs read back" in out
    assert not list(tmp_path.glob("xpusim-tour-*"))  # the tour leaves no folder behind


def test_result_metrics_are_typed_and_labelled() -> None:
    result = xs.Result(SUMMARY)
    tco = result.metric("provider.tco_usd")
    assert (tco.label, tco.unit) == ("Provider TCO", "USD")
    assert tco.mean == SUMMARY["provider"]["tco_usd"]
    assert tco.half_width == SUMMARY["interval95"]["provider"]["tco_usd"]
    assert result.replications == 8
    metrics = result.metrics
    assert list(metrics.columns) == ["key", "group", "label", "unit", "mean", "half_width95"]
    assert len(metrics) > 100 and 20 <= len(result.headline) <= 30
    with pytest.raises(UserError, match="no metric"):
        result.metric("provider.no_such_usd")


def test_overrides_and_dates() -> None:
    loaded = xs.load(ROOT / "scenarios" / "baseline.yaml", {"economics.pue": 1.31, "seed": 5})
    assert loaded.scenario.economics.pue == 1.31 and loaded.scenario.seed == 5
    same = xs.load(ROOT / "scenarios" / "baseline.yaml", ["economics.pue=1.31"])
    assert same.scenario.economics.pue == 1.31
    with pytest.raises(UserError, match="pue"):
        xs.load(ROOT / "scenarios" / "baseline.yaml", {"economics.pue": "high"})
    table = pd.DataFrame({"month": ["2022-01", "2022-02"], "pool": ["h100", "a100"]})
    converted = xs._datetimes(table)
    assert str(converted["month"].dtype).startswith("datetime64")
    assert converted["month"].iloc[1] == pd.Timestamp("2022-02-01")
    assert converted["pool"].tolist() == ["h100", "a100"]


def test_compare_pairs_results_under_the_same_seeds() -> None:
    table = xs.compare({"a": xs.Result(SUMMARY), "b": xs.Result(SUMMARY)})
    b = table[(table.run == "b") & (table.key == "provider.tco_usd")].iloc[0]
    assert b.difference == 0 and b.interval == "paired" and b.half_width95 == 0
    with pytest.raises(UserError):
        xs.compare({"a": xs.Result(SUMMARY)})


def test_a_grid_sweep_comes_back_in_the_grid_s_order(tmp_path: Path) -> None:
    """Points (and runs) in the order the grid lists its values, not the point ids'."""
    tiny = Path(__file__).parent / "data" / "sweep" / "tiny.yaml"
    pue = [1.4, 1.1, 1.25]
    swept = xs.sweep(tiny, grid={"economics.pue": pue}, replications=2, out=tmp_path / "s")
    assert swept.points["param.economics.pue"].tolist() == pue
    assert swept.runs["param.economics.pue"].tolist() == [p for p in pue for _ in range(2)]
    assert swept.runs["replication"].tolist() == [0, 1] * 3
