"""The report's figures: matplotlib on the Agg backend (no display), PNG bytes, the same bytes for the same data.

One function per figure, each taking the section's data from :mod:`curation.report.model` and returning a
:class:`Figure` (file name, alt text, PNG). Thresholds are drawn as dashed red lines labelled with the rule's reason
and limit; a threshold far off the data's range is named at the axis edge with an arrow instead.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")  # before pyplot: never look for a display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from curation.report.model import (  # noqa: E402
    ClassifierInfo,
    Duplicates,
    FunnelRun,
    Histogram,
    LanguageCount,
    Mixture,
    PipelineStage,
    Training,
    format_number,
)

KEPT = "#2b6cb0"
ALL = "#cbd5e0"
DROPPED = "#e53e3e"
ERRORED = "#dd6b20"
THRESHOLD = "#c53030"
INK = "#2d3748"
MUTED = "#718096"
SERIES = ("#d69e2e", "#38a169", "#805ad5", "#319795", "#d53f8c", "#4c51bf", "#975a16", "#718096")
"""Stage and component colours: none of them is the kept blue, the dropped red or the errored orange."""
DPI = 110

STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.edgecolor": "#a0aec0",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#edf2f7",
    "grid.linewidth": 0.8,
    "xtick.color": INK,
    "ytick.color": INK,
    "legend.frameon": False,
    "legend.fontsize": 8,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.hashsalt": "lakeforge",
}


@dataclass(frozen=True)
class Figure:
    """A rendered figure: ``name`` is its file name under ``figures/`` (``.png``)."""

    name: str
    alt: str
    png: bytes


def _png(fig, name: str, alt: str) -> Figure:
    buf = io.BytesIO()
    # No "Software"/date metadata: the same data gives the same bytes.
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return Figure(name, alt, buf.getvalue())


def _count(x: float, _pos=None) -> str:
    if x >= 1e6:
        return f"{x / 1e6:g}M"
    if x >= 1e4:
        return f"{x / 1e3:g}k"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:g}"


def _short(text: str, n: int = 42) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


# ---------------------------------------------------------------------------------------------------------- funnel
def funnel_figure(run: FunnelRun, index: int = 0) -> Figure:
    """Left: documents entering each stage, what it dropped or errored on. Right: drop reasons (first failing rule),
    with the documents failing the rule at all as an outline."""
    with plt.rc_context(STYLE):
        stages = [s for s in run.stages if s.entered or s.dropped or s.errored or s.reasons]
        reasons = [(s.stage, r, n, s.failed.get(r, n)) for s in stages for r, n in s.reasons.items() if n]
        reasons.sort(key=lambda x: (-x[2], x[1]))
        # Both panels get the same number of rows, so bars are equally thick and a short panel is top-aligned.
        slots = max(len(stages) + 2, len(reasons), 3)
        height = 0.3 * slots + 2.2
        fig, (ax, bx) = plt.subplots(
            1, 2, figsize=(11, height), gridspec_kw={"width_ratios": [1.15, 1]}, layout="constrained"
        )
        labels = ["records in"] + [s.stage for s in stages] + ["kept"]
        ys = [slots - 1 - i for i in range(len(labels))]
        top = max([run.records_in, run.kept] + [s.entered for s in stages] + [1])
        ax.barh(ys[0], run.records_in, color=ALL, height=0.62)
        skipped = sum(run.skipped_reasons.values())
        read_err = sum(run.read_errors.values())
        if skipped:
            ax.barh(ys[0], skipped, left=run.records_in - skipped - read_err, color="#a0aec0", height=0.62)
        if read_err:
            ax.barh(ys[0], read_err, left=run.records_in - read_err, color=ERRORED, height=0.62)
        for y, s in zip(ys[1:-1], stages, strict=True):
            ax.barh(y, s.entered, color="#90cdf4", height=0.62)
            lost = s.dropped + s.errored
            if s.dropped:
                ax.barh(y, s.dropped, left=s.entered - lost, color=DROPPED, height=0.62)
            if s.errored:
                ax.barh(y, s.errored, left=s.entered - s.errored, color=ERRORED, height=0.62)
            tail = f"  −{lost:,}" if lost else ""
            ax.text(s.entered, y, f" {s.entered:,}{tail}", va="center", fontsize=8, color=INK)
        ax.barh(ys[-1], run.kept, color=KEPT, height=0.62)
        ax.text(run.records_in, ys[0], f" {run.records_in:,}", va="center", fontsize=8, color=INK)
        ax.text(run.kept, ys[-1], f" {run.kept:,}", va="center", fontsize=8, color=KEPT, fontweight="bold")
        ax.set_yticks(ys, labels)
        ax.set_ylim(-0.6, slots - 0.4)
        ax.set_xlim(0, top * 1.28)
        ax.xaxis.set_major_formatter(FuncFormatter(_count))
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.set_xlabel("documents (records for 'records in')")
        ax.grid(axis="y", visible=False)
        ax.set_title(f"{run.job} run: documents through the stages", loc="left")
        from matplotlib.patches import Patch

        handles = [Patch(color="#90cdf4", label="entering"), Patch(color=DROPPED, label="dropped")]
        if any(s.errored for s in stages) or read_err:
            handles.append(Patch(color=ERRORED, label="errored"))
        if skipped:
            handles.append(Patch(color="#a0aec0", label="skipped (not HTML, already done)"))
        handles.append(Patch(color=KEPT, label="kept"))

        if reasons:
            ry = [slots - 1 - i for i in range(len(reasons))]
            colors = {st: SERIES[i % len(SERIES)] for i, st in enumerate(dict.fromkeys(r[0] for r in reasons))}
            bx.barh(ry, [r[3] for r in reasons], color="none", edgecolor=MUTED, linewidth=0.8, height=0.7)
            bx.barh(ry, [r[2] for r in reasons], color=[colors[r[0]] for r in reasons], height=0.7)
            for y, r in zip(ry, reasons, strict=True):
                extra = f" (fails {r[3]:,})" if r[3] != r[2] else ""
                bx.text(max(r[2], r[3]), y, f" {r[2]:,}{extra}", va="center", fontsize=8, color=INK)
            bx.set_yticks(ry, [_short(r[1], 34) for r in reasons])
            bx.set_ylim(-0.6, slots - 0.4)
            bx.set_xlim(0, max(max(r[2], r[3]) for r in reasons) * 1.35)
            bx.xaxis.set_major_locator(MaxNLocator(5, integer=True))
            bx.xaxis.set_major_formatter(FuncFormatter(_count))
            handles += [Patch(color=c, label=f"stage {st}") for st, c in colors.items()]
            handles.append(Patch(facecolor="none", edgecolor=MUTED, label="failing the rule at all"))
            bx.set_xlabel("documents (filled: first failing rule; outline: failing it at all)", fontsize=8.5)
        else:
            bx.text(0.5, 0.5, "nothing dropped or errored", ha="center", va="center", color=MUTED, fontsize=11)
            bx.set_xticks([])
            bx.set_yticks([])
        bx.grid(axis="y", visible=False)
        bx.set_title("drop reasons", loc="left")
        # One legend under both panels ("outside": the constrained layout makes room for it).
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 6))
        return _png(fig, f"funnel-{index}-{run.job}.png", f"funnel of {run.job} run {run.run_id}")


# -------------------------------------------------------------------------------------------------------- languages
def languages_figure(langs: list[LanguageCount], top: int = 15) -> Figure:
    with plt.rc_context(STYLE):
        rows = sorted(langs, key=lambda r: (-r.documents, r.language or ""))[:top]
        fig, ax = plt.subplots(figsize=(11, max(2.2, 0.3 * len(rows) + 1.0)))
        ys = list(range(len(rows)))[::-1]
        ax.barh(ys, [r.documents for r in rows], color=ALL, height=0.7, label="all documents")
        ax.barh(ys, [r.kept for r in rows], color=KEPT, height=0.4, label="kept")
        total = sum(r.documents for r in langs) or 1
        for y, r in zip(ys, rows, strict=True):
            ax.text(
                r.documents,
                y,
                f" {r.documents:,} ({r.documents / total:.1%}), kept {r.kept:,}",
                va="center",
                fontsize=8,
                color=INK,
            )
        ax.set_yticks(ys, [r.language or "(none)" for r in rows])
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(0, max(r.documents for r in rows) * 12)
        ax.xaxis.set_major_formatter(FuncFormatter(_count))
        ax.set_xlabel("documents (log scale)")
        ax.grid(axis="y", visible=False)
        ax.legend(loc="lower right")
        ax.set_title(f"documents by language (top {len(rows)} of {len(langs)})", loc="left")
        fig.tight_layout()
        return _png(fig, "languages.png", "documents by language, kept and dropped")


# ---------------------------------------------------------------------------------------------------------- signals
def _unprefix(reason: str) -> str:
    for prefix in ("gopher_", "fineweb_", "c4_"):
        if reason.startswith(prefix):
            return reason[len(prefix) :]
    return reason


def _histogram_legend(fig, all_label: str) -> None:
    from matplotlib.patches import Patch

    fig.legend(
        handles=[
            Patch(color=ALL, label=all_label),
            Patch(color=KEPT, label="kept"),
            plt.Line2D([], [], color=THRESHOLD, linestyle="--", label="threshold (a document fails beyond it)"),
        ],
        loc="upper right",
        ncol=3,
        fontsize=8,
        bbox_to_anchor=(1.0, 1.0),
    )


def _draw_histogram(ax, h: Histogram) -> None:
    edges = h.edges
    widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
    ax.bar(edges[:-1], h.counts, width=widths, align="edge", color=ALL, edgecolor="white", linewidth=0.3, label="all")
    ax.bar(edges[:-1], h.kept, width=widths, align="edge", color=KEPT, edgecolor="white", linewidth=0.3, label="kept")
    if h.log:
        ax.set_xscale("symlog", linthresh=1)
        ax.xaxis.set_major_formatter(FuncFormatter(_count))
    lo, hi = edges[0], edges[-1]
    ax.set_xlim(lo, hi)
    ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    ymax = max(h.counts + [1])
    ax.set_ylim(0, ymax * 1.32)
    inside = [t for t in h.thresholds if lo <= t.value <= hi]
    outside = [t for t in h.thresholds if not lo <= t.value <= hi]
    for i, t in enumerate(inside):
        ax.axvline(t.value, color=THRESHOLD, linestyle="--", linewidth=1.2)
        # The label goes on the side with more room, so a line near an edge keeps its label inside the axes.
        frac = ax.transLimits.transform(ax.transScale.transform((t.value, 0.0)))[0]
        right = frac < 0.6
        ax.annotate(
            f"{t.op} {format_number(t.value)}",
            xy=(t.value, 1.0 - 0.09 * (i % 2)),
            xycoords=("data", "axes fraction"),
            xytext=(3 if right else -3, -2),
            textcoords="offset points",
            ha="left" if right else "right",
            va="top",
            fontsize=7.5,
            color=THRESHOLD,
        )
    for i, t in enumerate(outside):
        at_right = t.value > hi
        label = f"{t.op} {format_number(t.value)} →" if at_right else f"← {t.op} {format_number(t.value)}"
        ax.annotate(
            label,
            xy=(1.0 if at_right else 0.0, 0.80 - 0.09 * i),
            xycoords="axes fraction",
            ha="right" if at_right else "left",
            fontsize=7.5,
            color=THRESHOLD,
        )
    ax.tick_params(axis="x", labelsize=7.5)
    ax.tick_params(axis="y", labelsize=7.5)
    ax.grid(axis="x", visible=False)


def signals_figure(title: str, hists: list[Histogram], index: int = 0, ncols: int = 4) -> Figure:
    """Small multiples: one histogram per signal, all documents with a value (grey) and the kept ones (blue)."""
    with plt.rc_context(STYLE):
        n = len(hists)
        ncols = min(ncols, n)
        nrows = math.ceil(n / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(11, 2.55 * nrows + 0.5), squeeze=False)
        for i, h in enumerate(hists):
            ax = axes[i // ncols][i % ncols]
            _draw_histogram(ax, h)
            ax.set_title(h.column, fontsize=8.5, loc="left")
            reasons = ", ".join(dict.fromkeys(_unprefix(t.reason) for t in h.thresholds)) or "no threshold"
            null = f"; {h.nulls:,} null" if h.nulls else ""
            ax.set_xlabel(_short(reasons, 34 if null else 44) + null, fontsize=7, color=MUTED)
        for j in range(n, nrows * ncols):
            axes[j // ncols][j % ncols].set_visible(False)
        _histogram_legend(fig, "all documents with the signal")
        fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
        fig.tight_layout(rect=(0, 0, 1, 0.97 if nrows > 1 else 0.93))
        slug = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
        return _png(fig, f"signals-{index}-{slug}.png", f"histograms of the {title} signals with their thresholds")


# ------------------------------------------------------------------------------------------------------ classifiers
def classifiers_figure(infos: list[ClassifierInfo]) -> Figure:
    with plt.rc_context(STYLE):
        n = len(infos)
        fig, axes = plt.subplots(1, n, figsize=(min(11, 4.2 * n + 1), 3.0), squeeze=False)
        for ax, c in zip(axes[0], infos, strict=True):
            _draw_histogram(ax, c.histogram)
            ax.set_title(f"{c.name}_score  (P({c.positive_label or 'positive'}))", fontsize=9, loc="left")
            ax.set_xlabel(f"score; {c.scored:,} scored, {c.histogram.nulls:,} not scored", fontsize=7.5)
            ax.set_ylabel("documents")
        _histogram_legend(fig, "all scored documents")
        fig.tight_layout(rect=(0, 0, 1, 0.9))
        return _png(fig, "classifiers.png", "classifier score distributions with their thresholds")


# ------------------------------------------------------------------------------------------------------- duplicates
def duplicates_figure(d: Duplicates) -> Figure:
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.0))
        sizes = sorted(d.size_counts)
        ax.bar([str(s) for s in sizes], [d.size_counts[s] for s in sizes], color=KEPT, width=0.7)
        for i, s in enumerate(sizes):
            ax.text(i, d.size_counts[s], f"{d.size_counts[s]:,}", ha="center", va="bottom", fontsize=7.5)
        ax.set_xlabel("cluster size (documents, survivor included)")
        ax.set_ylabel("clusters")
        ax.set_ylim(0, max(d.size_counts.values() or [1]) * 1.18)
        ax.set_xlim(-0.7, max(len(sizes), 6) - 0.3)  # a few sizes keep narrow bars, left-aligned
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.grid(axis="x", visible=False)
        ax.set_title(f"{d.clusters:,} clusters, {d.documents:,} documents", loc="left")
        if len(sizes) > 14:
            ax.tick_params(axis="x", labelrotation=90, labelsize=7)
        if d.similarity is not None and d.similarity.total:
            _draw_histogram(bx, d.similarity)
            bx.set_xlabel("Jaccard similarity to the survivor (near duplicates)")
            bx.set_ylabel("documents")
            bx.set_title(f"near duplicates: {d.near:,}", loc="left")
        else:
            bx.text(
                0.5,
                0.5,
                f"no near duplicates\n({d.exact:,} exact duplicates: similarity 1.0)",
                ha="center",
                va="center",
                color=MUTED,
                fontsize=10,
                transform=bx.transAxes,
            )
            bx.set_xticks([])
            bx.set_yticks([])
            bx.set_title("near-duplicate similarity", loc="left")
        fig.tight_layout()
        return _png(fig, "duplicates.png", "duplicate cluster sizes and near-duplicate similarity")


# ----------------------------------------------------------------------------------------------------------- tokens
def tokens_figure(m: Mixture) -> Figure:
    with plt.rc_context(STYLE):
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 3.2), gridspec_kw={"width_ratios": [1.3, 1]})
        names = [c.name for c in m.components]
        total = m.total_tokens or 1
        series = [("weight", [c.weight for c in m.components], KEPT)]
        series.append(("natural share (tokens)", [c.tokens / total for c in m.components], ALL))
        if any(c.realized is not None for c in m.components):
            series.append(("realized (samples drawn)", [c.realized or 0.0 for c in m.components], "#38a169"))
        width = 0.8 / len(series)
        for k, (label, values, color) in enumerate(series):
            xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(names))]
            ax.bar(xs, values, width=width * 0.95, color=color, label=label)
            for x, v in zip(xs, values, strict=True):
                ax.text(x, v, f"{v:.0%}" if v >= 0.1 else f"{v:.1%}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(names)), names)
        ax.set_ylim(0, max(max(v) for _, v, _ in series) * 1.22)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0%}"))
        ax.set_ylabel("share")
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper right")
        ax.set_title(f"mixture {m.name}: weights vs shares", loc="left")
        ys = list(range(len(names)))[::-1]
        bx.barh(ys, [c.tokens for c in m.components], color=SERIES[: len(names)], height=0.6)
        for y, c in zip(ys, m.components, strict=True):
            ep = f", {c.epochs:.1f} epochs" if c.epochs is not None else ""
            bx.text(c.tokens, y, f" {c.tokens:,}{ep}", va="center", fontsize=8)
        bx.set_yticks(ys, names)
        bx.set_xscale("log")
        bx.set_xlim(max(1, min(c.tokens for c in m.components) / 3), max(c.tokens for c in m.components) * 8)
        bx.xaxis.set_major_formatter(FuncFormatter(_count))
        bx.set_xlabel("tokens (log scale)")
        bx.grid(axis="y", visible=False)
        bx.set_title("tokens per component", loc="left")
        fig.tight_layout()
        return _png(fig, "tokens.png", "mixture weights, natural and realized shares, tokens per component")


# --------------------------------------------------------------------------------------------------------- training
def training_figure(t: Training) -> Figure:
    with plt.rc_context(STYLE):
        fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(11, 3.1), gridspec_kw={"width_ratios": [1.4, 1, 0.8]})
        it = [s["iteration"] for s in t.steps]
        loss = [s["loss"] for s in t.steps]
        ax.plot(
            it,
            loss,
            color=KEPT,
            linewidth=1.4,
            marker="o" if len(it) <= 40 else None,
            markersize=2.5,
            label="training loss",
        )
        if t.evals:
            ax.plot(
                [e["iteration"] for e in t.evals],
                [e["val_loss"] for e in t.evals],
                color=DROPPED,
                marker="s",
                markersize=5,
                linewidth=1.2,
                label="validation loss",
            )
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss (cross-entropy, nats)")
        ax.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        ax.legend(loc="upper right")
        ax.set_title("loss", loc="left")
        tps = [(s["iteration"], s["tokens_per_s"]) for s in t.steps if s.get("tokens_per_s") is not None]
        if tps:
            bx.plot([x for x, _ in tps], [y for _, y in tps], color="#38a169", linewidth=1.3)
            bx.set_ylim(0, max(y for _, y in tps) * 1.15)
        bx.yaxis.set_major_formatter(FuncFormatter(_count))
        bx.xaxis.set_major_locator(MaxNLocator(6, integer=True))
        bx.set_xlabel("iteration")
        bx.set_ylabel("tokens / s")
        bx.set_title("throughput", loc="left")
        lr = [(s["iteration"], s["lr"]) for s in t.steps if s.get("lr") is not None]
        if lr:
            cx.plot([x for x, _ in lr], [y for _, y in lr], color="#805ad5", linewidth=1.3)
        cx.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        cx.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:.0e}" if v else "0"))
        cx.set_xlabel("iteration")
        cx.set_title("learning rate", loc="left")
        fig.tight_layout()
        return _png(fig, "training.png", "training and validation loss, tokens per second, learning rate")


# ---------------------------------------------------------------------------------------------------------- lineage
STATUS_COLORS = {"succeeded": "#38a169", "skipped": "#a0aec0", "failed": DROPPED, "running": "#d69e2e"}


def stages_figure(stages: list[PipelineStage]) -> Figure:
    """The pipeline run's stages on a time line (start offset → duration), coloured by status."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(11, max(2.0, 0.34 * len(stages) + 1.0)))
        ys = list(range(len(stages)))[::-1]
        end = 0.0
        for y, s in zip(ys, stages, strict=True):
            start = s.start_offset or 0.0
            dur = s.seconds or 0.0
            ax.barh(y, max(dur, 0.0), left=start, color=STATUS_COLORS.get(s.status, MUTED), height=0.6)
            label = f" {s.status}, {dur:,.1f} s"
            if s.status == "skipped" and s.built_seconds is not None:
                label += f" (built in {s.built_seconds:,.1f} s by an earlier run)"
            ax.text(start + dur, y, label, va="center", fontsize=8, color=INK)
            end = max(end, start + dur)
        ax.set_yticks(ys, [s.stage for s in stages])
        # room on the right for the longest label (8 pt text: about 0.75 % of the axis width per character)
        longest = max((len(t.get_text()) for t in ax.texts), default=0)
        ax.set_xlim(0, max(end, 1.0) / max(0.35, 1.0 - 0.0075 * longest))
        ax.set_xlabel("seconds since the pipeline run started")
        ax.grid(axis="y", visible=False)
        ax.set_title("pipeline stages", loc="left")
        fig.tight_layout()
        return _png(fig, "pipeline-stages.png", "pipeline stages on a time line, by status")


__all__ = [
    "Figure",
    "classifiers_figure",
    "duplicates_figure",
    "funnel_figure",
    "languages_figure",
    "signals_figure",
    "stages_figure",
    "tokens_figure",
    "training_figure",
]
