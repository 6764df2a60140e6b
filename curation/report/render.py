"""The report as one self-contained ``index.html`` (inline CSS, figures as ``data:image/png`` URIs, no script, no
external URL) plus each figure as a PNG under ``figures/``.

Every value that comes from data (URLs, run ids, reasons, SQL filters) goes through :func:`esc`. A section whose
data is absent still appears, with one "not available" line saying why and which command produces it.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from curation.report.model import (
    SECTIONS,
    FunnelRun,
    ReportData,
    format_number,
)


def esc(value: Any) -> str:
    """HTML-escaped text of a value (None → empty)."""
    return "" if value is None else html.escape(str(value), quote=True)


# ---------------------------------------------------------------------------------------------------------- figures
def build_figures(data: ReportData) -> dict[str, list]:
    """Section id → its figures (:class:`curation.report.figures.Figure`), for the sections that have data."""
    from curation.report import figures as F

    out: dict[str, list] = {k: [] for k in SECTIONS}
    for i, run in enumerate(data.funnel or []):
        out["funnel"].append(F.funnel_figure(run, i))
    if data.languages:
        out["languages"].append(F.languages_figure(data.languages))
    if data.signals:
        for i, (title, hists) in enumerate(data.signals.groups.items()):
            if hists:
                out["signals"].append(F.signals_figure(title, hists, i))
    if data.classifiers:
        out["classifiers"].append(F.classifiers_figure(data.classifiers))
    if data.duplicates:
        out["duplicates"].append(F.duplicates_figure(data.duplicates))
    if data.tokens and data.tokens.mixture and data.tokens.mixture.components:
        out["tokens"].append(F.tokens_figure(data.tokens.mixture))
    if data.training and data.training.steps:
        out["training"].append(F.training_figure(data.training))
    if data.lineage and data.lineage.stages:
        out["lineage"].append(F.stages_figure(data.lineage.stages))
    return out


def write_report(data: ReportData, out_dir: str | Path) -> Path:
    """Write ``out_dir/index.html`` and ``out_dir/figures/*.png``; returns the path of ``index.html``."""
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    figures = build_figures(data)
    for figs in figures.values():
        for f in figs:
            (out / "figures" / f.name).write_bytes(f.png)
    index = out / "index.html"
    tmp = index.with_suffix(".html.tmp")
    tmp.write_text(render_html(data, figures), encoding="utf-8")
    tmp.replace(index)
    return index


# ------------------------------------------------------------------------------------------------------------- html
CSS = """
:root { --ink:#1a202c; --muted:#718096; --line:#e2e8f0; --accent:#2b6cb0; --bg:#f7fafc; --bad:#c53030; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
       color: var(--ink); background: var(--bg); }
header { background:#1a365d; color:#fff; padding: 18px 32px 14px; }
header h1 { margin:0 0 4px; font-size:22px; }
header .meta { margin:0; color:#cbd5e0; font-size:12.5px; }
header .meta code { color:#fff; background: rgba(255,255,255,.14); }
nav { margin-top:10px; display:flex; flex-wrap:wrap; gap:6px; }
nav a { color:#fff; text-decoration:none; background:rgba(255,255,255,.12); padding:3px 10px; border-radius:12px;
        font-size:12.5px; }
nav a.na { opacity:.55; }
main { max-width: 1240px; margin: 0 auto; padding: 8px 24px 40px; }
.cards { display:grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap:10px; margin:16px 0 4px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
.card .v { font-size:21px; font-weight:700; }
.card .k { color:var(--muted); font-size:12px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding: 6px 22px 18px;
          margin: 18px 0; }
h2 { font-size:19px; margin:14px 0 6px; border-bottom:2px solid var(--accent); padding-bottom:4px; }
h3 { font-size:15px; margin:18px 0 4px; }
p.na { color: var(--bad); font-style: italic; background:#fff5f5; border-left:3px solid var(--bad);
       padding:6px 10px; }
p.note { color: var(--muted); margin: 2px 0 8px; font-size: 13px; }
p.warn { color:#975a16; background:#fffff0; border-left:3px solid #d69e2e; padding:6px 10px; }
figure { margin: 8px 0 10px; }
figure img { display:block; max-width:100%; height:auto; border:1px solid var(--line); border-radius:4px; }
figcaption { color: var(--muted); font-size: 11.5px; margin-top: 2px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 12.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 4px; text-align:left; vertical-align: top; }
th { background: #edf2f7; font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:hover td { background: #f7fafc; }
tr.zero td { color: #a0aec0; }
code { font: 12px/1.35 "DejaVu Sans Mono", Menlo, Consolas, monospace; background:#edf2f7; padding:0 3px;
       border-radius:3px; word-break: break-all; }
.scroll { overflow-x: auto; }
td small { color: var(--muted); font-size: 11px; word-break: break-all; }
details summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
footer { text-align:center; color: var(--muted); font-size: 12px; padding: 10px 0 30px; }
"""


def _table(
    columns: list[str],
    rows: list[list[Any]],
    numeric: set[str] = frozenset(),
    raw: set[str] = frozenset(),
    row_classes: list[str] | None = None,
) -> str:
    """A table; ``numeric`` columns are right-aligned and formatted, ``raw`` columns are trusted HTML (built here
    from escaped parts), every other cell is escaped. ``row_classes``: a CSS class per row ("" for none)."""
    head = "".join(f'<th class="n">{esc(c)}</th>' if c in numeric else f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for c, v in zip(columns, row, strict=True):
            if c in raw:
                cells.append(f"<td>{v}</td>")
            elif c in numeric:
                cells.append(f'<td class="n">{esc(format_number(v) if v is not None else "–")}</td>')
            else:
                cells.append(f"<td>{esc(v) if v is not None else '–'}</td>")
        cls = row_classes[i] if row_classes else ""
        body.append((f'<tr class="{cls}">' if cls else "<tr>") + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _figure(fig) -> str:
    b64 = base64.b64encode(fig.png).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{b64}" alt="{esc(fig.alt)}">'
        f"<figcaption>{esc(fig.alt)} — <code>figures/{esc(fig.name)}</code></figcaption></figure>"
    )


def _na(why: str) -> str:
    return f'<p class="na">not available: {esc(why)}</p>'


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _lines(d: dict, limit: int = 8) -> str:
    """``{"documents": 5, "path": "/a/b/c/d"}`` → ``documents=5<br>path=…/c/d`` (escaped; paths keep their tail)."""
    parts = []
    for k, v in list(d.items())[:limit]:
        text = str(v if isinstance(v, str | int | float | bool) or v is None else json.dumps(v, default=str))
        if "/" in text and len(text) > 36:
            text = "…/" + "/".join(text.rstrip("/").split("/")[-2:])
        parts.append(f"{esc(k)}={esc(_short(text, 36))}")
    more = f"<br>… {len(d) - limit} more" if len(d) > limit else ""
    return "<br>".join(parts) + more


def _stage_status(s) -> str:
    """A stage's status; a skipped stage says which run built what it reused, and how long that took."""
    out = esc(s.status)
    if s.status == "skipped" and s.reused_run_id:
        took = f" in {format_number(s.built_seconds)} s" if s.built_seconds is not None else ""
        out += f"<br><small>built{took} by {esc(s.reused_run_id)}</small>"
    return out


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------------------------------------------------- sections
def _funnel(data: ReportData, figs: list) -> str:
    parts = [
        '<p class="note">The latest run of each job that decided documents (kept + dropped > 0), or the stages of '
        "the pipeline run. <b>in</b>: documents entering the stage; <b>dropped</b>: documents whose first failing "
        "rule is in it; a rule later in the order can fail documents an earlier one dropped (“fails”).</p>"
    ]
    for run, fig in zip(data.funnel, figs, strict=True):
        parts.append(f"<h3>{esc(run.job)} run <code>{esc(run.run_id)}</code></h3>")
        version = f"documents v{run.documents_version}" if run.documents_version is not None else ""
        note = "; ".join(x for x in (run.created_at, version, run.note) if x)
        parts.append(f'<p class="note">{esc(note)}</p>')
        parts.append(_figure(fig))
        parts.append(_funnel_table(run))
    if data.stats_runs:
        rows = [
            [r["run_id"], r["job"], str(r["created_at"])[:19], r["records"], r["decided"], r["kept"]]
            for r in data.stats_runs
        ]
        parts.append(f"<details><summary>All {len(rows)} runs in stats</summary>")
        parts.append(
            _table(
                ["run", "job", "created", "records in", "decided", "kept"],
                rows,
                numeric={"records in", "decided", "kept"},
            )
        )
        parts.append("</details>")
    return "".join(parts)


def _funnel_table(run: FunnelRun) -> str:
    rows: list[list[Any]] = [["records in", run.records_in, None, None, None, None, ""]]
    if run.skipped_reasons:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(run.skipped_reasons.items(), key=lambda x: -x[1]))
        rows.append(["skipped (read)", sum(run.skipped_reasons.values()), None, None, None, None, reasons])
    if run.read_errors:
        reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(run.read_errors.items(), key=lambda x: -x[1]))
        rows.append(["errored (read)", None, None, sum(run.read_errors.values()), None, None, reasons])
    for s in run.stages:
        reasons = ", ".join(
            f"{k} {v:,}" + (f" (fails {s.failed[k]:,})" if s.failed.get(k, v) != v else "")
            for k, v in sorted(s.reasons.items(), key=lambda x: -x[1])
        )
        rate = None if s.docs_per_s is None else round(s.docs_per_s)
        secs = None if s.seconds is None else round(s.seconds, 3)
        rows.append([s.stage, s.entered, s.dropped, s.errored, secs, rate, reasons])
    rows.append(["kept", run.kept, None, None, None, None, ""])
    check = "OK" if run.reconciles else "MISMATCH"
    line = (
        f'<p class="note">reconcile: records in {run.records_in:,} = kept {run.kept:,} + dropped {run.dropped:,} + '
        f"skipped {run.skipped:,} + errored {run.errored:,} [{check}]</p>"
    )
    cols = ["stage", "in", "dropped", "errored", "task seconds", "docs/s", "reasons (first failing)"]
    return _table(cols, rows, numeric={"in", "dropped", "errored", "task seconds", "docs/s"}) + line


def _languages(data: ReportData, figs: list) -> str:
    langs = sorted(data.languages, key=lambda r: (-r.documents, r.language or ""))
    total = sum(r.documents for r in langs) or 1
    rows = [
        [
            r.language or "(none)",
            r.documents,
            _pct(r.documents / total),
            r.kept,
            _pct(r.kept / r.documents if r.documents else None),
        ]
        for r in langs[:25]
    ]
    more = f'<p class="note">{len(langs) - 25} more languages not listed</p>' if len(langs) > 25 else ""
    none = next((r for r in langs if r.language is None), None)
    note = (
        f'<p class="note">"(none)": {none.documents:,} documents without a language (imported text, or no text '
        "was extracted).</p>"
        if none
        else ""
    )
    table = _table(["language", "documents", "share", "kept", "kept share"], rows, numeric={"documents", "kept"})
    return "".join(_figure(f) for f in figs) + note + table + more


def _signals(data: ReportData, figs: list) -> str:
    s = data.signals
    cls = "warn" if s.config_is_default else "note"
    parts = [
        f'<p class="{cls}">Thresholds: {esc(s.config_source)}.</p>',
        f'<p class="note">{s.documents:,} documents have signals (text extracted by curate/extract); grey: all of them,'
        " blue: those the current verdict keeps. Red dashed lines: the drop thresholds (a document fails beyond the"
        " line, on the side the operator names); an arrow at an edge names a threshold far outside the data.</p>",
    ]
    parts += [_figure(f) for f in figs]
    rows = [[r.stage, r.signal, r.op, format_number(r.threshold), r.reason, r.failing, r.first] for r in s.rules]
    parts.append("<h3>Every rule of that config, on the documents version read</h3>")
    parts.append(
        _table(
            ["stage", "signal", "op", "threshold", "reason", "failing (any)", "dropped by it (first)"],
            rows,
            numeric={"failing (any)", "dropped by it (first)"},
            row_classes=["" if r.failing else "zero" for r in s.rules],
        )
    )
    return "".join(parts)


def _classifiers(data: ReportData, figs: list) -> str:
    parts = [_figure(f) for f in figs]
    rows = []
    for c in data.classifiers:
        m = c.metrics
        rule = next(iter(c.histogram.thresholds), None)
        rows.append(
            [
                c.name,
                ", ".join(f"{k} ({v:,})" for k, v in sorted(c.models.items())) or "–",
                c.scored,
                c.histogram.nulls,
                f"{rule.op} {format_number(rule.value)} → {rule.reason}" if rule else "no rule",
                c.threshold_source,
                m.get("threshold"),
                m.get("test_macro_f1"),
                m.get("test_positive_f1"),
                m.get("test_roc_auc"),
            ]
        )
    cols = [
        "classifier",
        "models (documents)",
        "scored",
        "not scored",
        "drop rule",
        "rule from",
        "operating thr.",
        "test macro-F1",
        "test positive F1",
        "test ROC AUC",
    ]
    parts.append(
        _table(
            cols,
            rows,
            numeric={"scored", "not scored", "operating thr.", "test macro-F1", "test positive F1", "test ROC AUC"},
        )
    )
    return "".join(parts)


def _urls(urls: list[str], limit: int = 4) -> str:
    shown = "<br>".join(f"<code>{esc(_short(u, 110))}</code>" for u in urls[:limit])
    return shown + (f"<br>… {len(urls) - limit} more" if len(urls) > limit else "")


def _duplicates(data: ReportData, figs: list) -> str:
    d = data.duplicates
    parts = [
        f'<p class="note">{d.clusters:,} clusters hold {d.documents:,} documents; {d.duplicates:,} are duplicates of '
        f"a survivor ({d.exact:,} exact, {d.near:,} near). {esc(d.dedup_config)}</p>"
    ]
    parts += [_figure(f) for f in figs]
    rows = [
        [
            f"<code>{esc(c.cluster_id)}</code>",
            c.size,
            c.exact,
            c.near,
            c.min_similarity,
            f"<code>{esc(c.survivor_url)}</code>" if c.survivor_url else "–",
            _urls(c.urls),
        ]
        for c in d.largest
    ]
    parts.append(f"<h3>The {len(rows)} largest clusters</h3>")
    parts.append(
        _table(
            ["cluster (survivor doc_id)", "size", "exact", "near", "min similarity", "survivor URL", "duplicate URLs"],
            rows,
            numeric={"size", "exact", "near", "min similarity"},
            raw={"cluster (survivor doc_id)", "survivor URL", "duplicate URLs"},
        )
    )
    return "".join(parts)


def _tokens(data: ReportData, figs: list) -> str:
    t = data.tokens
    parts = []
    m = t.mixture
    if m is None:
        parts.append(_na(t.note or "no mixture pinned: run `lakeforge mix mixture.yaml`"))
    else:
        facts = [f"mixture <b>{esc(m.name)}</b> <code>{esc(m.mixture_id)}</code>"]
        if m.created_at:
            facts.append(f"pinned {esc(m.created_at)}")
        if m.seq_length:
            facts.append(f"seq_length {m.seq_length:,}")
        if m.tokens_budget:
            facts.append(f"budget {m.tokens_budget:,} tokens")
        parts.append(f'<p class="note">{"; ".join(facts)}</p>')
        if m.path:
            parts.append(f'<p class="note">blend: <code>{esc(m.path)}</code>{esc(m.chosen_because)}</p>')
        parts += [_figure(f) for f in figs]
        total = m.total_tokens or 1
        rows = [
            [
                c.name,
                f"<code>{esc(c.shard_set_name)}/{esc(c.shard_set_id)}</code>",
                esc(c.source),
                c.documents,
                c.tokens,
                _pct(c.tokens / total),
                _pct(c.weight),
                _pct(c.realized),
                c.epochs,
            ]
            for c in m.components
        ]
        cols = [
            "component",
            "shard set",
            "source",
            "documents",
            "tokens",
            "natural share",
            "weight",
            "realized",
            "epochs (budget)",
        ]
        parts.append(
            _table(cols, rows, numeric={"documents", "tokens", "epochs (budget)"}, raw={"shard set", "source"})
        )
        parts.append(f'<p class="note">realized: {esc(m.realized_note)}</p>')
        for w in m.warnings:
            parts.append(f'<p class="warn">{esc(w)}</p>')
    if t.shard_sets:
        rows = [
            [s.name, s.shard_set_id, s.source, s.documents, s.tokens, s.num_shards, s.created_at] for s in t.shard_sets
        ]
        parts.append(f"<details><summary>All {len(rows)} shard sets in token_shards</summary>")
        parts.append(
            _table(
                ["name", "shard_set_id", "source", "documents", "tokens", "shards", "created"],
                rows,
                numeric={"documents", "tokens", "shards"},
            )
        )
        parts.append("</details>")
    return "".join(parts)


def _training(data: ReportData, figs: list) -> str:
    t = data.training
    if not t.steps:
        return _na(f"{t.out_dir}/log.jsonl has no step events yet (training has not logged a step)")
    s0 = t.start
    last = t.steps[-1]
    tps = [s["tokens_per_s"] for s in t.steps[1:] if s.get("tokens_per_s")] or [
        s["tokens_per_s"] for s in t.steps if s.get("tokens_per_s")
    ]
    facts = [
        ("out_dir", f"<code>{esc(t.out_dir)}</code>"),
        ("steps", f"{len(t.steps):,} (last iteration {last['iteration']:,})"),
        ("final training loss", esc(format_number(last.get("loss")))),
        ("validation loss", ", ".join(f"{format_number(e['val_loss'])} @ {e['iteration']}" for e in t.evals) or "–"),
        ("tokens/s (mean, first step excluded)", f"{sum(tps) / len(tps):,.0f}" if tps else "–"),
        ("parameters", f"{s0['params']:,}" if isinstance(s0.get("params"), int) else "–"),
        (
            "device × world",
            esc(
                f"{s0.get('device', '?')} × {s0.get('world', '?')} (TP {s0.get('tp', '?')}, "
                f"PP {s0.get('pp', '?')}, DP {s0.get('dp', '?')})"
            ),
        ),
        ("precision", esc(s0.get("precision", "–"))),
        ("mixture", f"<code>{esc(s0.get('mixture_id', '–'))}</code>"),
        ("resumed", f"{t.resumed} time(s)" if t.resumed else "no"),
        ("checkpoints", ", ".join(f"iter {c['iteration']}" for c in t.checkpoints) or "none"),
    ]
    table = "<table><tbody>" + "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in facts) + "</tbody></table>"
    return "".join(_figure(f) for f in figs) + table


def _lineage(data: ReportData, figs: list) -> str:
    lin = data.lineage
    parts = ["<h3>Table versions read</h3>"]
    rows = [[t.table, t.version, t.rows, t.operation, t.job, t.run_id, t.timestamp, t.config_hash] for t in lin.tables]
    parts.append(
        _table(
            ["table", "version", "rows", "operation", "job", "run", "committed", "config hash"],
            rows,
            numeric={"version", "rows"},
        )
    )
    if lin.others:
        listed = ", ".join(f"{t.table} v{t.version}" for t in lin.others)
        parts.append(f'<p class="note">Not read by this report (latest versions): {esc(listed)}.</p>')
    if lin.history:
        rows = [[h.version, h.operation, h.job, h.run_id, h.timestamp, h.config_hash] for h in lin.history]
        parts.append("<details><summary>documents history (every version up to the one read)</summary>")
        parts.append(
            _table(["version", "operation", "job", "run", "committed", "config hash"], rows, numeric={"version"})
        )
        parts.append("</details>")
    parts.append("<h3>Pipeline run</h3>")
    if not lin.stages:
        parts.append(_na(lin.runs_note or "no runs table: run the chain with `lakeforge run pipeline.yaml`"))
        return "".join(parts)
    parts.append(
        f'<p class="note">pipeline <b>{esc(lin.pipeline)}</b>, run <code>{esc(lin.pipeline_run_id)}</code></p>'
    )
    parts += [_figure(f) for f in figs]
    rows = [
        [
            s.stage_order,
            f"{esc(s.stage)}<br><small>{esc(s.job_run_id or '')}</small>",
            _stage_status(s),
            s.seconds,
            _lines(s.outputs),
            _lines(s.counts),
            s.error or "",
        ]
        for s in lin.stages
    ]
    parts.append(
        _table(
            ["#", "stage (job run)", "status", "seconds", "outputs", "counts", "error"],
            rows,
            numeric={"#", "seconds"},
            raw={"stage (job run)", "status", "outputs", "counts"},
        )
    )
    return "".join(parts)


_RENDERERS = {
    "funnel": _funnel,
    "languages": _languages,
    "signals": _signals,
    "classifiers": _classifiers,
    "duplicates": _duplicates,
    "tokens": _tokens,
    "training": _training,
    "lineage": _lineage,
}
"""Section id → its renderer (called only when ``ReportData.<id>`` holds data)."""


def _cards(data: ReportData) -> str:
    cards = []
    if data.documents is not None:
        cards.append((f"{data.documents:,}", f"documents (v{data.documents_version})"))
    if data.kept is not None and data.documents:
        cards.append((f"{data.kept:,}", f"kept ({data.kept / data.documents:.1%})"))
    if data.languages:
        cards.append((f"{sum(1 for r in data.languages if r.language):,}", "languages"))
    if data.duplicates:
        cards.append((f"{data.duplicates.duplicates:,}", "duplicates marked"))
    if data.tokens and data.tokens.mixture:
        cards.append((f"{data.tokens.mixture.total_tokens:,}", "tokens in the mixture"))
    if data.training and data.training.steps:
        cards.append((format_number(round(data.training.steps[-1]["loss"], 3)), "final training loss"))
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{esc(v)}</div><div class="k">{esc(k)}</div></div>' for v, k in cards
        )
        + "</div>"
    )


def render_html(data: ReportData, figures: dict[str, list] | None = None) -> str:
    """The whole page. ``figures``: :func:`build_figures` of ``data`` (built here when None)."""
    figures = build_figures(data) if figures is None else figures
    nav = []
    body = []
    for number, (sid, heading) in enumerate(SECTIONS.items(), start=1):
        present = bool(getattr(data, sid))
        cls = "" if present else ' class="na"'
        nav.append(f'<a href="#{sid}"{cls}>{esc(heading)}</a>')
        content = _RENDERERS[sid](data, figures.get(sid, [])) if present else _na(data.why_missing(sid))
        body.append(f'<section id="{sid}"><h2>{number}. {esc(heading)}</h2>{content}</section>')
    meta = (
        f"lakehouse <code>{esc(data.lakehouse)}</code> · documents v{esc(data.documents_version)} · generated "
        f"{esc(data.generated_at)}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(data.title)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>{esc(data.title)}</h1><p class="meta">{meta}</p><nav>{"".join(nav)}</nav></header>'
        f"<main>{_cards(data)}{''.join(body)}</main>"
        "<footer>lakeforge report · self-contained: figures are embedded, nothing is loaded from elsewhere</footer>"
        "</body></html>\n"
    )
