"""Extraction quality of lakeforge against direct trafilatura calls, on trafilatura's own benchmark.

The data (``../shared/data/extraction/trafilatura_eval``, from trafilatura's repository): 990 real pages, gzipped
HTML in ``cache/`` and ``eval/``, and ``evaldata.json`` listing per page (keyed by URL) the file and text fragments
that must appear in the extraction (``with``) and must not (``without``: menus, footers, comments, dates...).
Scored as trafilatura's evaluation scores it, per fragment, after collapsing whitespace on both sides: a ``with``
fragment found is a true positive, missed a false negative; a ``without`` fragment found is a false positive, absent
a true negative. An empty extraction or a failure misses every ``with`` fragment. Precision, recall, F1 and accuracy
are over all fragments of all pages. Pages the JSON names but that are missing on disk are skipped and counted.

Systems, on the same raw bytes (the pages have no HTTP headers, so no declared charset):

* ``lakeforge``: :func:`~curation.extract.decode.decode_html`, then :class:`~curation.extract.sandbox.Extractor`
  with :class:`~curation.extract.html_text.ExtractConfig` defaults (time limit included);
* ``trafilatura``: ``trafilatura.extract(html)``, its defaults;
* ``trafilatura_precision``: ``trafilatura.extract(html, favor_precision=True)``.

    .venv/bin/python -m eval.extraction                  # all pages, table
    .venv/bin/python -m eval.extraction --limit 100 --json
    .venv/bin/python -m eval.extraction --overhead 200   # sandbox vs in-process extraction time
    .venv/bin/python -m eval.extraction --smoke --json   # 8 pages, every system, and the overhead on 4: a check
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import re
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from curation.config import to_dict
from curation.extract import ExtractConfig, Extractor, decode_html, extract_html

SMOKE_PAGES = 8  # --smoke: pages scored
SMOKE_OVERHEAD_PAGES = 4  # and pages timed in and out of the sandbox
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "extraction" / "trafilatura_eval"
"""``<repo>/../shared/data/extraction/trafilatura_eval``."""

SYSTEMS = ("lakeforge", "trafilatura", "trafilatura_precision")
LABELS = {
    "lakeforge": "lakeforge (ExtractConfig defaults, sandbox)",
    "trafilatura": "trafilatura.extract(html)",
    "trafilatura_precision": "trafilatura.extract(html, favor_precision=True)",
}


@dataclass(frozen=True)
class Page:
    url: str
    file: str
    with_: tuple[str, ...]
    without: tuple[str, ...]
    body: bytes


def load_pages(data_dir: Path, limit: int | None = None) -> tuple[list[Page], list[str]]:
    """The first ``limit`` pages of ``evaldata.json`` (its order) that exist on disk, and the files that do not."""
    data = json.loads((data_dir / "evaldata.json").read_text(encoding="utf-8"))
    pages, missing = [], []
    for url, item in list(data.items())[:limit]:
        path = _find(data_dir, item["file"])
        if path is None:
            missing.append(item["file"])
            continue
        raw = path.read_bytes()
        body = gzip.decompress(raw) if path.suffix == ".gz" else raw
        pages.append(Page(url, item["file"], tuple(item["with"]), tuple(item["without"]), body))
    return pages, missing


def _find(data_dir: Path, name: str) -> Path | None:
    for sub in ("cache", "eval"):
        for candidate in (data_dir / sub / name, data_dir / sub / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    return None


_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def count_fragments(with_: Sequence[str], without: Sequence[str], text: str | None) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) of one page: whitespace-normalized substring matching, as trafilatura's evaluation does."""
    found = _norm(text) if text else ""
    tp = sum(1 for fragment in with_ if found and _norm(fragment) in found)
    fp = sum(1 for fragment in without if found and _norm(fragment) in found)
    return tp, fp, len(with_) - tp, len(without) - fp


