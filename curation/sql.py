"""SQL over the lakehouse, the pure parts: the read-only guard and result formatting (no pyspark)."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal

# A statement may start with one of these and still only read (a query, a description, a plan).
READ_FIRST_WORDS = {"SELECT", "WITH", "DESCRIBE", "DESC", "SHOW", "EXPLAIN", "VALUES", "TABLE", "FROM"}
# Every other first word is refused: writes (INSERT, MERGE, DELETE, UPDATE, CREATE, DROP, ALTER, TRUNCATE, OPTIMIZE,
# VACUUM, RESTORE, REPLACE, REORG, CONVERT, COMMENT ON, REPAIR/MSCK, LOAD DATA, COPY), statements that change the
# session or reach outside the data (SET, RESET, USE, CACHE, UNCACHE, CLEAR CACHE, REFRESH, ADD JAR/FILE/ARCHIVE,
# LIST, CALL, EXECUTE IMMEDIATE, DECLARE, BEGIN … END scripts), and any statement a later Spark adds.

# Statement keywords refused after EXPLAIN too (it runs nothing, but the user meant to run what it explains). A
# statement starting with WITH or FROM is a write when it holds INSERT INTO, DELETE FROM, … (:func:`_starts_write`).
STATEMENT_WORDS = {"INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "DROP", "ALTER", "TRUNCATE", "OPTIMIZE"}
STATEMENT_WORDS |= {"VACUUM", "RESTORE", "REPLACE", "CACHE", "UNCACHE", "REFRESH", "MSCK", "LOAD", "CLONE"}
STATEMENT_WORDS |= {"CONVERT", "REORG", "ANALYZE", "SET", "RESET", "USE", "ADD", "GRANT", "REVOKE", "CALL"}
STATEMENT_WORDS |= {"EXECUTE", "DECLARE", "COPY"}

# Built-in functions of Spark 4.2 that reach outside the data: each calls a static Java method named by its
# arguments (``reflect('java.lang.System', 'exit', 1)`` ends the JVM). Checked against ``SHOW FUNCTIONS``: the
# others compute on their arguments or describe the query's own input (input_file_name, current_user, version, …).
REFUSED_FUNCTIONS = {"reflect", "java_method", "try_reflect"}


def _tokens(sql: str) -> list[tuple[str, str, int]]:
    """``(kind, text, offset)``, kind one of word, ident (a back-quoted name, unquoted), str, semi, other; white
    space and comments dropped. Follows Spark's lexer wherever a difference could hide a word: nested ``/* */``
    comments, ``''`` and backslash escapes in strings, raw strings (``r'\\'``). An optimizer hint ``/*+ … */`` is
    read as code: its arguments are expressions."""
    out: list[tuple[str, str, int]] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c.isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*+", i):
            i += 3
        elif sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                step = sql[i : i + 2]
                depth += (step == "/*") - (step == "*/")
                i += 2 if step in ("/*", "*/") else 1
        elif c in "rR" and sql[i + 1 : i + 2] in ("'", '"'):  # a raw string: no escapes
            end = sql.find(sql[i + 1], i + 2)
            end = n if end < 0 else end + 1
            out.append(("str", sql[i:end], i))
            i = end
        elif c in "'\"":
            j = i + 1
            while j < n and not (sql[j] == c and not sql.startswith(c * 2, j)):
                j += 2 if sql[j] == "\\" or sql.startswith(c * 2, j) else 1
            out.append(("str", sql[i : j + 1], i))
            i = j + 1
        elif c == "`":
            j = i + 1
            while j < n and not (sql[j] == "`" and not sql.startswith("``", j)):
                j += 2 if sql.startswith("``", j) else 1
            out.append(("ident", sql[i + 1 : j].replace("``", "`"), i))
            i = j + 1
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            out.append(("word", sql[i:j], i))
            i = j
        else:
            out.append(("semi" if c == ";" else "other", c, i))
            i += 1
    return out


def statements(sql: str) -> list[str]:
    """The text of each statement, split on semicolons outside strings, quoted identifiers and comments."""
    parts, start = [], 0
    for kind, _, pos in _tokens(sql):
        if kind == "semi":
            parts.append(sql[start:pos])
            start = pos + 1
    parts.append(sql[start:])
    return [p for p in parts if _tokens(p)]


def _starts_write(word: str, nxt: tuple[str, str]) -> bool:
    """``word`` followed by ``nxt`` begins INSERT INTO/OVERWRITE, DELETE FROM, MERGE INTO or UPDATE name (and not a
    column named update: ``SELECT update FROM t``)."""
    follows = {"INSERT": {"INTO", "OVERWRITE"}, "DELETE": {"FROM"}, "MERGE": {"INTO"}}
    if word in follows:
        return nxt[1] in follows[word]
    return word == "UPDATE" and nxt[0] in ("word", "ident") and nxt[1] not in ("FROM", "WHERE", "AS")


def refusal(sql: str) -> str | None:
    """None when every statement only reads the data; otherwise what read-only SQL refuses, named: a statement's
    keyword (``DELETE``, ``CALL``, ``SET``), a function (``reflect()``), ``TRANSFORM … USING`` (a script transform
    runs a shell command), or ``an empty statement``."""
    texts = statements(sql)
    if not texts:
        return "an empty statement"
    for text in texts:
        tokens = [(k, t.upper() if k == "word" else t) for k, t, _ in _tokens(text)]
        words = [t for k, t in tokens if k == "word"]
        if not words or tokens[0][0] not in ("word", "other"):
            return "a statement without a SQL keyword"
        if words[0] not in READ_FIRST_WORDS:
            return words[0]
        for i, (kind, tok) in enumerate(tokens):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
            prev = tokens[i - 1][1] if i else ""
            name = tok.lower() if kind in ("word", "ident") else None
            if name in REFUSED_FUNCTIONS and nxt[1] == "(":
                return f"{name}()"
            if kind == "word" and tok == "USING" and nxt[0] == "str":
                return "TRANSFORM … USING (a script transform runs a shell command)"
            keyword = kind == "word" and nxt[1] != "(" and prev not in (".", "AS")  # not a function or column name
            if keyword and words[0] in ("WITH", "FROM") and _starts_write(tok, nxt):
                return tok
            if keyword and words[0] == "EXPLAIN" and tok in STATEMENT_WORDS:
                return tok
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
