"""Keys of any characters: messages name the right key path, and paths can be written back.

A key holding a dot, bracket, quote, '=', space or control character is written in double
quotes (JSON string syntax) in a key path: ``segments."seg[1]".customers``; ``--set``,
``unset`` and substituted values accept the same form.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import ScenarioError
from sim.scenario import diff_scenarios, load_scenario, substitute
from sim.scenario.paths import dotted, parse_key_path, split_assignment
from sim.scenario.problems import data_path

DATA = Path(__file__).parent / "data"
CATALOG = (DATA / "chips.yaml", DATA / "stacks.yaml")
SEGMENT = """\
segments:
  {key}:
    training:
      jobs_per_month: 1
      size: {{law: fixed, mean_pflop: 1.0e+5}}
      gang_chips: 8
    platforms:
      training: {{h100: 1.0}}
"""


def child(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "child.yaml"
    path.write_text(f"extends: {DATA / 'minimal.yaml'}\n{body}")
    return path


keys = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(["a.b", "seg[1]", "[key]", "a[", '"', "'", "=", " x ", "", "0", "\x1b"]),
)


@given(st.lists(keys, min_size=1, max_size=5))
def test_key_paths_round_trip(parts: list[str]) -> None:
    """Whatever the keys, the written path reads back as the same keys (digits as positions)."""
    expected = tuple(
        int(p) if p.isascii() and p.isdigit() else p for p in parts
    )  # a plain all-digit part is a list position, which addresses a mapping key alike
    assert parse_key_path(dotted(parts)) == expected


def test_plain_keys_are_written_as_before() -> None:
    assert dotted(("provider", "pools", "h100", "deliveries", 0, "date")) == (
        "provider.pools.h100.deliveries.0.date"
    )
    assert dotted(("segments", "seg[1]", "a.b")) == 'segments."seg[1]"."a.b"'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a..b", "empty part"),
        ("a.", "empty part"),
        ('a."b', "not closed"),
        ('a."b"c', "text after a quoted key"),
        ('a.b"c', "quote inside a key"),
    ],
)
def test_malformed_key_paths_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_key_path(text)


def test_assignment_splits_outside_quotes() -> None:
    assert split_assignment('a."x=y".b=3') == ('a."x=y".b', "3")
    assert split_assignment("a.b=c=d") == ("a.b", "c=d")
    assert split_assignment("no equals") is None


def test_pydantic_tags_are_told_from_keys_by_the_data() -> None:
    data = {"segments": {"seg[1]": {"x": 1}, "[key]": {}}}
    loc = ("segments", "seg[1]", "function-after[_check(), Segment]", "x")
    assert data_path(loc, data) == (("segments", "seg[1]", "x"), False)
    assert data_path(("segments", "[key]", "[key]"), data) == (("segments", "[key]"), True)
    assert data_path(("segments", "zz", "[key]"), data) == (("segments", "zz"), True)
    assert data_path(("missing",), data) == (("missing",), False)


@pytest.mark.parametrize("key", ["a.b", "seg[1]", "[key]", "a[", "x=y", "say \"'hi'\""])
def test_set_and_substitute_reach_keys_of_any_characters(key: str, tmp_path: Path) -> None:
    quoted = dotted((key,))
    path = child(tmp_path, SEGMENT.format(key=quoted))
    loaded = load_scenario(path, [f"segments.{quoted}.customers=3"], catalog_files=CATALOG)
    assert loaded.scenario.segments[key].customers == 3
    again = substitute(loaded, {f"segments.{quoted}.customers": 5})
    assert again.scenario.segments[key].customers == 5
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, [f"segments.{quoted}.customers=many"], catalog_files=CATALOG)
    assert info.value.key == f"segments.{quoted}.customers"


def test_unset_accepts_a_quoted_key(tmp_path: Path) -> None:
    base = child(tmp_path, SEGMENT.format(key='"a.b"'))
    grandchild = tmp_path / "grandchild.yaml"
    grandchild.write_text(f'extends: {base.name}\nunset: [segments."a.b"]\n')
    loaded = load_scenario(grandchild, catalog_files=CATALOG)
    assert "a.b" not in loaded.scenario.segments and "labs" in loaded.scenario.segments


def test_errors_inside_a_bracketed_key_are_located(tmp_path: Path) -> None:
    path = child(tmp_path, SEGMENT.format(key='"seg[1]"').replace("gang_chips: 8", "gang_chips: 0"))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, catalog_files=CATALOG)
    err = info.value
    assert err.key == 'segments."seg[1]".training.gang_chips' and err.line == 7


def test_diff_writes_unusual_keys_quoted(tmp_path: Path) -> None:
    path = child(tmp_path, SEGMENT.format(key='"a.b"'))
    a = load_scenario(path, catalog_files=CATALOG)
    b = load_scenario(path, ['segments."a.b".customers=4'], catalog_files=CATALOG)
    assert [row[0] for row in diff_scenarios(a.scenario, b.scenario)] == [
        'segments."a.b".customers'
    ]