@dataclass
class Score:
    """One system's confusion counts, time and outcomes over the pages."""

    system: str
    pages: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    seconds: float = 0.0
    """Wall time of the extraction calls (for lakeforge: decode and sandboxed extraction)."""
    empty: int = 0
    """Pages with no text (nothing found, or a decode error)."""
    timeouts: int = 0
    failures: int = 0
    slowest_s: float = 0.0
    """The longest time one page took."""

    def add(self, page: Page, text: str | None, seconds: float) -> None:
        tp, fp, fn, tn = count_fragments(page.with_, page.without, text)
        self.pages += 1
        self.tp, self.fp, self.fn, self.tn = self.tp + tp, self.fp + fp, self.fn + fn, self.tn + tn
        self.seconds += seconds
        self.slowest_s = max(self.slowest_s, seconds)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 0.0

    @property
    def accuracy(self) -> float:
        total = self.tp + self.fp + self.fn + self.tn
        return (self.tp + self.tn) / total if total else 0.0

    @property
    def docs_per_s(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict:
        metrics = ("precision", "recall", "f1", "accuracy", "docs_per_s")
        return asdict(self) | {name: round(getattr(self, name), 4) for name in metrics}


@dataclass
class Report:
    data_dir: str
    pages: int
    missing: list[str]
    config: dict
    concurrent: bool
    scores: dict[str, Score] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self) | {"scores": {name: score.as_dict() for name, score in self.scores.items()}}


def run_lakeforge(pages: Sequence[Page], cfg: ExtractConfig) -> Score:
    score = Score("lakeforge")
    with Extractor(cfg) as extractor:
        extractor.extract(_WARMUP)  # start the child before the clock runs
        for page in pages:
            started = time.perf_counter()
            decoded = decode_html(page.body)
            status = decoded.error and "empty"  # a page that does not decode has no text
            text = None
            if decoded.error is None:
                result = extractor.extract(decoded.text, page.url)
                text, status = result.text, result.status
            score.empty += status == "empty"
            score.timeouts += status == "timeout"
            score.failures += status == "failed"
            score.add(page, text, time.perf_counter() - started)
    return score


def run_trafilatura(pages: Sequence[Page], system: str) -> Score:
    import trafilatura

    kwargs = {"favor_precision": True} if system == "trafilatura_precision" else {}
    trafilatura.extract(_WARMUP, **kwargs)
    score = Score(system)
    for page in pages:
        started = time.perf_counter()
        try:
            text = trafilatura.extract(page.body, **kwargs)
        except Exception:  # a crash is a full miss, as in trafilatura's own evaluation
            text = None
            score.failures += 1
        else:
            score.empty += not text
        score.add(page, text, time.perf_counter() - started)
    return score


_WARMUP = (
    "<html><body><article>"
    + "<p>A warm-up paragraph that loads the code paths once.</p>" * 8
    + "</article></body></html>"
)


def evaluate(
    data_dir: Path = DEFAULT_DATA_DIR,
    limit: int | None = None,
    cfg: ExtractConfig | None = None,
    systems: Sequence[str] = SYSTEMS,
    concurrent: bool = False,
) -> Report:
    """Score ``systems`` on the first ``limit`` pages (all by default).

    ``concurrent``: the direct trafilatura systems run in a separate process while lakeforge runs here (its
    extraction is in the sandbox's child), using two cores; each system's docs/s is then measured under that
    contention."""
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        raise ValueError(f"unknown system(s) {', '.join(unknown)}; known: {', '.join(SYSTEMS)}")
    cfg = cfg or ExtractConfig()
    pages, missing = load_pages(Path(data_dir), limit)
    report = Report(str(data_dir), len(pages), missing, to_dict(cfg), concurrent)
    direct = [system for system in systems if system != "lakeforge"]
    scores: dict[str, Score] = {}
    if concurrent and direct and "lakeforge" in systems:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            future = pool.submit(_run_direct, Path(data_dir), limit, direct)
            scores["lakeforge"] = run_lakeforge(pages, cfg)
            scores.update(future.result())
    else:
        if "lakeforge" in systems:
            scores["lakeforge"] = run_lakeforge(pages, cfg)
        scores.update({system: run_trafilatura(pages, system) for system in direct})
    report.scores = {system: scores[system] for system in systems}
    return report


def _run_direct(data_dir: Path, limit: int | None, systems: Sequence[str]) -> dict[str, Score]:
    """The direct trafilatura systems, in a worker process that reads the pages itself (cheaper than shipping)."""
    pages, _ = load_pages(data_dir, limit)
    return {system: run_trafilatura(pages, system) for system in systems}


