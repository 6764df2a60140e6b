"""SQL over the lakehouse, the pure parts: the read-only guard and result formatting (no pyspark)."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from datetime import date, datetime
from decimal import Decimal

READ_FIRST_WORDS = {"SELECT", "WITH", "DESCRIBE", "DESC", "SHOW", "EXPLAIN", "VALUES", "TABLE", "FROM"}
WRITE_WORDS = {
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "OPTIMIZE",
    "VACUUM",
    "RESTORE",
    "REPLACE",
    "CACHE",
    "UNCACHE",
    "REFRESH",
    "MSCK",
    "LOAD",
    "CLONE",
    "CONVERT",
    "REORG",
    "ANALYZE",
    "SET",
    "RESET",
    "USE",
    "ADD",
    "GRANT",
    "REVOKE",
}

_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<line>--[^\n]*)|(?P<block>/\*.*?\*/)|(?P<str>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")"""
    r"""|(?P<ident>`(?:[^`]|``)*`)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<semi>;)|(?P<other>.)""",
    re.S,
)


def statements(sql: str) -> list[str]:
    """The text of each statement, split on semicolons outside strings, quoted identifiers and comments."""
    parts: list[list[str]] = [[]]
    for m in _TOKEN.finditer(sql):
        if m.lastgroup == "semi":
            parts.append([])
        else:
            parts[-1].append(m.group())
    return [text for text in ("".join(p) for p in parts) if text.strip()]


def split_statements(sql: str) -> list[list[str]]:
    """Statements as lists of upper-cased bare words (strings, quoted identifiers and comments dropped)."""
    out = []
    for text in statements(sql):
        words = [
            m.group().upper() if m.lastgroup == "word" else m.group()
            for m in _TOKEN.finditer(text)
            if m.lastgroup in ("word", "other")
        ]
        if words:
            out.append(words)
    return out


def write_reason(sql: str) -> str | None:
    """None when every statement only reads; otherwise the word that makes it a write."""
    statements = split_statements(sql)
    if not statements:
        return "an empty statement"
    for words in statements:
        bare = [w for w in words if w[0].isalpha() or w[0] == "_"]
        if not bare:
            return "no SQL keyword"
        first = bare[0]
        if first not in READ_FIRST_WORDS:
            return first
        if first in ("WITH", "FROM", "EXPLAIN"):  # a CTE or EXPLAIN can wrap a write
            for w in bare:
                if w in ("INSERT", "UPDATE", "DELETE", "MERGE") or (first == "EXPLAIN" and w in WRITE_WORDS):
                    return w
    return None


def plain(value):
    """A Spark value as JSON-able data: timestamps ISO 8601, binary base64, structs as objects."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "asDict"):
        return {k: plain(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)


def cell(value, width: int | None) -> str:
    if value is None:
        text = "NULL"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        text = f"<{len(value):,} bytes>"
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, (dict, list, tuple)) or hasattr(value, "asDict"):
        text = json.dumps(plain(value), ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    text = text.replace("\n", "\\n").replace("\r", "\\r").replace("\t", " ")
    if width is not None and len(text) > width:
        text = text[: max(1, width - 1)] + "…"
    return text


def format_table(columns: list[str], rows: list[tuple], max_width: int | None = 60) -> str:
    """An aligned text table; numbers right-aligned, long cells cut to ``max_width`` with an ellipsis."""
    cells = [[cell(v, max_width) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    numeric = [
        all(
            isinstance(row[i], (int, float, Decimal)) and not isinstance(row[i], bool) or row[i] is None for row in rows
        )
        and any(row[i] is not None for row in rows)
        for i in range(len(columns))
    ]

    def line(values: list[str]) -> str:
        return " | ".join(
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(columns), "-+-".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def format_json(columns: list[str], rows: list[tuple]) -> str:
    """A JSON array of row objects."""
    return json.dumps([{c: plain(v) for c, v in zip(columns, row, strict=True)} for row in rows], ensure_ascii=False)


def format_csv(columns: list[str], rows: list[tuple]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow(
            [
                "" if v is None else (json.dumps(plain(v)) if isinstance(plain(v), (dict, list)) else plain(v))
                for v in row
            ]
        )
    return buf.getvalue().rstrip("\n")
