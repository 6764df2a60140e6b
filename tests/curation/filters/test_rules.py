"""Rule: the Python verdict, the SQL text, validation, and the family rule sets as a whole."""

from __future__ import annotations

import pytest

from curation.filters import (
    Rule,
    any_failed_sql,
    c4_quality_rules,
    failing,
    failing_sql,
    fineweb_quality_rules,
    gopher_quality_rules,
    gopher_repetition_rules,
)
from curation.filters.c4 import C4_QUALITY_SIGNALS
from curation.filters.fineweb import FINEWEB_QUALITY_SIGNALS
from curation.filters.gopher import GOPHER_QUALITY_SIGNALS, gopher_repetition_signal_types


@pytest.mark.parametrize(
    ("op", "verdicts"),
    [
        ("<", [True, False, False]),
        ("<=", [True, True, False]),
        (">", [False, False, True]),
        (">=", [False, True, True]),
        ("==", [False, True, False]),
        ("!=", [True, False, True]),
    ],
)
def test_failed_per_operator(op, verdicts):
    rule = Rule("x", op, 0.5, "r")
    assert [rule.failed({"x": v}) for v in (0.25, 0.5, 0.75)] == verdicts
    # Missing, None and NaN never fail, whatever the operator.
    assert not rule.failed({}) and not rule.failed({"x": None}) and not rule.failed({"x": float("nan")})


def test_failed_boolean_and_integer():
    rule = Rule("c4_has_lorem_ipsum", "==", True, "c4_lorem_ipsum")
    assert rule.failed({"c4_has_lorem_ipsum": True})
    assert not rule.failed({"c4_has_lorem_ipsum": False})
    assert not rule.failed({"c4_has_lorem_ipsum": None})
    assert Rule("flag", "!=", True, "r").failed({"flag": False})
    short = Rule("gopher_word_count", "<", 50, "gopher_short_doc")
    assert short.failed({"gopher_word_count": 49}) and not short.failed({"gopher_word_count": 50})
    assert short.failed({"gopher_word_count": 0})


def test_sql_text():
    assert Rule("gopher_word_count", "<", 50, "gopher_short_doc").sql() == "coalesce(gopher_word_count < 50, false)"
    assert Rule("a", "<=", 0.1, "r").sql() == "coalesce(a <= 0.1, false)"
    assert Rule("a", ">", 0.3, "r").sql() == "coalesce(a > 0.3, false)"
    assert Rule("a", ">=", 3.0, "r").sql() == "coalesce(a >= 3.0, false)"
    assert Rule("a", "==", 2, "r").sql() == "coalesce(a = 2, false)"
    assert Rule("a", "!=", 2, "r").sql() == "coalesce(a <> 2, false)"
    assert Rule("a", "<", 1e-05, "r").sql() == "coalesce(a < 1e-05, false)"
    assert Rule("a", ">", -2.5, "r").sql() == "coalesce(a > -2.5, false)"
    assert Rule("flag", "==", True, "r").sql() == "coalesce(flag = true, false)"
    assert Rule("flag", "!=", False, "r").sql() == "coalesce(flag <> false, false)"
    assert Rule("a", "<", 1, "r").sql("s.a") == "coalesce(s.a < 1, false)"
    assert Rule("a", "<", 1, "r").sql("`t`.`a`") == "coalesce(`t`.`a` < 1, false)"
    with pytest.raises(ValueError, match="column"):
        Rule("a", "<", 1, "r").sql("a; DROP TABLE x")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("a b", "<", 1, "r"), "signal"),
        (("a", "=", 1, "r"), "op"),
        (("a", "<", 1, "bad reason"), "reason"),
        (("a", "<", True, "r"), "boolean"),
        (("a", "<", float("nan"), "r"), "finite"),
        (("a", "<", float("inf"), "r"), "finite"),
        (("a", "<", "1", "r"), "finite"),
        (("a", "<", None, "r"), "finite"),
    ],
)
def test_validation(args, message):
    with pytest.raises(ValueError, match=message):
        Rule(*args)


def test_failing_and_its_sql():
    rules = [Rule("b", ">", 1, "second_in_name_first_in_order"), Rule("a", "<", 1, "a_low"), Rule("f", "==", True, "f")]
    assert failing(rules, {"a": 0, "b": 2, "f": True}) == ["second_in_name_first_in_order", "a_low", "f"]
    assert failing(rules, {"a": 0, "b": None}) == ["a_low"]
    assert failing(rules, {}) == [] and failing([], {"a": 0}) == []
    assert failing_sql(rules[:2]) == (
        "filter(array(CASE WHEN coalesce(b > 1, false) THEN 'second_in_name_first_in_order' END, "
        "CASE WHEN coalesce(a < 1, false) THEN 'a_low' END), r -> r IS NOT NULL)"
    )
    assert failing_sql([]) == "CAST(array() AS array<string>)"
    assert any_failed_sql(rules[:2]) == "(coalesce(b > 1, false) OR coalesce(a < 1, false))"
    assert any_failed_sql([]) == "false"


@pytest.mark.parametrize(
    ("rules", "types"),
    [
        (gopher_quality_rules(), GOPHER_QUALITY_SIGNALS),
        (gopher_repetition_rules(), gopher_repetition_signal_types()),
        (c4_quality_rules(), C4_QUALITY_SIGNALS),
        (fineweb_quality_rules(), FINEWEB_QUALITY_SIGNALS),
    ],
    ids=["gopher_quality", "gopher_repetition", "c4", "fineweb"],
)
def test_family_rules_name_their_own_columns(rules, types):
    assert rules, "a family without rules"
    assert {r.signal for r in rules} <= types.keys()
    prefix = rules[0].reason.split("_")[0]
    assert all(r.reason.startswith(prefix + "_") and r.signal.startswith(prefix + "_") for r in rules)
    for rule in rules:
        assert (types[rule.signal] is bool) == isinstance(rule.threshold, bool)
        assert rule.sql().startswith(f"coalesce({rule.signal} ")


def test_reasons_are_unique_across_families():
    reasons = [
        r.reason
        for rules in (gopher_quality_rules(), gopher_repetition_rules(), c4_quality_rules(), fineweb_quality_rules())
        for r in rules
    ]
    assert len(reasons) == len(set(reasons)) == 10 + 13 + 3 + 5
