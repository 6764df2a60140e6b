"""The scale corpus: Common-Crawl-like WARC files and a text corpus of up to 1M documents, made deterministically
from the real pages and texts in ``../shared/data``, with a planted, known share of near-duplicates.

    .venv/bin/python -m bench.corpus                          # 4 WARC files × ~250 MB (≥ 40k HTML responses)
    .venv/bin/python -m bench.corpus --files 0 --texts 1000000  # the text corpus only
    .venv/bin/python -m bench.corpus --files 2 --file-mb 1 --texts 2000 --json
    .venv/bin/python -m bench.corpus --smoke --json           # 2 files × 1 MB and 2,000 texts (bench/out/smoke/corpus)

Everything is written under ``bench/out/corpus/<name with the parameters>/`` (``--out`` to change the base) into a
``.partial`` folder that is renamed when complete, and reused while the parameters, the sources and the builder
version hold (``manifest.json`` compared; ``--force`` rebuilds). The same parameters give the same bytes.
Python API (for ``bench.scale``): :func:`build_warcs` and :func:`build_texts` return the manifest.

**WARC files** (``warc-f<F>-mb<MB>-nd<rate>-s<seed>/corpus-NNNNN.warc.gz``). Each file is a ``warcinfo`` and then
captures of three records each, ``request`` → ``response`` → ``metadata``, as Common Crawl writes them, one gzip
member per record (:mod:`bench._corpus_warc`), until the file holds ``--file-mb`` MB (10⁶ bytes); the captures go on
from file to file. Every response is ``HTTP 200`` (CC keeps redirects and errors in its ``crawldiagnostics`` files,
not in the main WARCs). A capture is

* an **HTML page** (97%): one of the distinct pages of ``bench.curate.collect_pages`` (the HTML responses of
  ``warc/{dolma,resiliparse,whirlwind}`` and the 990 trafilatura eval pages, 1,042 in all), drawn with weight
  size^-½ so the mean stored capture is ~22 KB (CC's ~40k HTML captures per ~1 GB file; these pages average 27 KB
  gzipped, smaller pages weigh more), as a new **variant** (:func:`bench._corpus_html.vary_html`: in every text
  node of ≥ 2 words, 30% of the words replaced by words of the same page, markup and punctuation untouched, so
  two captures of one page share few word 5-grams (Jaccard of their text nodes: median 0.06, at most 0.15 over
  40 pages) and no exact or near-duplicate dedup joins them);
  Content-Type as the source page had it, URL = the page's URL with ``cc=<capture>`` added to the query;
* or, for ``--near-dup-rate`` (default 10%) of the HTML captures, a **near-duplicate** of an earlier HTML capture
  anywhere in the corpus (a re-crawl: :func:`bench._corpus_html.edit_html`: a changed date or numbers, 0.3–2% of
  the words substituted/deleted/inserted, a boilerplate line added; one to three of these), listed in
  ``near_duplicates.jsonl`` as ``{"url", "of", "edits"}``. An original may itself be a near-duplicate (a chain);
* a **non-HTML** response (3%), synthesized plainly (:mod:`bench._corpus_warc`): ``application/pdf`` 1.0%,
  ``image/png`` 0.8%, ``text/plain`` 0.6%, ``application/rss+xml`` 0.6%. The shares follow the MIME-type table of
  Common Crawl's statistics (https://commoncrawl.github.io/cc-crawl-statistics/plots/mimetypes: HTML — text/html
  and application/xhtml+xml — is ~97% of a monthly crawl's captures; PDF is the largest of the rest at about 1%,
  then images, plain text and XML feeds at a few tenths of a percent each), rounded; the exact shares vary by
  crawl and were not re-measured here.

**Text corpus** (``texts-n<N>-nd<rate>-s<seed>/texts-NNNNN.jsonl``, 50,000 documents a shard, ``{"id", "text"}``):
document ``k`` is a variant (30% of its words replaced by its own words) of an original drawn uniformly from
:func:`eval.dedup.load_originals` (wikitext2 articles or parts, tinyshakespeare chunks, PAN Indonesian documents;
the extraction pages are left out: evaldata.json holds only snippets of their text), or, for ``--near-dup-rate``
of the documents, a near-duplicate of an earlier document made with :class:`eval.dedup.Editor` (substitute 0.3–2%,
insert/delete 0.5–5% of the words, sometimes a date or boilerplate line; ``near_duplicates.jsonl`` as
``{"id", "of", "edits"}``). Written as it is made: memory does not grow with N.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench._common import OUT, SHARED, SMOKE_OUT, log
from bench._corpus_html import edit_html, page_text, vary_html
from bench._corpus_text import VARY_RATE as TEXT_VARY_RATE
from bench._corpus_text import TextMaker, text_sources
from bench._corpus_warc import capture_records, gzip_member, pdf, plain_text, png, record_id, rss, warcinfo

BUILDER_VERSION = 1  # bump when what is written changes: every corpus built before is rebuilt
MB = 1_000_000
DEFAULT_FILES = 4
DEFAULT_FILE_MB = 250.0
DEFAULT_NEAR_DUP_RATE = 0.10
VARY_RATE = 0.3
SIZE_WEIGHT = -0.5
"""A page is drawn with weight (its HTML bytes) ** SIZE_WEIGHT."""
NON_HTML_SHARES = {"application/pdf": 0.010, "image/png": 0.008, "text/plain": 0.006, "application/rss+xml": 0.006}
"""Share of the captures per non-HTML type; the rest (97%) are HTML pages."""
TEXT_SHARD_DOCS = 50_000
MAX_TEXTS = 1_000_000
_TWO_WORDS = re.compile(rb">\s*[^<>\s]+\s+[^<>\s]")
SMOKE = {"files": 2, "file_mb": 1.0, "texts": 2000}


def corpus_root(smoke: bool = False) -> Path:
    return (SMOKE_OUT if smoke else OUT) / "corpus"


# ----------------------------------------------------------------------------------------------------- reuse


def _reusable(folder: Path, want: dict) -> dict | None:
    """The manifest of a complete corpus built with ``want``, else None."""
    path = folder / "manifest.json"
    if not path.is_file():
        return None
    try:
        have = json.loads(path.read_text())
    except ValueError:
        return None
    if have.get("want") != want:
        return None
    sizes = have.get("sizes", {})
    if not all((folder / n).is_file() and (folder / n).stat().st_size == s for n, s in sizes.items()):
        return None
    return have


def _fresh(folder: Path) -> Path:
    """An empty ``<folder>.partial`` to build into (renamed to ``folder`` by :func:`_publish`)."""
    tmp = folder.with_name(folder.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def _publish(tmp: Path, folder: Path, manifest: dict) -> None:
    manifest["sizes"] = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.name != "manifest.json"}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if folder.exists():
        shutil.rmtree(folder)
    os.replace(tmp, folder)


def _rate_name(rate: float) -> str:
    return f"{rate:.3f}".rstrip("0").rstrip(".")


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"near_dup_rate must be in [0, 1), got {rate}")


# ------------------------------------------------------------------------------------------------------ WARCs


def _warc_want(files: int, file_mb: float, near_dup_rate: float, seed: int) -> dict:
    from bench.curate import EVAL, WARC_SOURCES, _eval_files, _sha256_files

    return {
        "kind": "warc",
        "builder": BUILDER_VERSION,
        "files": files,
        "file_mb": file_mb,
        "near_dup_rate": near_dup_rate,
        "seed": seed,
        "sha256": {
            "warc_sources": _sha256_files(WARC_SOURCES),
            "evaldata": _sha256_files([EVAL / "evaldata.json"]),
            "eval_pages": _sha256_files([p for _, p in _eval_files()]),
        },
    }


def capture_url(url: str, capture: int) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&cc={capture}" if parts.query else f"cc={capture}"
    return urlunsplit(parts._replace(query=query))


class _WarcPlan:
    """Capture ``c`` of a corpus as a pure function of (seed, c): its kind, page, variant and, for a near-duplicate,
    the capture it was edited from (made again on demand: nothing per capture is kept)."""

    def __init__(self, pages: list, seed: int, near_dup_rate: float):
        self.pages, self.seed, self.rate = pages, seed, near_dup_rate
        # pages with a text node of two words or more (a quick look: script text may pass, the manifest counts
        # the captures that came out unvaried)
        self.varied = [i for i, p in enumerate(pages) if _TWO_WORDS.search(p.body)]
        self.cum = list(itertools.accumulate(len(pages[i].body) ** SIZE_WEIGHT for i in self.varied))
        self.kinds = list(NON_HTML_SHARES)
        self.cum_shares = list(itertools.accumulate(NON_HTML_SHARES.values()))

    def _rng(self, c: int) -> random.Random:
        return random.Random(f"lakeforge-corpus/warc/{self.seed}/{c}")

    def kind(self, c: int, rng: random.Random | None = None) -> str:
        u = (rng or self._rng(c)).random()  # always the first draw of the capture's generator
        for kind, edge in zip(self.kinds, self.cum_shares, strict=True):
            if u < edge:
                return kind
        return "text/html"

    def html(self, c: int) -> tuple[int, bytes, int | None, list[str]]:
        """(page index, body, the capture it is a near-duplicate of or None, edits) of HTML capture ``c``."""
        rng = self._rng(c)
        self.kind(c, rng)
        page = rng.choices(self.varied, cum_weights=self.cum)[0]
        if c > 0 and rng.random() < self.rate:
            for _ in range(64):  # an earlier HTML capture (97% of them are: this ends at once)
                of = rng.randrange(c)
                if self.kind(of) == "text/html":
                    root, base, _, _ = self.html(of)
                    body, edits = edit_html(base, rng)
                    return root, body, of, edits
        body, _ = vary_html(self.pages[page].body, rng, VARY_RATE)
        return page, body, None, []

    def other(self, c: int, kind: str) -> tuple[str, bytes]:
        """(URL, payload) of non-HTML capture ``c`` of type ``kind``: words and host from a drawn page."""
        rng = self._rng(c)
        self.kind(c, rng)
        page = self.pages[rng.choices(self.varied, cum_weights=self.cum)[0]]
        host = urlsplit(page.url).netloc or "example.com"
        words = page_text(page.body).split()[:3000]
        if kind == "application/pdf":
            return f"https://{host}/files/document-{c}.pdf", pdf(words, rng)
        if kind == "image/png":
            return f"https://{host}/images/image-{c}.png", png(rng)
        if kind == "text/plain":
            return f"https://{host}/notes-{c}.txt", plain_text(words, rng)
        return f"https://{host}/feed-{c}.xml", rss(words, host, rng)


def build_warcs(
    files: int = DEFAULT_FILES,
    file_mb: float = DEFAULT_FILE_MB,
    near_dup_rate: float = DEFAULT_NEAR_DUP_RATE,
    seed: int = 0,
    out: Path | None = None,
    force: bool = False,
) -> dict:
    """Build (or reuse) the WARC files; returns the manifest (``folder``: where they are, ``reused``)."""
    if files < 1 or file_mb <= 0:
        raise ValueError(f"files must be ≥ 1 and file_mb > 0, got {files} and {file_mb}")
    _check_rate(near_dup_rate)
    from bench.curate import EVAL, WARC_SOURCES, collect_pages

    missing = [str(p) for p in [*WARC_SOURCES, EVAL / "evaldata.json"] if not p.exists()]
    if missing:
        raise SystemExit(f"bench.corpus: source(s) not found: {', '.join(missing)}")
    folder = (out or corpus_root()) / f"warc-f{files}-mb{file_mb:g}-nd{_rate_name(near_dup_rate)}-s{seed}"
    want = _warc_want(files, file_mb, near_dup_rate, seed)
    if not force and (have := _reusable(folder, want)):
        log(f"reusing {folder} ({have['html_responses']:,} HTML responses, {sum(have['sizes'].values()) / MB:.1f} MB)")
        return have | {"folder": str(folder), "reused": True}
    t0 = time.perf_counter()
    pages, collected = collect_pages()
    plan = _WarcPlan(pages, seed, near_dup_rate)
    tmp = _fresh(folder)
    records: Counter = Counter()
    by_type: Counter = Counter()
    per_file = []
    html = dups = unvaried = 0
    budget = int(file_mb * MB)
    c = 0
    with open(tmp / "near_duplicates.jsonl", "w", encoding="utf-8") as truth:
        for i in range(files):
            name = f"corpus-{i:05d}.warc.gz"
            file_records: Counter = Counter()
            file_html = 0
            with open(tmp / name, "wb") as f:
                f.write(gzip_member(warcinfo(seed, i, name)))
                info_id = record_id(seed, -1 - i, "warcinfo")
                file_records["warcinfo"] += 1
                while f.tell() < budget:
                    kind = plan.kind(c)
                    rng = random.Random(f"lakeforge-corpus/warc-meta/{seed}/{c}")
                    if kind == "text/html":
                        page, body, of, edits = plan.html(c)
                        src = pages[page]
                        url = capture_url(src.url, c)
                        recs = capture_records(seed, c, info_id, url, src.content_type, "text/html", body, rng)
                        file_html += 1
                        if of is not None:
                            dups += 1
                            truth.write(json.dumps({"url": url, "of": capture_url(src.url, of), "edits": edits}))
                            truth.write("\n")
                        elif body == src.body:
                            unvaried += 1
                    else:
                        url, payload = plan.other(c, kind)
                        recs = capture_records(seed, c, info_id, url, kind, kind, payload, rng)
                    for rec in recs:
                        f.write(gzip_member(rec))
                    file_records.update(("request", "response", "metadata"))
                    by_type[kind] += 1
                    c += 1
            html += file_html
            records.update(file_records)
            per_file.append({"name": name, "records": dict(file_records), "html_responses": file_html})
            log(f"{name}: {file_html:,} HTML responses, {file_records['response']:,} responses ({c:,} so far)")
    manifest = {
        "kind": "warc",
        "want": want,
        "files": per_file,
        "records": dict(records),
        "responses_by_type": dict(sorted(by_type.items())),
        "html_responses": html,
        "near_duplicates": dups,
        "near_duplicate_share": round(dups / html, 4) if html else 0.0,
        "html_without_varied_text": unvaried,
        "pages": collected | {"varied": len(plan.varied)},
        "shares": {"text/html": round(1 - sum(NON_HTML_SHARES.values()), 4), **NON_HTML_SHARES},
        "vary_rate": VARY_RATE,
        "size_weight": SIZE_WEIGHT,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    _publish(tmp, folder, manifest)
    log(
        f"made {files} WARC file(s) in {folder}: {html:,} HTML responses ({dups:,} near-duplicates), "
        f"{sum(manifest['sizes'].values()) / MB:.1f} MB, {manifest['seconds']:.1f}s"
    )
    return manifest | {"folder": str(folder), "reused": False}


# ------------------------------------------------------------------------------------------------------ texts


def build_texts(
    texts: int,
    near_dup_rate: float = DEFAULT_NEAR_DUP_RATE,
    seed: int = 0,
    out: Path | None = None,
    force: bool = False,
) -> dict:
    """Build (or reuse) the text corpus of ``texts`` documents; returns the manifest (``folder``, ``reused``)."""
    if not 1 <= texts <= MAX_TEXTS:
        raise ValueError(f"texts must be in [1, {MAX_TEXTS:,}], got {texts}")
    _check_rate(near_dup_rate)
    from bench.curate import _sha256_files

    sources = text_sources(SHARED)
    missing = [str(p) for p in sources[:3] if not p.exists()]
    if missing or len(sources) == 3:
        raise SystemExit(f"bench.corpus: source(s) not found: {', '.join(missing) or 'near_duplicates/pan_indonesian'}")
    folder = (out or corpus_root()) / f"texts-n{texts}-nd{_rate_name(near_dup_rate)}-s{seed}"
    want = {
        "kind": "texts",
        "builder": BUILDER_VERSION,
        "texts": texts,
        "near_dup_rate": near_dup_rate,
        "seed": seed,
        "sha256": {"sources": _sha256_files(sources)},
    }
    if not force and (have := _reusable(folder, want)):
        log(f"reusing {folder} ({have['documents']:,} documents)")
        return have | {"folder": str(folder), "reused": True}
    t0 = time.perf_counter()
    maker = TextMaker(SHARED, seed, near_dup_rate)
    tmp = _fresh(folder)
    by_source: Counter = Counter()
    shards = []
    dups = words = 0
    with open(tmp / "near_duplicates.jsonl", "w", encoding="utf-8") as truth:
        for start in range(0, texts, TEXT_SHARD_DOCS):
            name = f"texts-{start // TEXT_SHARD_DOCS:05d}.jsonl"
            n = min(TEXT_SHARD_DOCS, texts - start)
            with open(tmp / name, "w", encoding="utf-8") as f:
                for k in range(start, start + n):
                    text, root, of, edits = maker.make(k)
                    f.write(json.dumps({"id": f"t{k:07d}", "text": text}, ensure_ascii=False) + "\n")
                    by_source[root.split("/", 1)[0]] += 1
                    words += len(text.split())
                    if of is not None:
                        dups += 1
                        truth.write(json.dumps({"id": f"t{k:07d}", "of": f"t{of:07d}", "edits": edits}) + "\n")
            shards.append({"name": name, "documents": n})
    manifest = {
        "kind": "texts",
        "want": want,
        "shards": shards,
        "documents": texts,
        "words": words,
        "near_duplicates": dups,
        "near_duplicate_share": round(dups / texts, 4),
        "by_source": dict(sorted(by_source.items())),
        "originals": len(maker.originals),
        "vary_rate": TEXT_VARY_RATE,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    _publish(tmp, folder, manifest)
    log(
        f"made {texts:,} documents ({dups:,} near-duplicates, {words:,} words) in {folder}, "
        f"{sum(manifest['sizes'].values()) / MB:.1f} MB, {manifest['seconds']:.1f}s"
    )
    return manifest | {"folder": str(folder), "reused": False}


# -------------------------------------------------------------------------------------------------------- CLI


def summary(manifest: dict) -> dict:
    """The figures of a manifest worth a line: where, how big, what is in it."""
    keep = ("folder", "reused", "seconds", "records", "responses_by_type", "html_responses", "documents", "words")
    out = {k: manifest[k] for k in keep if k in manifest}
    out |= {"bytes": sum(manifest["sizes"].values()), "near_duplicates": manifest["near_duplicates"]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=None, help=f"WARC files (default {DEFAULT_FILES}; 0: none)")
    ap.add_argument(
        "--file-mb", type=float, default=None, help=f"MB (10^6 bytes) per file (default {DEFAULT_FILE_MB:g})"
    )
    ap.add_argument("--near-dup-rate", type=float, default=DEFAULT_NEAR_DUP_RATE, help="planted near-duplicate share")
    ap.add_argument("--texts", type=int, default=None, help=f"text documents, ≤ {MAX_TEXTS:,} (default 0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None, help="base folder (default bench/out/corpus)")
    ap.add_argument("--force", action="store_true", help="rebuild even when a matching corpus exists")
    ap.add_argument("--json", action="store_true", help="the summary as JSON, the last line of stdout")
    ap.add_argument("--smoke", action="store_true", help="2 files × 1 MB and 2,000 texts in bench/out/smoke/corpus")
    a = ap.parse_args(argv)
    files = a.files if a.files is not None else SMOKE["files"] if a.smoke else DEFAULT_FILES
    file_mb = a.file_mb if a.file_mb is not None else SMOKE["file_mb"] if a.smoke else DEFAULT_FILE_MB
    texts = a.texts if a.texts is not None else SMOKE["texts"] if a.smoke else 0
    out = a.out or corpus_root(a.smoke)
    if files < 0 or texts < 0 or file_mb <= 0 or texts > MAX_TEXTS or not 0 <= a.near_dup_rate < 1:
        ap.error(f"--files and --texts ≥ 0, --texts ≤ {MAX_TEXTS:,}, --file-mb > 0, --near-dup-rate in [0, 1)")
    if files == 0 and texts == 0:
        ap.error("nothing to build: --files 0 and no --texts")
    result: dict = {"smoke": a.smoke}
    if files:
        result["warc"] = summary(build_warcs(files, file_mb, a.near_dup_rate, a.seed, out, a.force))
    if texts:
        result["texts"] = summary(build_texts(texts, a.near_dup_rate, a.seed, out, a.force))
    for part, s in result.items():
        if isinstance(s, dict):
            what = f"{s['html_responses']:,} HTML responses" if part == "warc" else f"{s['documents']:,} documents"
            print(f"{part}: {what}, {s['near_duplicates']:,} near-duplicates, {s['bytes'] / MB:.1f} MB  {s['folder']}")
    if a.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
