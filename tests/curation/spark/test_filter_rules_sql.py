"""Rule.sql() on real Spark: over stored signal columns, SQL verdicts equal Rule.failed in Python, row for row.

Rows are the signals of a few texts, plus, for every rule, rows with its signal just below, at and just above the
threshold (all other signals None), plus an all-None row.
"""

from __future__ import annotations

import math

import pytest

from curation.filters import (
    Rule,
    any_failed_sql,
    c4_quality_rules,
    c4_quality_signals,
    failing,
    failing_sql,
    fineweb_quality_rules,
    fineweb_quality_signals,
    gopher_quality_rules,
    gopher_quality_signals,
    gopher_repetition_rules,
    gopher_repetition_signals,
)
from curation.filters.c4 import C4_QUALITY_SIGNALS
from curation.filters.fineweb import FINEWEB_QUALITY_SIGNALS
from curation.filters.gopher import GOPHER_QUALITY_SIGNALS, gopher_repetition_signal_types

TEXTS = [
    (
        "The river town of Millbrook sits at the bend of a slow, brown river. For most of the nineteenth century it "
        "was known for its paper mills, which drew water from the river and power from a series of small dams.\n\n"
        "Today the old mill buildings have been turned into apartments, a library and a small museum. Visitors can "
        "walk along the river path and read about the history of the town. It is open every day. Entry is free.\n",
        "en",
    ),
    ("Home\nAbout Us\nProducts\nContact\nPrivacy Policy\n© 2024 Example Corp. All rights reserved.\nHome\n", "en"),
    ("\n\n".join(["Buy cheap watches online now! Lorem ipsum {promo} prices, free shipping."] * 6), "en"),
    ("北京是中华人民共和国的首都。北京有着三千多年的建城史。每年都有数百万游客来到北京参观。", "zh"),
    ("", "en"),
    (None, "en"),
]

FAMILIES = {
    "gopher_quality": (gopher_quality_signals, gopher_quality_rules(), GOPHER_QUALITY_SIGNALS),
    "gopher_repetition": (gopher_repetition_signals, gopher_repetition_rules(), gopher_repetition_signal_types()),
    "c4": (c4_quality_signals, c4_quality_rules(), C4_QUALITY_SIGNALS),
    "fineweb": (fineweb_quality_signals, fineweb_quality_rules(), FINEWEB_QUALITY_SIGNALS),
}
# Every operator and literal kind, over one column of each type.
SYNTHETIC = (
    [
        Rule("d", op, t, f"d_{i}_{j}")
        for i, op in enumerate(["<", "<=", ">", ">=", "==", "!="])
        for j, t in enumerate([0.1, 1e-05, -2.5, 3])
    ]
    + [Rule("n", op, 5, f"n_{i}") for i, op in enumerate(["<", "<=", ">", ">=", "==", "!="])]
    + [Rule("b", op, t, f"b_{i}_{t}") for i, op in enumerate(["==", "!="]) for t in (True, False)]
)
SYNTHETIC_TYPES = {"d": float, "n": int, "b": bool}


def near(rule: Rule, kind: type) -> list:
    """Values of the rule's signal just below, at and just above its threshold."""
    t = rule.threshold
    if kind is bool:
        return [True, False]
    if kind is int:
        return [math.floor(t) - 1, math.floor(t), math.ceil(t), math.ceil(t) + 1, 0]
    return [math.nextafter(t, -math.inf), float(t), math.nextafter(t, math.inf), 0.0, 1.0]


def rows_for(rules: list[Rule], types: dict[str, type], signal_rows: list[dict]) -> list[dict]:
    rows = list(signal_rows) + [dict.fromkeys(types)]
    for rule in rules:
        rows += [{**dict.fromkeys(types), rule.signal: v} for v in near(rule, types[rule.signal])]
    return rows


def check(spark, rules: list[Rule], types: dict[str, type], rows: list[dict]) -> None:
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, DoubleType, LongType, StructField, StructType

    spark_type = {int: LongType(), float: DoubleType(), bool: BooleanType()}
    schema = StructType(
        [StructField("id", LongType(), False)] + [StructField(k, spark_type[t], True) for k, t in types.items()]
    )
    df = spark.createDataFrame([(i, *(row[k] for k in types)) for i, row in enumerate(rows)], schema)
    out = df.select(
        "id",
        *(F.expr(rule.sql()).alias(f"r{i}") for i, rule in enumerate(rules)),
        F.expr(failing_sql(rules)).alias("reasons"),
        F.expr(any_failed_sql(rules)).alias("any_failed"),
    ).collect()
    assert len(out) == len(rows)
    for got in out:
        signals = rows[got["id"]]
        sql_verdicts = [got[f"r{i}"] for i in range(len(rules))]
        assert sql_verdicts == [rule.failed(signals) for rule in rules], signals
        assert got["reasons"] == failing(rules, signals), signals
        assert got["any_failed"] is bool(failing(rules, signals)), signals


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_rules_sql_equal_python(spark, family):
    signals_of, rules, types = FAMILIES[family]
    texts = [signals_of(text, lang) for text, lang in TEXTS]
    rows = rows_for(rules, types, texts)
    # The texts exercise both verdicts for some rule of every family (the all-None row fails nothing).
    assert any(failing(rules, r) for r in texts) and not failing(rules, dict.fromkeys(types))
    check(spark, rules, types, rows)


def test_synthetic_rules_sql_equal_python(spark):
    check(spark, SYNTHETIC, SYNTHETIC_TYPES, rows_for(SYNTHETIC, SYNTHETIC_TYPES, []))
