"""A rule: one threshold over one stored signal column, checkable in Python and as SQL.

``Rule("gopher_word_count", "<", 50, "gopher_short_doc")`` fails a document whose ``gopher_word_count`` is below 50.
A missing or ``None`` signal never fails (documents without text, or scripts where the signal is undefined), and the
SQL form keeps that promise with ``coalesce(..., false)``, so Python and SQL verdicts agree row for row.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_SQL_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "==": "=", "!=": "<>"}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_COLUMN = re.compile(r"[A-Za-z_`][A-Za-z0-9_.`]*\Z")


@dataclass(frozen=True)
class Rule:
    """A document fails this rule when ``signals[signal] <op> threshold`` holds (and the signal is not None)."""

    signal: str
    """Signal column name (a plain SQL identifier)."""
    op: str
    """One of ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``; boolean thresholds take only ``==`` and ``!=``."""
    threshold: float | bool
    """A finite number (ints allowed) or a boolean."""
    reason: str
    """The name a failing document is annotated with (a plain identifier, e.g. ``gopher_short_doc``)."""

    def __post_init__(self) -> None:
        if not _IDENT.match(self.signal):
            raise ValueError(f"signal must be a plain identifier, got {self.signal!r}")
        if self.op not in OPS:
            raise ValueError(f"op must be one of {sorted(OPS)}, got {self.op!r}")
        if not _IDENT.match(self.reason):
            raise ValueError(f"reason must be a plain identifier, got {self.reason!r}")
        if isinstance(self.threshold, bool):
            if self.op not in ("==", "!="):
                raise ValueError(f"a boolean threshold takes == or !=, got {self.op!r}")
        elif not isinstance(self.threshold, int | float) or not math.isfinite(self.threshold):
            raise ValueError(f"threshold must be a finite number or a boolean, got {self.threshold!r}")

    def failed(self, signals: Mapping[str, Any]) -> bool:
        """True when the document fails; a missing, None (or NaN) signal never fails."""
        value = signals.get(self.signal)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return bool(OPS[self.op](value, self.threshold))

    def sql(self, column: str | None = None) -> str:
        """A SQL boolean expression that is TRUE exactly when the rule fails, FALSE otherwise (never NULL).

        ``column`` replaces the signal name, e.g. ``"s.gopher_word_count"`` for a struct field or a table alias.
        """
        col = self.signal if column is None else column
        if not _COLUMN.match(col):
            raise ValueError(f"column must be a (qualified) identifier, got {col!r}")
        return f"coalesce({col} {_SQL_OPS[self.op]} {_literal(self.threshold)}, false)"


def _literal(value: float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def failing(rules: Iterable[Rule], signals: Mapping[str, Any]) -> list[str]:
    """Reasons of the rules the document fails, in rule order."""
    return [rule.reason for rule in rules if rule.failed(signals)]


def failing_sql(rules: Iterable[Rule]) -> str:
    """A Spark SQL expression (``array<string>``) listing the reasons of the failed rules, in rule order."""
    cases = [f"CASE WHEN {rule.sql()} THEN '{rule.reason}' END" for rule in rules]
    if not cases:
        return "CAST(array() AS array<string>)"
    return f"filter(array({', '.join(cases)}), r -> r IS NOT NULL)"


def any_failed_sql(rules: Iterable[Rule]) -> str:
    """A SQL boolean expression, TRUE when any rule fails (``false`` for no rules)."""
    parts = [rule.sql() for rule in rules]
    return "(" + " OR ".join(parts) + ")" if parts else "false"