def format_table(report: Report) -> str:
    head = f"{'system':<50} {'pages':>5} {'precision':>9} {'recall':>7} {'F1':>7} {'accuracy':>8} {'docs/s':>7}"
    head += f" {'slowest':>7} {'empty':>5} {'timeout':>7} {'failed':>6}"
    lines = [head, "-" * len(head)]
    for name, s in report.scores.items():
        label = LABELS[name]
        if name == "lakeforge" and report.config != to_dict(ExtractConfig()):
            label = "lakeforge (custom ExtractConfig, sandbox)"
        lines.append(
            f"{label:<50} {s.pages:>5} {s.precision:>9.4f} {s.recall:>7.4f} {s.f1:>7.4f} {s.accuracy:>8.4f}"
            f" {s.docs_per_s:>7.1f} {s.slowest_s:>6.2f}s {s.empty:>5} {s.timeouts:>7} {s.failures:>6}"
        )
    fragments = next(iter(report.scores.values()), None)
    total = fragments.tp + fragments.fp + fragments.fn + fragments.tn if fragments else 0
    lines.append(
        f"{report.pages} pages, {total} fragments; {len(report.missing)} page(s) named in evaldata.json missing on "
        f"disk (skipped)" + ("; systems ran concurrently, docs/s under contention" if report.concurrent else "")
    )
    return "\n".join(lines)


def measure_overhead(data_dir: Path = DEFAULT_DATA_DIR, n: int = 200, cfg: ExtractConfig | None = None) -> dict:
    """Wall time of :class:`Extractor` against :func:`extract_html` in process, on the first ``n`` pages, each page
    run both ways back to back (so load on the machine hits both alike); also checks the texts are identical."""
    cfg = cfg or ExtractConfig()
    pages, _ = load_pages(Path(data_dir), n)
    htmls = [(decode_html(p.body).text, p.url) for p in pages]
    htmls = [(html, url) for html, url in htmls if html is not None]
    inproc = sandboxed = 0.0
    different = 0
    with Extractor(cfg) as extractor:
        extractor.extract(_WARMUP)
        extract_html(_WARMUP, None, cfg)
        for html, url in htmls:
            t = time.perf_counter()
            a = extract_html(html, url, cfg)
            inproc += time.perf_counter() - t
            t = time.perf_counter()
            b = extractor.extract(html, url)
            sandboxed += time.perf_counter() - t
            different += (a.text, a.title, a.status) != (b.text, b.title, b.status)
    docs = len(htmls)
    return {
        "pages": docs,
        "in_process_s": round(inproc, 3),
        "sandbox_s": round(sandboxed, 3),
        "overhead_ms_per_doc": round(1000 * (sandboxed - inproc) / docs, 3) if docs else 0.0,
        "overhead_pct": round(100 * (sandboxed - inproc) / inproc, 2) if inproc else 0.0,
        "different_outputs": different,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.extraction", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="the trafilatura_eval folder")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages of evaldata.json")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS), help="what to compare")
    parser.add_argument("--concurrent", action="store_true", help="run lakeforge alongside the others (2 processes)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--overhead", type=int, metavar="N", help="instead: time the sandbox on N pages")
    parser.add_argument(
        "--smoke", action="store_true", help=f"a check: the first {SMOKE_PAGES} pages (--limit), then --overhead 4"
    )
    args = parser.parse_args(argv)
    if not (args.data_dir / "evaldata.json").is_file():
        parser.error(f"{args.data_dir}/evaldata.json not found: pass --data-dir")
    if args.overhead:
        print(json.dumps(measure_overhead(args.data_dir, args.overhead), indent=2))
        return 0
    limit = (args.limit or SMOKE_PAGES) if args.smoke else args.limit
    report = evaluate(args.data_dir, limit, systems=args.systems, concurrent=args.concurrent)
    out = report.as_dict()
    if args.smoke:
        out["overhead"] = measure_overhead(args.data_dir, SMOKE_OVERHEAD_PAGES)
    print(json.dumps(out, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
