"""A corpus of malformed scenarios: each must fail fast with a located, readable error.

Every case is a file in ``tests/malformed/`` (most extend ``tests/data/minimal.yaml`` and
break one thing) or a ``--set`` override on a valid file. Each test checks that a
:class:`~sim.errors.ScenarioError` is raised, that its text names the file, the line and the
key, that it carries the expected fragments ("expected ...", "found ..."), and that loading
gives up in well under a second (the bound asserted is generous: it guards against hangs,
it is not a benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.errors import ScenarioError
from sim.scenario import load_scenario
from sim.scenario.marks import MAX_FILE_BYTES, MAX_ITEMS
from sim.scenario.problems import MAX_REPORTED

HERE = Path(__file__).parent
MALFORMED = HERE / "malformed"
CATALOG = (HERE / "data" / "chips.yaml", HERE / "data" / "stacks.yaml")
SET_BASE = "set_base.yaml"


@dataclass(frozen=True)
class Case:
    """One malformed input and what its error must say."""

    id: str
    file: str  # in tests/malformed/
    line: int | None  # None: no line (--set, whole-file problems)
    key: str | None  # None: the problem is not about one key
    fragments: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    error_file: str | None = None  # the file the error names, when not ``file``


def c(
    id: str,
    file: str,
    line: int | None,
    key: str | None,
    *fragments: str,
    overrides: tuple[str, ...] = (),
    error_file: str | None = None,
) -> Case:
    return Case(id, file, line, key, fragments, overrides, error_file)


def s(id: str, override: str, key: str | None, *fragments: str) -> Case:
    """A bad ``--set`` on a valid scenario: reported against '--set', with no line."""
    return Case(id, SET_BASE, None, key, fragments, (override,), "--set")


CASES: list[Case] = [
    # --- unknown keys, with suggestions
    c("unknown-top-level-key", "unknown_top_key.yaml", 2, "horizen",
      "unknown key 'horizen'", "did you mean 'horizon'?", "expected one of", "found 'horizen'"),
    c("unknown-nested-key", "unknown_nested_key.yaml", 3, "economics.pue2",
      "unknown key 'pue2'", "did you mean 'pue'?"),
    c("misspelt-required-key", "misspelt_required_key.yaml", 4, "economics.peu",
      "unknown key 'peu'", "required key 'pue' is missing", "found 'peu'",
      "did you mean 'pue'?"),
    c("unknown-workload-key", "unknown_workload_key.yaml", 5, "segments.labs.platforms.trainning",
      "unknown key 'trainning'", "expected one of training, inference", "did you mean 'training'?"),
    # --- wrong types
    c("string-for-number", "string_for_number.yaml", 3, "economics.pue",
      "expected a number", "found 'high'"),
    c("list-for-mapping", "list_for_mapping.yaml", 3, "economics",
      "expected a mapping of keys", "found a list of 2 items"),
    c("bool-for-int", "bool_for_int.yaml", 2, "seed", "expected a whole number", "found true"),
    c("date-as-text", "date_as_text.yaml", 3, "horizon.start",
      "expected a date like 2025-06-01, found 'June'"),
    c("quoted-date", "quoted_date.yaml", 3, "horizon.start",
      "expected a date like 2025-06-01", "found '2025-01-01'", "remove the quotes"),
    c("impossible-date", "invalid_date.yaml", 3, "horizon.end",
      "day is out of range", "expected a date", "found '2025-02-30'"),
    c("wrong-literal", "wrong_literal.yaml", 3, "scheduling.policy",
      "expected one of fifo, backfill, found 'fifi'", "did you mean 'fifo'?"),
    c("bad-name", "bad_name.yaml", 2, "name", "expected letters, digits", "found 'my scenario!'"),
    c("non-string-key", "non_string_key.yaml", 3, "economics",
      "keys must be text", "expected", "found the number 1", "quote it"),
    # --- out of range and non-finite numbers
    c("negative-price", "negative_price.yaml", 5,
      "catalog.chips.h100.cloud_price_usd_per_chip_hour", "expected a number >= 0, found -5"),
    c("negative-chip-count", "negative_chip_count.yaml", 5, "provider.pools.h100.initial_chips",
      "expected a number >= 0, found -5"),
    c("nan", "nan.yaml", 3, "economics.electricity_usd_per_kwh",
      "expected a finite number", "found .nan"),
    c("infinity", "infinity.yaml", 3, "economics.facility_usd_per_kw_year",
      "expected a finite number", "found .inf"),
    c("utilisation-above-one", "utilisation_above_one.yaml", 5,
      "provider.procurement.target_utilization", "expected a number <= 1, found 1.5"),
    c("pue-below-one", "pue_below_one.yaml", 3, "economics.pue",
      "expected a number >= 1, found 0.9"),
    c("1e30-chips-as-integer", "huge_chip_count.yaml", 5, "provider.pools.trn2.initial_chips",
      "expected a number <= 100000000", "found 1e+30"),
    c("1e30-chips-as-float", "float_chip_count.yaml", 5, "provider.pools.trn2.initial_chips",
      "expected a whole number", "found 1e+30"),
    c("ten-thousand-year-horizon", "ten_thousand_year_horizon.yaml", 4, "horizon.end",
      "longer than 60 years"),
    # --- cross-references and consistency
    c("delivery-outside-horizon", "delivery_outside_horizon.yaml", 6,
      "provider.pools.h100.deliveries.0.date", "outside the horizon"),
    c("end-before-start", "end_before_start.yaml", 4, "horizon.end", "is not after start"),
    c("unknown-chip-in-pool", "unknown_chip_in_pool.yaml", 4, "provider.pools.b200",
      "unknown chip 'b200'"),
    c("unknown-pool-in-platforms", "unknown_pool_in_platforms.yaml", 7,
      "segments.labs.platforms.inference.mi300x", "'mi300x' is not a pool"),
    c("shares-not-summing-to-one", "shares_not_summing.yaml", 5,
      "segments.labs.platforms.training", "shares sum to 0.7, expected 1"),
    c("unknown-stack", "unknown_stack.yaml", 5, "catalog.chips.trn2.stack",
      "unknown stack 'tensorflow'"),
    c("unknown-feature", "unknown_feature.yaml", 5, "segments.labs.training.requires_features",
      "unknown feature 'flash_attention'"),
    c("unknown-pool-in-spill", "spill_unknown_pool.yaml", 4, "scheduling.spill.h100.1",
      "'tpu7' is not a pool"),
    c("non-merchant-vendor", "non_merchant_vendor.yaml", 3, "vendors.intel",
      "merchant vendors only"),
    c("daily-profile-of-23", "daily_profile_23.yaml", 5, "segments.labs.inference.daily_profile",
      "needs 24 hourly values, found 23"),
    c("idle-above-busy-power", "idle_above_busy.yaml", 6, "catalog.chips.h100.idle_power_w",
      "exceeds busy_power_w"),
    # --- missing keys
    c("missing-required-key", "missing_required_key.yaml", 3, "segments.newcomers.platforms",
      "missing required key 'platforms'"),
    c("missing-top-level-sections", "only_a_name.yaml", 2, "horizon",
      "missing required key 'horizon'", "more errors"),
    # --- extends
    c("missing-extends-target", "missing_extends_target.yaml", 2, "extends",
      "does not exist", "found 'nowhere.yaml'"),
    c("extends-not-text", "extends_not_text.yaml", 1, "extends",
      "expected a file name", "found a list"),
    c("circular-extends-2", "cycle2_a.yaml", 2, "extends",
      "cycle2_a.yaml -> cycle2_b.yaml -> cycle2_a.yaml", error_file="cycle2_b.yaml"),
    c("circular-extends-2-other-way", "cycle2_b.yaml", 1, "extends",
      "cycle2_b.yaml -> cycle2_a.yaml -> cycle2_b.yaml", error_file="cycle2_a.yaml"),
    c("circular-extends-3", "cycle3_a.yaml", 2, "extends",
      "cycle3_a.yaml -> cycle3_b.yaml -> cycle3_c.yaml -> cycle3_a.yaml",
      error_file="cycle3_c.yaml"),
    # --- YAML syntax and encoding
    c("bad-indentation", "bad_indentation.yaml", 4, "economics.pue", "YAML syntax error"),
    c("unclosed-bracket", "unclosed_bracket.yaml", 6, "segments.labs.inference.daily_profile",
      "YAML syntax error", "'[' is not closed"),
    c("tab-indentation", "tabs.yaml", 3, "economics", "YAML syntax error", "tabs"),
    c("non-utf8", "non_utf8.yaml", 3, None, "not UTF-8", "expected UTF-8", "found the byte 0xe9"),
    c("empty-file", "empty.yaml", 1, None, "empty", "expected a mapping"),
    c("only-a-comment", "only_comment.yaml", 1, None, "only comments", "expected a mapping"),
    c("top-level-list", "top_level_list.yaml", 1, None,
      "top level must be a mapping", "expected", "found list"),
    c("two-documents", "two_documents.yaml", 2, None, "one YAML document"),
    c("too-deeply-nested", "too_deep.yaml", 2, "description.0.0", "nested too deeply",
      "expected at most 50 levels"),
    # --- hostile YAML
    c("billion-laughs", "billion_laughs.yaml", 2, "description", "anchors (&a) are not supported"),
    c("alias", "alias.yaml", 4, "economics.electricity_usd_per_kwh",
      "aliases (*price) are not supported"),
    c("duplicate-key", "duplicate_key.yaml", 5, "economics.pue",
      "duplicate key 'pue'", "first given on line 3"),
    c("python-object-tag", "python_tag.yaml", 2, "description",
      "!!python/object/apply:os.system is not allowed"),
    # --- sourced figures and distributions
    c("figure-bad-kind", "figure_bad_kind.yaml", 6, "economics.pue.kind",
      "unknown kind", "expected one of measured", "found 'guessed'"),
    c("figure-stray-key", "figure_stray_key.yaml", 4, "economics.pue.sorce",
      "unknown key 'sorce'", "did you mean 'source'?"),
    c("bad-triangular", "bad_triangular.yaml", 3, "economics.pue", "low <= mode <= high"),
    c("unknown-distribution", "unknown_distribution.yaml", 4, "economics.pue.dist",
      "unknown distribution", "expected one of triangular", "found 'gauss'"),
    c("distribution-kind-a-list", "distribution_kind_a_list.yaml", 3, "economics.pue.dist",
      "unknown distribution", "found a list of 0 items"),
    # --- bad --set
    s("set-without-equals", "economics.pue", "economics.pue",
      "key.path=value", "found 'economics.pue'"),
    s("set-empty-path", "=5", None, "empty", "found '=5'"),
    s("set-empty-path-part", "economics..pue=1", "economics..pue", "empty part"),
    s("set-unknown-path", "economics.pu=1.2", "economics.pu",
      "unknown key 'pu'", "did you mean 'pue'?", "found 'economics.pu=1.2'"),
    s("set-unknown-workload", "segments.labs.platforms.trainin.h100=1",
      "segments.labs.platforms.trainin", "did you mean 'training'?"),
    s("set-below-a-value", "horizon.start.x=1", "horizon.start.x", "nothing below a single value"),
    s("set-wrong-type", "economics.pue=abc", "economics.pue",
      "expected a number, found 'abc'"),
    s("set-empty-value", "economics.pue=", "economics.pue", "expected a number, found ''"),
    s("set-out-of-range", "economics.pue=0.5", "economics.pue",
      "expected a number >= 1, found '0.5'"),
    s("set-missing-list-position", "provider.pools.h100.deliveries.5.chips=3",
      "provider.pools.h100.deliveries.5", "list position 5 does not exist"),
    s("set-bad-distribution", "economics.pue={dist: uniform, low: 1.3, high: 1.1}",
      "economics.pue", "low < high"),
    s("set-yaml-syntax", "economics.pue=[1", "economics.pue", "YAML syntax error"),
    s("set-python-tag", "description=!!python/name:os.system", "description", "not allowed"),
    # --- keys of any characters: the right path, quoted when it holds dots, brackets, quotes
    c("key-with-open-bracket", "key_open_bracket.yaml", 2, '"a["',
      "unknown key 'a['", "found 'a['"),
    c("key-like-a-list-index", "key_like_an_index.yaml", 6, 'segments."seg[1]".bogus',
      "unknown key 'bogus'"),
    c("key-like-a-pydantic-tag", "key_like_a_pydantic_tag.yaml", 6,
      'segments."[key]".customers', "expected a whole number", "found 'many'"),
    c("key-with-dot", "key_with_dot.yaml", 3, 'economics."p.ue"',
      "unknown key 'p.ue'", "did you mean 'pue'?"),
    c("key-with-quotes", "key_with_quotes.yaml", 4, 'provider.pools."h100 \\"\'x\'\\""',
      "unknown chip"),
    # --- control characters in keys and values are shown escaped, never raw
    c("key-with-escape-and-bell", "key_control_chars.yaml", 3, '"k\\u001b[31m\\u0007"',
      "unknown key 'k\\x1b[31m\\x07'"),
    c("key-with-newline", "key_newline.yaml", 3, 'economics."pue\\nrm -rf"',
      "unknown key 'pue\\nrm -rf'"),
    c("key-nul", "key_nul.yaml", 4, 'vendors.nvidia."\\u0000"', "unknown key '\\x00'"),
    c("value-with-escape-sequence", "value_control_chars.yaml", 3, "economics.pue",
      "found '\\x1b]0;owned\\x071.2'"),
    c("integer-beyond-float-range", "huge_integer.yaml", 2, "description",
      "expected text, found 1e+400"),
    c("integer-of-5000-digits", "too_many_digits.yaml", 2, "seed",
      "the number is too long", "at most 1000 digits", "found 5,001 digits"),
    # --- limits of a run
    c("warmup-not-shorter-than-horizon", "warmup_not_shorter.yaml", 3, "horizon.warmup_days",
      "warm-up of 365 days is not shorter than the 365-day horizon"),
    c("seed-above-2-63", "seed_too_large.yaml", 2, "seed",
      "expected a number <= 9,223,372,036,854,775,807", "found 9223372036854775808"),
    c("seed-negative", "seed_negative.yaml", 2, "seed", "expected a number >= 0, found -1"),
    # --- files that are not regular files
    c("extends-a-directory", "extends_directory.yaml", 2, "extends",
      "is a directory, not a regular file", "found '../data'"),
    c("extends-a-device", "extends_device.yaml", 2, "extends",
      "is a character device", "not a regular file", "found '/dev/zero'"),
    # --- --set with quoted keys
    c("set-quoted-key-wrong-type", "set_quoted_key.yaml", None, 'segments."a.b".customers',
      "expected a whole number", overrides=('segments."a.b".customers=many',),
      error_file="--set"),
    c("set-unclosed-quote", "set_quoted_key.yaml", None, 'segments."a.b',
      "quoted key not closed", overrides=('segments."a.b.customers=3',), error_file="--set"),
    c("set-quote-inside-a-key", "set_quoted_key.yaml", None, 'segments.a"b',
      "quote inside a key", overrides=('segments.a"b.customers=3',), error_file="--set"),
]  # fmt: skip


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)
    files = {p.name for p in MALFORMED.glob("*.yaml")}
    assert {case.file for case in CASES} <= files


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_malformed(case: Case) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(MALFORMED / case.file, case.overrides, catalog_files=CATALOG)
    err = info.value
    text = str(err)
    expected_file = case.error_file or case.file
    assert err.file is not None and err.file.endswith(expected_file), text
    assert err.line == case.line, text
    if case.line is not None:
        assert f"{expected_file}:{case.line}:" in text
    else:
        assert text.startswith(f"{expected_file}: ") or text.startswith(f"{err.file}: ")
    if case.key is not None:
        assert err.key is not None and err.key.startswith(case.key), text
        assert f"key '{case.key}" in text
    for fragment in case.fragments:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    assert text.isprintable(), f"a control character reached the message: {text!r}"
    if case.overrides and case.key is not None:
        assert err.found is not None  # --set errors quote the text given


def _expect_fast_error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, catalog_files=CATALOG)
    return info.value


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("description: '" + "x" * MAX_FILE_BYTES + "'\n")
    err = _expect_fast_error(big)
    assert "too large" in str(err) and err.file == str(big)


def test_list_over_the_length_limit(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    path.write_text("description: [" + "1," * MAX_ITEMS + "1]\n")
    err = _expect_fast_error(path)
    assert "too long" in str(err) and err.line == 1
    assert f"at most {MAX_ITEMS:,} items" in str(err)


def test_many_keys_fail_fast(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("".join(f"k{i}: {i}\n" for i in range(MAX_ITEMS + 1)))
    err = _expect_fast_error(path)
    assert "too many" in str(err)


def test_deep_nesting_within_the_size_limit_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    depth = MAX_FILE_BYTES // 4
    path.write_text("a: " + "[" * depth + "]" * depth + "\n")
    err = _expect_fast_error(path)
    assert "nested too deeply" in str(err)


def test_missing_scenario_file(tmp_path: Path) -> None:
    err = _expect_fast_error(tmp_path / "absent.yaml")
    assert "file not found" in str(err) and str(tmp_path / "absent.yaml") in str(err)


def test_every_error_lists_all_problems() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(MALFORMED / "only_a_name.yaml", catalog_files=CATALOG)
    details = info.value.details
    assert len(details) == 4  # horizon, economics, provider, segments
    assert all("only_a_name.yaml:2" in d and "missing required key" in d for d in details)
    assert "(+3 more errors, listed by xpusim validate)" in str(info.value)


def test_a_misspelt_required_key_is_one_error_at_its_line(tmp_path: Path) -> None:
    # `peu:` for `pue:` is an unknown key and a missing one: reported once, at the typo's
    # line (not the line of `economics:`), with the missing key as the suggestion.
    text = (HERE / "data" / "minimal.yaml").read_text(encoding="utf-8")
    lines = text.splitlines()
    typo_line = lines.index("  pue: 1.2") + 1
    path = tmp_path / "typo.yaml"
    path.write_text(text.replace("  pue: 1.2", "  peu: 1.2"), encoding="utf-8")
    err = _expect_fast_error(path)
    assert (err.line, err.key) == (typo_line, "economics.peu"), str(err)
    assert err.hint == "did you mean 'pue'?" and err.found == "'peu'"
    assert "more error" not in str(err) and len(err.details) == 1


def test_a_misspelt_key_far_from_every_missing_one_stays_two_errors(tmp_path: Path) -> None:
    text = (HERE / "data" / "minimal.yaml").read_text(encoding="utf-8")
    path = tmp_path / "far.yaml"
    path.write_text(text.replace("  pue: 1.2", "  power_usage: 1.2"), encoding="utf-8")
    err = _expect_fast_error(path)
    assert len(err.details) == 2 and "(+1 more error, listed by xpusim validate)" in str(err)
    assert any("missing required key 'pue'" in d for d in err.details)
    assert any("unknown key 'power_usage'" in d for d in err.details)


def test_many_invalid_values_are_counted_not_all_rendered(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    n = 20_000
    path.write_text(
        f"extends: {HERE / 'data' / 'minimal.yaml'}\n"
        "segments:\n  labs:\n    inference:\n"
        "      daily_profile: [" + ", ".join(["-1"] * n) + "]\n"
    )
    err = _expect_fast_error(path)
    assert err.line == 5 and err.key == "segments.labs.inference.daily_profile.0"
    assert f"(+{n - 1} more errors, listed by xpusim validate)" in str(err)
    assert len(err.details) == MAX_REPORTED + 1 and err.details[-1].startswith("... and")


def test_unknown_chip_used_by_a_segment() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(MALFORMED / "unknown_chip_used_in_platforms.yaml", catalog_files=CATALOG)
    assert info.value.line == 4 and info.value.key == "provider.pools.b200"
