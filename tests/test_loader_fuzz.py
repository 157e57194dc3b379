"""Fuzzing the loader through the command line: mutated scenarios never give a traceback.

Valid scenarios (the command-line tests' small scenario, the loader tests' minimal one on the
shipped catalog, the baseline) are parsed into trees and mutated: a key renamed (to any text,
brackets, dots, quotes and control characters included), a value replaced by a wrong type, a
negative or huge number, odd text or nested junk, a key deleted or added, or a line of the
written YAML deleted. Each mutant is written to a file and given to ``xpusim validate`` or
``xpusim show`` in-process: the exit status is 0 or 2, never a traceback, and on 2 there is
exactly one printable ``error:`` line, naming the file.

The default run draws a moderate number of examples, derandomised like the rest of the suite
(tests/conftest.py); the ``slow`` version draws many more.
"""

from __future__ import annotations

import copy
import datetime as dt
import traceback
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli import app
from sim.errors import printable
from tests.test_cli import SCENARIO

HERE = Path(__file__).parent
MINIMAL = (HERE / "data" / "minimal.yaml").read_text().replace("trn2", "trainium2")
BASELINE = (HERE.parent / "scenarios" / "baseline.yaml").read_text()
BASES = [yaml.safe_load(text) for text in (SCENARIO, MINIMAL, BASELINE)]
FEW, MANY = 60, 600

KeyPath = tuple[Any, ...]

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
odd_text = st.one_of(
    text,
    st.sampled_from(["a[", "seg[1]", "[key]", "a.b", '"', "'", "=", "", " ", "\x1b[31m", "\x00"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.sampled_from([-1, 0, 2**63, 2**64, -(2**63), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    odd_text,
    st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(odd_text, inner, max_size=4)
    ),
    max_leaves=12,
)


def paths(tree: Any, prefix: KeyPath = ()) -> list[KeyPath]:
    """Every key path of a tree of mappings and lists (the root excluded)."""
    if not isinstance(tree, dict | list):
        return []
    out: list[KeyPath] = []
    for k, v in tree.items() if isinstance(tree, dict) else enumerate(tree):
        out.append((*prefix, k))
        out.extend(paths(v, (*prefix, k)))
    return out


def parent_of(tree: Any, path: KeyPath) -> Any:
    for k in path[:-1]:
        tree = tree[k]
    return tree


@st.composite
def mutants(draw: st.DrawFn) -> str:
    """The YAML text of a mutated valid scenario."""
    tree = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        all_paths = paths(tree)
        if not all_paths:
            break
        path = draw(st.sampled_from(all_paths))
        parent, last = parent_of(tree, path), path[-1]
        op = draw(st.sampled_from(["rename", "replace", "delete", "add"]))
        if isinstance(parent, list):
            if op == "delete":
                del parent[last]
            else:
                parent[last] = draw(junk)
        elif op == "rename":
            parent[draw(odd_text)] = parent.pop(last)
        elif op == "replace":
            parent[last] = draw(junk)
        elif op == "delete":
            del parent[last]
        else:
            target = parent[last] if isinstance(parent[last], dict) else parent
            target[draw(odd_text)] = draw(junk)
    out = yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)
    if draw(st.booleans()):
        lines = out.splitlines()
        del lines[draw(st.integers(0, len(lines) - 1))]
        out = "\n".join(lines) + "\n"
    return out


def check(folder: Path, mutant: str, command: str) -> None:
    path = folder / "mutant.yaml"
    path.write_text(mutant, encoding="utf-8")
    result = CliRunner().invoke(app, [command, str(path)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        trace = "".join(traceback.format_exception(result.exception))
        (folder / "failing.yaml").write_text(mutant, encoding="utf-8")
        raise AssertionError(f"{trace}\n--- input, kept in {folder / 'failing.yaml'}")
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        # show stops at the first error (one line); validate lists each problem on its own
        assert len(lines) == 1 or (command == "validate" and lines), result.stderr
        for line in lines:
            assert line.startswith("error: ") and printable(line) == line, repr(line)
        assert printable(path) in lines[0], f"the error does not name the file: {lines[0]}"


@settings(
    max_examples=FEW,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutant=mutants(), command=st.sampled_from(["validate", "show"]))
def test_mutated_scenarios_fail_cleanly(
    mutant: str, command: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    check(tmp_path_factory.mktemp("fuzz"), mutant, command)


@pytest.mark.slow
@settings(
    max_examples=MANY,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutant=mutants(), command=st.sampled_from(["validate", "show"]))
def test_many_mutated_scenarios_fail_cleanly(
    mutant: str, command: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    check(tmp_path_factory.mktemp("fuzz"), mutant, command)
