"""Near-duplicate detection quality on real text with made edits: lakeforge's dedup against datasketch's MinHashLSH.

**Corpus** (:func:`build_corpus`, deterministic for a seed). Originals are real text from ``../shared/data``:

* ``wikitext2``: ``corpora/wikitext2_partial/{valid,test}.txt`` split into articles at top-level headings
  (`` = Title = ``; sub-headings `` = = x = = `` stay inside); an article over :data:`LONG_ARTICLE_WORDS` words is
  cut at its sub-headings (and paragraphs, where one section is longer still) into parts of at most
  :data:`SECTION_WORDS` words.
* ``shakespeare``: ``corpora/tinyshakespeare/input.txt`` cut at blank lines (speech boundaries) into chunks of
  150–400 words.
* ``pan``: ``near_duplicates/pan_indonesian/{source,suspicious}-documents/*.txt`` whole. The suspicious documents
  hold real copied passages of the source documents (verbatim, shuffled or with words replaced); a passage is a
  small part of a long document, so these pairs share shingles but stay far below the threshold: hard negatives.
* ``extra``: documents from ``--extra FILE.jsonl`` (``id``, ``text``; e.g. a lakehouse's ``documents`` exported).

Originals under :data:`MIN_WORDS` words are dropped. For a random :data:`COPY_FRACTION` of the originals, 1–3 edited
copies are made, each with one op at a random rate (:data:`RATES`):

* ``insert``: spans of 1–10 consecutive words from another original put in at random places (a fraction of the
  word count); ``delete``: spans of 1–10 words removed; ``substitute``: each word replaced by a random word of the
  corpus with the given probability; ``reorder``: a fraction of the sentences moved or swapped;
* ``cosmetic``: case, punctuation and whitespace changes only: identical after normalization (an exact duplicate);
* ``mixed``: two of the four word ops, each at a lower rate.

A few edited copies get a copy of their own (a chain, ``base`` = the copy). The rates are chosen so the copies'
Jaccard to their base spans about 0.5–1.0 with most mass between 0.6 and 0.95 (median about 0.8 for every word op),
where the 0.8 threshold separates the methods. ``corpus.jsonl`` (``build --out DIR``) has one JSON object per
line: ``id``, ``text``, ``source``, ``base`` (the id it was made from, null for an original) and ``edit``
(``op@rate``, two joined by ``+`` for ``mixed``; null for an original).

**Ground truth** (:func:`ground_truth`): every pair of documents whose shingle sets
(:func:`curation.dedup.text.shingle_set`, word 5-grams of the normalized text) have Jaccard ≥ 0.8, computed exactly
from a sparse document × shingle incidence matrix ``X``: intersections are ``X·Xᵀ``, unions ``|A| + |B| − |A∩B|``.
Two empty documents are identical (1.0), as :func:`~curation.dedup.text.jaccard` says.

**Scores.** The headline is the dedup *decisions* (:func:`score_decisions`), what a dedup user cares about: every
removal justified, and no near-duplicate pair left with both documents kept. A method says which documents it
removes and for which document (``dup_of``):

* **decision precision**: among the removed documents, the share whose true Jaccard with their ``dup_of`` is at least
  the threshold (exact copies have equal shingle sets: 1.0);
* **decision recall**: among the true pairs, the share where not both documents are kept (at least one removed).

Secondary, the *pair* scores (:func:`score`): a method's clusters predict every pair inside a cluster. Precision and
recall are over pairs; recall is also given per true-Jaccard bin, and the predicted pairs are broken down by their
true Jaccard (how far below the threshold the false positives are). Chains (copies A and B of O, each ≥ 0.8 to O
but A–B below) cap this pair precision for any clustering that keeps them together, hence the *chained* variant
too. Methods that also produce raw candidate pairs are scored on those (:func:`score_pairs`).

**Methods** (:data:`METHODS`, ``name → callable(docs, args) -> (clusters, info)``, ``info["dup_of"]``: the
decisions):

* ``reference``: :func:`curation.dedup.cluster.deduplicate` with :class:`~curation.dedup.config.DedupConfig`
  (defaults, changed with ``--set key=value``; ``--method reference:key=value,key=value`` for one run only);
* ``lakeforge``: the real Spark job: the corpus imported into a fresh lakehouse
  (:func:`curation.spark.text_import.run_import_text`), then :func:`curation.spark.dedup.run_dedup` with the same
  settings, ``documents`` read back; it also checks that the job equals ``reference`` on the imported doc ids;
* ``datasketch``: how datasketch is used to deduplicate: ``MinHashLSH(threshold, num_perm)`` with its default
  weights over ``MinHash(num_perm, seed)`` fed the same shingles (threshold, num_perm, seed and ngram from the same
  settings); documents in corpus order, each one queried against the documents kept so far: with any candidate it
  is a duplicate of the smallest candidate id (unverified), else it is inserted and kept;
* ``datasketch+verify``: the same, but a candidate is taken only when its true Jaccard reaches the threshold
  (candidates tried in id order);
* ``datasketch-components``: every document inserted, every query result a candidate pair, clusters = connected
  components of the candidate pairs, the smallest id of each survives.

    .venv/bin/python -m eval.dedup                                  # every method but lakeforge, tables
    .venv/bin/python -m eval.dedup --method reference --method lakeforge --method datasketch+verify
    .venv/bin/python -m eval.dedup --method reference --method reference:verify=false --method datasketch
    .venv/bin/python -m eval.dedup --set num_perm=256 --limit 300 --json
    .venv/bin/python -m eval.dedup build --out /tmp/dedup-eval      # write /tmp/dedup-eval/corpus.jsonl
    .venv/bin/python -m eval.dedup --corpus /tmp/dedup-eval/corpus.jsonl
    .venv/bin/python -m eval.dedup --smoke --json                   # 30 originals, every method (lakeforge too)
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from curation.config import load_settings, to_dict
from curation.dedup.cluster import components, deduplicate
from curation.dedup.config import DedupConfig
from curation.dedup.text import jaccard, normalize, shingle_set, shingles

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""``<repo>/../shared/data``."""

MIN_WORDS = 50
"""Originals with fewer whitespace-separated words are dropped."""
LONG_ARTICLE_WORDS = 1200
"""A wikitext article longer than this is cut into parts."""
SECTION_WORDS = 500
"""Most words in one part of a cut wikitext article (consecutive sections are packed up to it)."""
SHAKESPEARE_WORDS = (150, 400)
"""A tinyshakespeare chunk takes whole speeches until it reaches a target drawn from this range."""
COPY_FRACTION = 0.4
"""Share of the originals that get edited copies (1–3 each)."""
CHAIN_FRACTION = 0.1
"""Share of the non-cosmetic copies that get a copy of their own."""
OPS = ("insert", "delete", "substitute", "reorder", "cosmetic", "mixed")
OP_WEIGHTS = (0.19, 0.19, 0.19, 0.18, 0.1, 0.15)
RATES: dict[str, tuple[float, float]] = {
    "insert": (0.005, 0.2),
    "delete": (0.005, 0.16),
    "substitute": (0.003, 0.045),
    "reorder": (0.02, 0.35),
    "cosmetic": (0.05, 0.5),
}
"""Uniform range of each op's rate. ``mixed`` draws each of its two ops from the lower half of its range; a chained
copy draws its one op from the lower half too."""
MAX_SPAN = 10
"""Longest span of words one insertion or deletion touches."""


@dataclass(frozen=True)
class Doc:
    """One document of the evaluation corpus."""

    id: str
    text: str
    source: str
    """``wikitext2``, ``shakespeare``, ``pan`` or ``extra``: where the original came from."""
    base: str | None = None
    """The document this one is an edited copy of (None for an original)."""
    edit: str | None = None
    """``op@rate`` (``op@rate+op@rate`` for ``mixed``); None for an original."""

    @property
    def op(self) -> str | None:
        if self.edit is None:
            return None
        return "mixed" if "+" in self.edit else self.edit.split("@")[0]


# ---------------------------------------------------------------------------------------------------------- corpus

_TOP_HEADING = re.compile(r"^ = [^=].* = $")
_SUB_HEADING = re.compile(r"^ = = [^=].* = = $")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _word_count(lines: Sequence[str]) -> int:
    return sum(len(line.split()) for line in lines)


def _split_at(lines: Sequence[str], heading: re.Pattern) -> list[list[str]]:
    """Consecutive runs of lines, a new run at each line matching ``heading``."""
    runs: list[list[str]] = []
    for line in lines:
        if heading.match(line) or not runs:
            runs.append([])
        runs[-1].append(line)
    return runs


def _pack(blocks: Iterable[list[str]], max_words: int) -> list[list[str]]:
    """Consecutive blocks of lines packed greedily into parts of at most ``max_words`` words (a longer block alone)."""
    parts: list[list[str]] = []
    words = 0
    for block in blocks:
        n = _word_count(block)
        if not parts or (words + n > max_words and words > 0):
            parts.append([])
            words = 0
        parts[-1].extend(block)
        words += n
    return parts


def wikitext_documents(path: Path) -> list[tuple[str, str]]:
    """``(id, text)`` of the articles of one wikitext file, long ones cut into parts."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out = []
    articles = [a for a in _split_at(lines, _TOP_HEADING) if _TOP_HEADING.match(a[0])]
    for i, article in enumerate(articles):
        if _word_count(article) <= LONG_ARTICLE_WORDS:
            out.append((f"wikitext2/{path.stem}/{i:03d}", "\n".join(article)))
            continue
        blocks: list[list[str]] = []
        for section in _split_at(article, _SUB_HEADING):
            blocks.extend([[line] for line in section] if _word_count(section) > SECTION_WORDS else [section])
        for j, part in enumerate(_pack(blocks, SECTION_WORDS)):
            out.append((f"wikitext2/{path.stem}/{i:03d}.{j:02d}", "\n".join(part)))
    return out


def shakespeare_documents(path: Path, rng: random.Random) -> list[tuple[str, str]]:
    """``(id, text)`` chunks of whole speeches, each reaching a random target length."""
    speeches = [s for s in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")) if s.strip()]
    out = []
    chunk: list[str] = []
    words, target = 0, rng.randint(*SHAKESPEARE_WORDS)
    for speech in speeches:
        chunk.append(speech)
        words += len(speech.split())
        if words >= target:
            out.append((f"shakespeare/{len(out):04d}", "\n\n".join(chunk)))
            chunk, words, target = [], 0, rng.randint(*SHAKESPEARE_WORDS)
    if chunk:
        out.append((f"shakespeare/{len(out):04d}", "\n\n".join(chunk)))
    return out


def pan_documents(folder: Path) -> list[tuple[str, str]]:
    """``(id, text)`` of every source and suspicious document, whole."""
    out = []
    for sub in ("source-documents", "suspicious-documents"):
        for path in sorted((folder / sub).glob("*.txt")):
            out.append((f"pan/{path.stem}", path.read_text(encoding="utf-8")))
    return out


def read_extra(path: Path) -> list[tuple[str, str]]:
    """``(id, text)`` of a JSON-lines file of extra originals; the ids get the prefix ``extra/``."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, dict) or "id" not in row or "text" not in row:
                raise ValueError(f"{path}:{n}: each line must be a JSON object with 'id' and 'text'")
            if row["text"]:
                out.append((f"extra/{row['id']}", row["text"]))
    return out


def load_originals(data_dir: Path, rng: random.Random, extra_jsonl: Path | None = None) -> list[Doc]:
    """The real documents of at least :data:`MIN_WORDS` words, in a fixed order."""
    found: list[tuple[str, str, str]] = []
    wiki = data_dir / "corpora" / "wikitext2_partial"
    for name in ("valid.txt", "test.txt"):
        found += [("wikitext2", i, t) for i, t in wikitext_documents(wiki / name)]
    found += [
        ("shakespeare", i, t) for i, t in shakespeare_documents(data_dir / "corpora/tinyshakespeare/input.txt", rng)
    ]
    found += [("pan", i, t) for i, t in pan_documents(data_dir / "near_duplicates" / "pan_indonesian")]
    if extra_jsonl is not None:
        found += [("extra", i, t) for i, t in read_extra(Path(extra_jsonl))]
    docs = [Doc(i, t, source) for source, i, t in found if len(t.split()) >= MIN_WORDS]
    if len({d.id for d in docs}) != len(docs):
        raise ValueError("document ids of the originals are not unique (an --extra id repeated?)")
    return docs


# ----------------------------------------------------------------------------------------------------------- edits

_NEWLINE = "\n"


def _tokens(text: str) -> list[str]:
    """Whitespace-separated words, with ``"\\n"`` tokens where lines end (so edited copies keep their lines)."""
    out: list[str] = []
    for line in text.split("\n"):
        out.extend(line.split())
        out.append(_NEWLINE)
    return out[:-1]


def _join(tokens: Sequence[str]) -> str:
    return " ".join(tokens).replace(" \n ", "\n").replace("\n ", "\n").replace(" \n", "\n")


def _word_positions(tokens: Sequence[str]) -> list[int]:
    return [i for i, t in enumerate(tokens) if t != _NEWLINE]


class Editor:
    """The edit ops, drawing from one random generator and from the originals' words."""

    def __init__(self, originals: Sequence[Doc], rng: random.Random):
        self.rng = rng
        self.donors = [(d.id, d.text.split()) for d in originals]
        self.vocabulary = [w for _, ws in self.donors for w in ws]

    def apply(self, op: str, text: str, rate: float, root: str) -> str:
        """``text`` edited by ``op`` at ``rate``; ``root``: the original it descends from (never a donor)."""
        return getattr(self, op)(text, rate, root)

    def substitute(self, text: str, rate: float, root: str) -> str:
        rng, vocab = self.rng, self.vocabulary
        return _join([t if t == _NEWLINE or rng.random() >= rate else rng.choice(vocab) for t in _tokens(text)])

    def delete(self, text: str, rate: float, root: str) -> str:
        tokens = _tokens(text)
        words = _word_positions(tokens)
        target = max(1, round(rate * len(words)))
        gone: set[int] = set()
        while len(gone) < target and len(gone) < len(words) - 1:
            start = self.rng.randrange(len(words))
            gone.update(words[start : start + self.rng.randint(1, MAX_SPAN)])
        return _join([t for i, t in enumerate(tokens) if i not in gone])

    def insert(self, text: str, rate: float, root: str) -> str:
        if not any(i != root and ws for i, ws in self.donors):
            raise ValueError("an insertion needs a second original to take words from")
        tokens = _tokens(text)
        target = max(1, round(rate * len(_word_positions(tokens))))
        inserts: dict[int, list[str]] = {}
        added = 0
        while added < target:
            donor_id, donor = self.rng.choice(self.donors)
            if donor_id == root or not donor:
                continue
            n = min(self.rng.randint(1, MAX_SPAN), target - added, len(donor))
            start = self.rng.randrange(len(donor) - n + 1)
            inserts.setdefault(self.rng.randrange(len(tokens) + 1), []).extend(donor[start : start + n])
            added += n
        out: list[str] = []
        for i, t in enumerate(tokens):
            out.extend(inserts.get(i, ()))
            out.append(t)
        out.extend(inserts.get(len(tokens), ()))
        return _join(out)

    def reorder(self, text: str, rate: float, root: str) -> str:
        blocks = [b for b in _SENTENCE_END.split(text) if b.strip()]
        if len(blocks) < 4:
            words = text.split()
            blocks = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
        if len(blocks) < 2:
            return text
        for _ in range(max(1, round(rate * len(blocks)))):
            i, j = self.rng.sample(range(len(blocks)), 2)
            if self.rng.random() < 0.5:
                blocks[i], blocks[j] = blocks[j], blocks[i]
            else:
                blocks.insert(j, blocks.pop(i))
        return "\n".join(blocks)

    def cosmetic(self, text: str, rate: float, root: str) -> str:
        """Case, punctuation and whitespace changes that leave the normalized text as it was."""
        rng = self.rng
        out = []
        for t in _tokens(text):
            if t != _NEWLINE and rng.random() < rate:
                kind = rng.randrange(5)
                new = (
                    t.upper()
                    if kind == 0
                    else t.capitalize()
                    if kind == 1
                    else t + rng.choice((",", ".", ";", "!", "?", " -"))
                    if kind == 2
                    else f"({t})"
                    if kind == 3
                    else f'"{t}"'
                )
                # upper() is not always undone by casefold (dotless ı becomes I, then i): keep such a word as it was
                t = new if normalize(new) == normalize(t) else t
            out.append(t)
        spaced = " ".join(out).replace(" \n ", "\n")
        spaced = re.sub(" ", lambda _: rng.choice(("  ", "\t", " \n")) if rng.random() < rate / 4 else " ", spaced)
        if normalize(spaced) != normalize(text):  # pragma: no cover - the per-word check above prevents it
            raise AssertionError("a cosmetic edit changed the normalized text")
        return spaced


def _rate(op: str, rng: random.Random, upper: float = 1.0) -> float:
    lo, hi = RATES[op]
    return round(lo + (hi - lo) * upper * rng.random(), 4)


def _edited(editor: Editor, base: Doc, root: str, op: str, rng: random.Random, upper: float, copy_id: str) -> Doc:
    if op == "mixed":
        ops = rng.sample(("insert", "delete", "substitute", "reorder"), 2)
        text, parts = base.text, []
        for o in ops:
            r = _rate(o, rng, 0.5 * upper)
            text = editor.apply(o, text, r, root)
            parts.append(f"{o}@{r:g}")
        return Doc(copy_id, text, base.source, base.id, "+".join(parts))
    r = _rate(op, rng, upper)
    return Doc(copy_id, editor.apply(op, base.text, r, root), base.source, base.id, f"{op}@{r:g}")


def build_corpus(
    data_dir: Path = DEFAULT_DATA_DIR, seed: int = 0, limit: int | None = None, extra_jsonl: Path | None = None
) -> list[Doc]:
    """Originals and their edited copies (see the module docstring), the same for the same seed.

    ``limit``: a random sample of that many originals (before copies are made)."""
    rng = random.Random(seed)
    originals = load_originals(Path(data_dir), rng, extra_jsonl)
    if limit is not None and limit < len(originals):
        keep = set(rng.sample(range(len(originals)), limit))
        originals = [d for i, d in enumerate(originals) if i in keep]
    editor = Editor(originals, rng)
    copies: list[Doc] = []
    for doc in originals:
        if rng.random() >= COPY_FRACTION:
            continue
        for k in range(rng.randint(1, 3)):
            op = rng.choices(OPS, OP_WEIGHTS)[0]
            copy = _edited(editor, doc, doc.id, op, rng, 1.0, f"{doc.id}+c{k}")
            copies.append(copy)
            if op != "cosmetic" and rng.random() < CHAIN_FRACTION:
                op2 = rng.choice(("insert", "delete", "substitute", "reorder", "cosmetic"))
                copies.append(_edited(editor, copy, doc.id, op2, rng, 0.5, f"{copy.id}+c0"))
    return originals + copies


def write_corpus(docs: Iterable[Doc], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for d in docs:
            f.write(json.dumps(asdict(d), ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_corpus(path: Path) -> list[Doc]:
    with open(path, encoding="utf-8") as f:
        return [Doc(**json.loads(line)) for line in f if line.strip()]


# ---------------------------------------------------------------------------------------------------- ground truth


def recall_edges(threshold: float) -> list[float]:
    """Lower edges of the true-Jaccard bins recall is broken down by: steps of 0.05 from the threshold; the last bin
    (``= 1.0``) holds identical shingle sets only."""
    edges = [threshold]
    while edges[-1] + 0.05 < 1.0 - 1e-9:
        edges.append(round(edges[-1] + 0.05, 10))
    return edges


def predicted_edges(threshold: float) -> list[float]:
    """Lower edges of the true-Jaccard bins predicted pairs are broken down by (the last bin is ``≥ threshold``)."""
    return sorted({max(0.0, round(threshold - d, 10)) for d in (1.0, 0.3, 0.1, 0.05, 0.0)})


def _labels(edges: Sequence[float], exact_bin: bool) -> list[str]:
    labels = [f"{lo:.2f}–{hi:.2f}" for lo, hi in zip(edges, edges[1:], strict=False)]
    labels.append(f"{edges[-1]:.2f}–1.00" if exact_bin else f"≥{edges[-1]:.2f}")
    return labels + (["=1.00"] if exact_bin else [])


def _bin_index(values: np.ndarray, edges: Sequence[float], exact_bin: bool) -> np.ndarray:
    """Bin of each value: ``searchsorted`` on the lower edges, and ``1.0`` in a bin of its own where asked."""
    idx = np.searchsorted(np.asarray(edges), values, side="right") - 1
    if exact_bin:
        idx = np.where(values >= 1.0, len(edges), idx)
    return idx


@dataclass
class GroundTruth:
    """Exact Jaccard similarities of a corpus's shingle sets."""

    ids: list[str]
    incidence: sparse.csr_matrix
    """(documents, distinct shingles) int32, 1 where the document has the shingle."""
    threshold: float
    pairs: dict[tuple[str, str], float]
    """Every pair ``(a, b)``, ``a < b``, with Jaccard ≥ threshold → its Jaccard."""
    index: dict[str, int] = field(init=False, repr=False)
    sizes: np.ndarray = field(init=False, repr=False)
    """(documents,) number of distinct shingles."""

    _components: dict[str, str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {d: i for i, d in enumerate(self.ids)}
        self.sizes = np.diff(self.incidence.indptr).astype(np.int64)

    @property
    def components(self) -> dict[str, str]:
        """Document → its component in the graph of true pairs (documents linked by a chain of pairs ≥ threshold)."""
        if self._components is None:
            self._components = components(self.ids, self.pairs)
        return self._components

    def closure_pairs(self) -> int:
        """Pairs inside the components: the pairs a transitive method (connected components of true edges) finds."""
        return sum(k * (k - 1) // 2 for k in Counter(self.components.values()).values())

    def rows(self, ids: Iterable[str]) -> np.ndarray:
        try:
            return np.array([self.index[i] for i in ids], np.int64)
        except KeyError as e:
            raise ValueError(f"document {e.args[0]!r} is not in the ground truth's corpus") from None

    def jaccard(self, a: str, b: str) -> float:
        """The true Jaccard of two documents."""
        return float(self.jaccards([(a, b)])[0])

    def jaccards(self, pairs: Sequence[tuple[str, str]], chunk: int = 20000) -> np.ndarray:
        """(len(pairs),) true Jaccard of each pair, computed from the incidence rows."""
        out = np.empty(len(pairs), np.float64)
        for start in range(0, len(pairs), chunk):
            part = pairs[start : start + chunk]
            a, b = self.rows(p[0] for p in part), self.rows(p[1] for p in part)
            inter = np.asarray(self.incidence[a].multiply(self.incidence[b]).sum(axis=1)).ravel().astype(np.int64)
            union = self.sizes[a] + self.sizes[b] - inter
            with np.errstate(invalid="ignore", divide="ignore"):
                out[start : start + len(part)] = np.where(union == 0, 1.0, inter / np.maximum(union, 1))
        return out

    def within(self, ids: Sequence[str], edges: Sequence[float], block: int = 1024) -> np.ndarray:
        """Counts of the pairs inside ``ids`` by true-Jaccard bin (lower ``edges``), without listing the pairs:
        pairs sharing no shingle (Jaccard 0, or 1 for two empty documents) are counted, not enumerated."""
        counts = np.zeros(len(edges), np.int64)
        rows = np.sort(self.rows(ids))
        k = len(rows)
        if k < 2:
            return counts
        sub = self.incidence[rows]
        sizes = self.sizes[rows]
        sharing = 0
        for start in range(0, k, block):
            prod = (sub[start : start + block] @ sub[start:].T).tocoo()
            keep = prod.col > prod.row  # column index is relative to `start`: upper triangle only
            r, c, inter = prod.row[keep] + start, prod.col[keep] + start, prod.data[keep].astype(np.int64)
            sim = inter / (sizes[r] + sizes[c] - inter)
            counts += np.bincount(_bin_index(sim, edges, False), minlength=len(edges))
            sharing += len(sim)
        empty = int(np.count_nonzero(sizes == 0))
        identical_empty = empty * (empty - 1) // 2
        counts[0] += k * (k - 1) // 2 - sharing - identical_empty
        counts[_bin_index(np.array([1.0]), edges, False)[0]] += identical_empty
        return counts


def incidence_matrix(docs: Sequence[Doc], ngram: int = 5) -> sparse.csr_matrix:
    """(documents, distinct shingles) 0/1 matrix of the corpus's shingle sets."""
    vocabulary: dict[bytes, int] = {}
    indptr = [0]
    indices: list[int] = []
    for d in docs:
        row = {vocabulary.setdefault(s, len(vocabulary)) for s in shingles(normalize(d.text), ngram)}
        indices.extend(sorted(row))
        indptr.append(len(indices))
    data = np.ones(len(indices), np.int32)
    shape = (len(docs), max(1, len(vocabulary)))
    return sparse.csr_matrix((data, np.array(indices, np.int64), np.array(indptr, np.int64)), shape=shape)


def ground_truth(docs: Sequence[Doc], ngram: int = 5, threshold: float = 0.8, block: int = 512) -> GroundTruth:
    """All pairs with true Jaccard ≥ ``threshold`` (exact, from ``X·Xᵀ`` in blocks of rows)."""
    ids = [d.id for d in docs]
    if len(set(ids)) != len(ids):
        raise ValueError("document ids must be unique")
    x = incidence_matrix(docs, ngram)
    sizes = np.diff(x.indptr).astype(np.int64)
    pairs: dict[tuple[str, str], float] = {}
    for start in range(0, len(ids), block):
        # (block, n - start) intersections with this block and every later document: the upper triangle only
        prod = (x[start : start + block] @ x[start:].T).tocoo()
        r, c = prod.row + start, prod.col + start
        keep = c > r
        r, c, inter = r[keep], c[keep], prod.data[keep].astype(np.int64)
        sim = inter / (sizes[r] + sizes[c] - inter)
        hit = sim >= threshold
        for i, j, s in zip(r[hit].tolist(), c[hit].tolist(), sim[hit].tolist(), strict=True):
            pairs[(ids[i], ids[j]) if ids[i] < ids[j] else (ids[j], ids[i])] = s
    empty = [ids[i] for i in np.flatnonzero(sizes == 0).tolist()]
    for i, a in enumerate(empty):
        for b in empty[i + 1 :]:
            pairs[(min(a, b), max(a, b))] = 1.0
    return GroundTruth(ids, x, threshold, pairs)


def true_pairs(docs: Sequence[Doc], ngram: int = 5, threshold: float = 0.8) -> dict[tuple[str, str], float]:
    """Every pair ``(a, b)``, ``a < b``, with true Jaccard ≥ ``threshold`` → its Jaccard (see :func:`ground_truth`,
    which also keeps what is needed for the Jaccard of any other pair)."""
    return ground_truth(docs, ngram, threshold).pairs


# --------------------------------------------------------------------------------------------------------- scoring


@dataclass
class Scores:
    """Pair-level confusion counts of one prediction against the ground truth."""

    true: int
    """Pairs with true Jaccard ≥ threshold."""
    predicted: int
    tp: int
    recall_bins: dict[str, list[int]]
    """True-Jaccard bin → [true pairs predicted, true pairs]."""
    predicted_bins: dict[str, int]
    """True-Jaccard bin → predicted pairs (the bins below the threshold are the false positives)."""
    closure_true: int = 0
    """Pairs inside the components of the true-pair graph (:meth:`GroundTruth.closure_pairs`)."""
    closure_tp: int = 0
    """Predicted pairs inside one such component. A predicted pair below the threshold but inside a component is a
    transitive false positive: a chain of true pairs links its two documents."""
    clusters: int | None = None
    """Predicted clusters of two or more documents (None for raw pairs)."""
    largest_cluster: int | None = None

    @property
    def fp(self) -> int:
        return self.predicted - self.tp

    @property
    def fn(self) -> int:
        return self.true - self.tp

    @property
    def precision(self) -> float:
        return self.tp / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.true if self.true else 1.0

    @property
    def f1(self) -> float:
        total = self.predicted + self.true
        return 2 * self.tp / total if total else 1.0

    @property
    def closure_precision(self) -> float:
        """Share of the predicted pairs linked by a chain of true pairs."""
        return self.closure_tp / self.predicted if self.predicted else 1.0

    @property
    def closure_recall(self) -> float:
        """Share of the pairs inside the true-pair components that are predicted."""
        return self.closure_tp / self.closure_true if self.closure_true else 1.0

    def as_dict(self) -> dict:
        metrics = ("fp", "fn", "precision", "recall", "f1", "closure_precision", "closure_recall")
        return asdict(self) | {m: round(getattr(self, m), 5) for m in metrics}


def _recall_bins(truth: GroundTruth, found: Iterable[bool]) -> dict[str, list[int]]:
    edges = recall_edges(truth.threshold)
    labels = _labels(edges, True)
    sims = np.fromiter(truth.pairs.values(), np.float64, len(truth.pairs))
    hit = np.fromiter(found, bool, len(truth.pairs))
    idx = _bin_index(sims, edges, True)
    total = np.bincount(idx, minlength=len(labels))
    got = np.bincount(idx[hit], minlength=len(labels))
    return {label: [int(g), int(t)] for label, g, t in zip(labels, got, total, strict=True)}


def score(truth: GroundTruth, clusters: Mapping[str, str | None]) -> Scores:
    """Pair scores of a clustering: ``clusters`` maps a document id to its cluster label (None or absent: unique).
    Every pair inside a cluster is predicted; the pairs are counted per cluster, never listed."""
    unknown = [i for i in clusters if i not in truth.index]
    if unknown:
        raise ValueError(
            f"{len(unknown)} clustered document(s) are not in the ground truth's corpus, e.g. {unknown[0]!r}"
        )
    members: dict[str, list[str]] = {}
    for doc_id, label in clusters.items():
        if label is not None:
            members.setdefault(label, []).append(doc_id)
    groups = [m for m in members.values() if len(m) > 1]
    edges = predicted_edges(truth.threshold)
    counts = np.zeros(len(edges), np.int64)
    for group in groups:
        counts += truth.within(group, edges)
    found = (clusters.get(a) is not None and clusters.get(a) == clusters.get(b) for a, b in truth.pairs)
    recall_bins = _recall_bins(truth, found)
    tp = sum(g for g, _ in recall_bins.values())
    predicted = sum(len(g) * (len(g) - 1) // 2 for g in groups)
    comp = truth.components
    both = Counter((label, comp[i]) for i, label in clusters.items() if label is not None)
    return Scores(
        len(truth.pairs),
        predicted,
        tp,
        recall_bins,
        dict(zip(_labels(edges, False), counts.tolist(), strict=True)),
        truth.closure_pairs(),
        sum(k * (k - 1) // 2 for k in both.values()),
        len(groups),
        max((len(g) for g in groups), default=0),
    )


def score_pairs(truth: GroundTruth, pairs: Iterable[tuple[str, str]]) -> Scores:
    """Pair scores of a set of predicted pairs (order within a pair and repeats do not matter)."""
    predicted = sorted({(a, b) if a < b else (b, a) for a, b in pairs if a != b})
    edges = predicted_edges(truth.threshold)
    sims = truth.jaccards(predicted)
    counts = np.bincount(_bin_index(sims, edges, False), minlength=len(edges))
    chosen = set(predicted)
    recall_bins = _recall_bins(truth, (p in chosen for p in truth.pairs))
    tp = sum(g for g, _ in recall_bins.values())
    comp = truth.components
    return Scores(
        len(truth.pairs),
        len(predicted),
        tp,
        recall_bins,
        dict(zip(_labels(edges, False), counts.tolist(), strict=True)),
        truth.closure_pairs(),
        sum(1 for a, b in predicted if comp[a] == comp[b]),
    )


@dataclass
class DecisionScores:
    """Dedup decisions (which documents are removed, and for which document) against the ground truth."""

    true: int
    """Pairs with true Jaccard ≥ threshold."""
    removed: int
    """Documents marked duplicates (with a ``dup_of``)."""
    justified: int
    """Removed documents whose true Jaccard with their ``dup_of`` is ≥ threshold."""
    covered: int
    """True pairs of which at least one document is removed."""
    recall_bins: dict[str, list[int]]
    """True-Jaccard bin → [true pairs covered, true pairs]."""
    removed_bins: dict[str, int]
    """Bin of the true Jaccard of a removed document with its ``dup_of`` → removed documents."""
    removed_for_removed: int = 0
    """Removed documents whose ``dup_of`` is itself removed (a chain of removals; a survivor-based method has none)."""

    @property
    def unjustified(self) -> int:
        return self.removed - self.justified

    @property
    def left(self) -> int:
        """True pairs with both documents kept."""
        return self.true - self.covered

    @property
    def precision(self) -> float:
        return self.justified / self.removed if self.removed else 1.0

    @property
    def recall(self) -> float:
        return self.covered / self.true if self.true else 1.0

    def as_dict(self) -> dict:
        return asdict(self) | {m: round(getattr(self, m), 5) for m in ("unjustified", "left", "precision", "recall")}


def score_decisions(truth: GroundTruth, dup_of: Mapping[str, str]) -> DecisionScores:
    """Decision scores of ``dup_of`` (removed document id → the id of the document it was removed for; every other
    document is kept). Exact copies have equal shingle sets, so their true Jaccard is 1.0."""
    unknown = [i for pair in dup_of.items() for i in pair if i not in truth.index]
    if unknown:
        raise ValueError(
            f"{len(unknown)} document id(s) in dup_of are not in the ground truth's corpus, e.g. {unknown[0]!r}"
        )
    itself = [i for i, j in dup_of.items() if i == j]
    if itself:
        raise ValueError(f"{len(itself)} document(s) are marked duplicates of themselves, e.g. {itself[0]!r}")
    removed = list(dup_of.items())
    sims = truth.jaccards(removed)
    edges = predicted_edges(truth.threshold)
    counts = np.bincount(_bin_index(sims, edges, False), minlength=len(edges))
    recall_bins = _recall_bins(truth, (a in dup_of or b in dup_of for a, b in truth.pairs))
    return DecisionScores(
        len(truth.pairs),
        len(removed),
        int(np.count_nonzero(sims >= truth.threshold)),
        sum(g for g, _ in recall_bins.values()),
        recall_bins,
        dict(zip(_labels(edges, False), counts.tolist(), strict=True)),
        sum(1 for j in dup_of.values() if j in dup_of),
    )


# --------------------------------------------------------------------------------------------------------- methods

Clusters = dict[str, str | None]
Method = Callable[[Sequence[Doc], argparse.Namespace], tuple[Clusters, dict[str, Any]]]


def dedup_config(settings: Iterable[str] = ()) -> DedupConfig:
    """:class:`DedupConfig` defaults with ``key=value`` overrides (values parsed as YAML: ``verify=false``)."""
    return load_settings(DedupConfig, None, settings)


def _changed(cfg: DedupConfig) -> list[str]:
    default = to_dict(DedupConfig())
    return [f"{k}={v}" for k, v in to_dict(cfg).items() if default[k] != v]


def run_reference(docs: Sequence[Doc], args: argparse.Namespace) -> tuple[Clusters, dict[str, Any]]:
    """:func:`curation.dedup.cluster.deduplicate` with the settings in ``args.set``; ``dup_of`` from its
    assignments."""
    cfg = dedup_config(getattr(args, "set", None) or ())
    rows = [{"doc_id": d.id, "text": d.text, "warc_date": None} for d in docs]
    assigned = deduplicate(rows, cfg)
    marked = [a for a in assigned.values() if a.dup_of is not None]
    below = sum(1 for a in marked if a.dup_similarity is not None and a.dup_similarity < cfg.threshold)
    note = f"{len(marked):,} documents marked duplicates, {below:,} of them below {cfg.threshold:g} to their survivor"
    info = {"settings": _settings(cfg), "note": note, "config": to_dict(cfg)}
    info["dup_of"] = {i: a.dup_of for i, a in assigned.items() if a.dup_of is not None}
    return {i: a.dup_cluster_id for i, a in assigned.items()}, info


def _settings(cfg: DedupConfig) -> str:
    band = cfg.banding
    changed = ", ".join(_changed(cfg)) or "defaults"
    return f"{changed}; {band.bands}×{band.rows}" + ("" if cfg.verify else ", unverified")


def _clusters_of(ids: Iterable[str], dup_of: Mapping[str, str]) -> Clusters:
    """Cluster labels of survivor-based decisions: a removed document and the document it was removed for share the
    latter's id (followed to a kept document); a document nobody was removed for is unique."""
    targets = set(dup_of.values())

    def head(i: str) -> str:
        seen = {i}
        while i in dup_of and dup_of[i] not in seen:
            i = dup_of[i]
            seen.add(i)
        return i

    return {i: head(i) if i in dup_of or i in targets else None for i in ids}


def _minhashes(docs: Sequence[Doc], cfg: DedupConfig) -> list:
    from datasketch import MinHash

    texts = (shingles(normalize(d.text), cfg.ngram) for d in docs)
    return MinHash.bulk(texts, num_perm=cfg.num_perm, seed=cfg.seed)


def _datasketch_settings(cfg: DedupConfig, lsh: Any, how: str) -> str:
    return f"MinHashLSH(threshold={cfg.threshold:g}, num_perm={cfg.num_perm}), weights 0.5/0.5; {lsh.b}×{lsh.r}; {how}"


def _datasketch_online(docs: Sequence[Doc], args: argparse.Namespace, verify: bool) -> tuple[Clusters, dict]:
    """Documents in corpus order, each queried against the documents kept so far: a duplicate of the first candidate
    (smallest id; with ``verify`` the first one whose true Jaccard reaches the threshold), else inserted and kept."""
    from datasketch import MinHashLSH

    cfg = dedup_config(getattr(args, "set", None) or ())
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    sets: dict[str, set[bytes]] = {}

    def shingles_of(d: Doc) -> set[bytes]:
        if d.id not in sets:
            sets[d.id] = shingle_set(d.text, cfg.ngram)
        return sets[d.id]

    by_id = {d.id: d for d in docs}
    dup_of: dict[str, str] = {}
    queried_with_candidates = rejected = 0
    for d, m in zip(docs, _minhashes(docs, cfg), strict=True):
        candidates = sorted(lsh.query(m))
        queried_with_candidates += bool(candidates)
        found = None
        for c in candidates:
            if not verify or jaccard(shingles_of(d), shingles_of(by_id[c])) >= cfg.threshold:
                found = c
                break
            rejected += 1
        if found is None:
            lsh.insert(d.id, m)
        else:
            dup_of[d.id] = found
    how = "online, first verified candidate" if verify else "online, first candidate"
    note = f"{queried_with_candidates:,} documents had candidates among the kept ones, {len(dup_of):,} removed"
    if verify:
        note += f"; {rejected:,} candidates rejected by the true Jaccard"
    info = {"settings": _datasketch_settings(cfg, lsh, how), "note": note, "dup_of": dup_of}
    return _clusters_of([d.id for d in docs], dup_of), info


def run_datasketch(docs: Sequence[Doc], args: argparse.Namespace) -> tuple[Clusters, dict[str, Any]]:
    """datasketch as it is used to deduplicate: query, then insert only the documents with no candidate; a
    document with candidates is a duplicate of the smallest candidate id, unverified."""
    return _datasketch_online(docs, args, verify=False)


def run_datasketch_verify(docs: Sequence[Doc], args: argparse.Namespace) -> tuple[Clusters, dict[str, Any]]:
    """:func:`run_datasketch` taking a candidate only when its true Jaccard reaches the threshold (in id order)."""
    return _datasketch_online(docs, args, verify=True)


def run_datasketch_components(docs: Sequence[Doc], args: argparse.Namespace) -> tuple[Clusters, dict[str, Any]]:
    """datasketch's ``MinHashLSH`` (default weights) holding every document; every query result is a candidate pair
    (``info["pairs"]``), the clusters are the connected components of the candidate pairs and the smallest id of a
    component survives (the others' ``dup_of``)."""
    from datasketch import MinHashLSH

    cfg = dedup_config(getattr(args, "set", None) or ())
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    minhashes = _minhashes(docs, cfg)
    with lsh.insertion_session() as session:
        for d, m in zip(docs, minhashes, strict=True):
            session.insert(d.id, m)
    pairs = set()
    for d, m in zip(docs, minhashes, strict=True):
        pairs.update((d.id, other) if d.id < other else (other, d.id) for other in lsh.query(m) if other != d.id)
    label = components([d.id for d in docs], pairs)
    sizes = Counter(label.values())
    clusters = {i: (c if sizes[c] > 1 else None) for i, c in label.items()}
    dup_of = {i: c for i, c in label.items() if c != i}
    settings = _datasketch_settings(cfg, lsh, "connected components")
    return clusters, {"settings": settings, "pairs": pairs, "dup_of": dup_of}


LAKEFORGE_MASTER = "local[2]"
LAKEFORGE_SHUFFLE_PARTITIONS = 4
LAKEFORGE_COLUMNS = ("doc_id", "url", "source_file", "text", "dup_cluster_id", "dup_of", "dup_similarity", "dup_exact")
"""What is read back from ``documents``."""


def imported_ids(rows: Sequence[Mapping[str, Any]], docs: Sequence[Doc]) -> dict[str, str]:
    """Imported ``doc_id`` → corpus id, from the importer's URL ``<source_file>#<id>`` (the JSON has no url field);
    every corpus document must come back exactly once."""
    corpus_id = {}
    for r in rows:
        prefix = f"{r['source_file']}#"
        if not (r["url"] or "").startswith(prefix):
            raise ValueError(f"imported document {r['doc_id']}: url {r['url']!r} does not start with {prefix!r}")
        corpus_id[r["doc_id"]] = r["url"][len(prefix) :]
    missing = {d.id for d in docs} - set(corpus_id.values())
    if len(corpus_id) != len(docs) or len(set(corpus_id.values())) != len(docs) or missing:
        raise ValueError(
            f"{len(corpus_id):,} documents imported for {len(docs):,} in the corpus ({len(missing):,} missing)"
        )
    return corpus_id


def _mapped(corpus_id: Mapping[str, str], doc_id: str | None) -> str | None:
    return None if doc_id is None else corpus_id[doc_id]


def check_against_reference(
    rows: Sequence[Mapping[str, Any]], docs: Sequence[Doc], corpus_id: Mapping[str, str], cfg: DedupConfig
) -> tuple[str, int]:
    """Whether the job's dedup columns (``rows``: ``doc_id``, ``dup_cluster_id``, ``dup_of``, ``dup_similarity``,
    ``dup_exact``, ``text``) equal :func:`~curation.dedup.cluster.deduplicate`'s with ``cfg`` on the same doc ids and
    the corpus texts (``warc_date`` null: the smallest doc_id survives): one line, and the number of documents whose
    ``dup_cluster_id`` or ``dup_of`` differ."""
    text = {d.id: d.text for d in docs}
    expected = deduplicate(
        [{"doc_id": r["doc_id"], "text": text[corpus_id[r["doc_id"]]], "warc_date": None} for r in rows], cfg
    )
    differ = sorted(
        corpus_id[r["doc_id"]]
        for r in rows
        if (r["dup_cluster_id"], r["dup_of"]) != (expected[r["doc_id"]].dup_cluster_id, expected[r["doc_id"]].dup_of)
    )
    other = sum(
        1
        for r in rows
        if (r["dup_similarity"], r["dup_exact"])
        != (expected[r["doc_id"]].dup_similarity, expected[r["doc_id"]].dup_exact)
    )
    changed_text = sum(1 for r in rows if "text" in r and r["text"] != text[corpus_id[r["doc_id"]]])
    same = "same settings, on the imported doc ids"
    if not differ:
        check = f"lakeforge == reference ({same}): all {len(rows):,} documents have the same dup_cluster_id and dup_of"
    else:
        check = (
            f"lakeforge != reference ({same}): {len(differ):,} of {len(rows):,} documents differ in dup_cluster_id "
            f"or dup_of, e.g. {', '.join(differ[:3])}"
        )
    check += f"; {other:,} differ in dup_similarity or dup_exact"
    if changed_text:
        check += f"; {changed_text:,} texts changed by the import"
    return check, len(differ)


def run_lakeforge(docs: Sequence[Doc], args: argparse.Namespace) -> tuple[Clusters, dict[str, Any]]:
    """The real Spark job: the corpus written as JSON lines (``id``, ``text``) and imported into a fresh lakehouse
    (:func:`~curation.spark.text_import.run_import_text`), :func:`~curation.spark.dedup.run_dedup` with the
    settings in ``args.set``, and ``documents`` read back. The importer hashes the ids into ``doc_id`` and sets
    ``url`` = ``<source_file>#<id>``: the corpus ids come back from the URL.

    ``info["seconds"]`` is the dedup job's own time (``report.seconds``; Spark start and import apart, in the note).
    ``info["check"]`` says whether the job's assignments equal :func:`~curation.dedup.cluster.deduplicate`'s with
    the same settings on the same (hashed) doc ids (warc_date null, so the smallest doc_id survives), the ids then
    mapped back."""
    import tempfile

    from curation.config import LakehouseConfig, SparkConfig
    from curation.provenance import RunInfo
    from curation.spark.dedup import run_dedup
    from curation.spark.lakehouse import Lakehouse
    from curation.spark.session import build_session
    from curation.spark.text_import import TextImportConfig, run_import_text
    from jobs.common import prepare_environment
    from schemas import DOCUMENTS

    cfg = dedup_config(getattr(args, "set", None) or ())
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="eval-dedup-", ignore_cleanup_errors=True) as tmp:
        path = Path(tmp) / "corpus.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({"id": d.id, "text": d.text}, ensure_ascii=False) + "\n")
        prepare_environment()
        spark = build_session(
            SparkConfig(
                master=LAKEFORGE_MASTER,
                app_name="lakeforge-eval-dedup",
                shuffle_partitions=LAKEFORGE_SHUFFLE_PARTITIONS,
                driver_memory="4g",
            )
        )
        try:
            spark.sparkContext.setLogLevel("ERROR")
            lake = Lakehouse(spark, LakehouseConfig(root=str(Path(tmp) / "lakehouse"))).attach()
            start_s = time.perf_counter() - started
            imported = run_import_text(
                spark, lake, [str(path)], TextImportConfig(), RunInfo(job="import", config_hash="eval", config={})
            )
            report = run_dedup(spark, lake, cfg, RunInfo(job="dedup", config_hash="eval", config=to_dict(cfg)))
            t0 = time.perf_counter()
            rows = [r.asDict() for r in lake.read(DOCUMENTS.name).select(*LAKEFORGE_COLUMNS).collect()]
            read_s = time.perf_counter() - t0
        finally:
            spark.stop()
    corpus_id = imported_ids(rows, docs)
    clusters = {corpus_id[r["doc_id"]]: _mapped(corpus_id, r["dup_cluster_id"]) for r in rows}
    dup_of = {corpus_id[r["doc_id"]]: corpus_id[r["dup_of"]] for r in rows if r["dup_of"] is not None}
    t0 = time.perf_counter()
    check, differ = check_against_reference(rows, docs, corpus_id, cfg)
    check_s = time.perf_counter() - t0
    details = report.details
    note = (
        f"Spark start {start_s:.1f} s, import {imported.seconds:.1f} s, dedup {report.seconds:.1f} s "
        f"(the seconds column), read back {read_s:.1f} s, reference check {check_s:.1f} s; "
        f"banding {details.get('banding')}; {details.get('candidate_pairs', 0):,} candidate pairs, "
        f"{details.get('edges', 0):,} edges, {details.get('components_iterations', 0)} component iterations; "
        f"{len(dup_of):,} documents marked duplicates"
    )
    info = {
        "settings": f"{_settings(cfg)}; Spark {LAKEFORGE_MASTER}, {LAKEFORGE_SHUFFLE_PARTITIONS} shuffle partitions",
        "note": note,
        "check": check,
        "seconds": report.seconds,
        "dup_of": dup_of,
        "details": dict(details),
        "timings": {
            "spark_start": round(start_s, 3),
            "import": round(imported.seconds, 3),
            "dedup": round(report.seconds, 3),
            "read_back": round(read_s, 3),
            "check": round(check_s, 3),
        },
        "differ": differ,
    }
    return clusters, info


METHODS: dict[str, Method] = {
    "reference": run_reference,
    "lakeforge": run_lakeforge,
    "datasketch": run_datasketch,
    "datasketch+verify": run_datasketch_verify,
    "datasketch-components": run_datasketch_components,
}
"""Method name → ``callable(docs, args) -> (clusters, info)``. ``args`` is the parsed command line (``args.set``:
the ``key=value`` settings for this run). ``clusters`` maps doc id → cluster label (None: unique). ``info`` has
``settings`` (a short description for the table) and may have ``dup_of`` (removed doc id → the id it was removed
for; every other document is kept: the decisions, the headline scores), ``pairs`` (raw candidate pairs, scored
too), ``note`` (one line printed under the tables), ``check`` (one line printed with the results) and ``seconds``
(the time to show instead of the call's wall time, e.g. the Spark job's own)."""

DEFAULT_METHODS = [m for m in METHODS if m != "lakeforge"]
SMOKE_LIMIT = 30  # --smoke: originals sampled
"""Methods run when none is named (``lakeforge`` starts Spark: name it)."""


def _warm_up() -> None:
    """Compile the numba kernels before any clock runs (cached on disk after the first time)."""
    text = " ".join(f"word{i}" for i in range(20))
    deduplicate([{"doc_id": "a", "text": text}, {"doc_id": "b", "text": text + " x"}], DedupConfig())


# ------------------------------------------------------------------------------------------------------ evaluation


@dataclass
class MethodResult:
    method: str
    settings: str
    seconds: float
    scores: Scores
    """Pair scores of the clusters."""
    pair_scores: Scores | None = None
    """Scores of the raw candidate pairs, for methods that report them."""
    info: dict[str, Any] = field(default_factory=dict)
    decisions: DecisionScores | None = None
    """Scores of the dedup decisions, for methods that report ``dup_of``."""
    wall_seconds: float | None = None
    """Wall time of the method call, where ``seconds`` is another (the Spark job's own)."""

    def as_dict(self) -> dict:
        out = {"method": self.method, "settings": self.settings, "seconds": round(self.seconds, 3)}
        if self.wall_seconds is not None:
            out["wall_seconds"] = round(self.wall_seconds, 3)
        out["decisions"] = self.decisions.as_dict() if self.decisions else None
        out["scores"] = self.scores.as_dict()
        out["pair_scores"] = self.pair_scores.as_dict() if self.pair_scores else None
        return out | {"info": self.info}


@dataclass
class Report:
    corpus: dict[str, Any]
    truth: dict[str, Any]
    results: list[MethodResult] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"corpus": self.corpus, "truth": self.truth, "results": [r.as_dict() for r in self.results]}


COPY_EDGES = [0.0, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95]
"""Lower edges of the bins of the copies' Jaccard histogram (plus ``= 1.0``)."""


def corpus_stats(docs: Sequence[Doc], truth: GroundTruth) -> dict[str, Any]:
    """Counts by source and op, and the histogram of each edited copy's true Jaccard to its base."""
    copies = [d for d in docs if d.base is not None]
    sims = truth.jaccards([(d.id, d.base) for d in copies])
    labels = _labels(COPY_EDGES, True)
    histogram: dict[str, dict[str, int]] = {}
    for op in (*OPS, "all"):
        chosen = np.array([op in ("all", d.op) for d in copies], bool)
        idx = _bin_index(sims[chosen], COPY_EDGES, True)
        histogram[op] = dict(zip(labels, np.bincount(idx, minlength=len(labels)).tolist(), strict=True))
    copy_ids = {d.id for d in copies}
    medians = {op: [s for d, s in zip(copies, sims.tolist(), strict=True) if d.op == op] for op in OPS}
    return {
        "docs": len(docs),
        "originals": Counter(d.source for d in docs if d.base is None),
        "copies": Counter(d.op for d in copies),
        "chained": sum(1 for d in copies if d.base in copy_ids),
        "words": sum(len(d.text.split()) for d in docs),
        "shingles": int(truth.incidence.nnz),
        "copy_jaccard": histogram,
        "copy_jaccard_median": {op: round(float(np.median(v)), 3) for op, v in medians.items() if v},
    }


def run_method(name: str, docs: Sequence[Doc], truth: GroundTruth, args: argparse.Namespace) -> MethodResult:
    """Run one method (timed) and score its decisions (``dup_of``) and clusters, and its raw pairs where it returns
    them."""
    method = METHODS.get(name)
    if method is None:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    started = time.perf_counter()
    clusters, info = method(docs, args)
    wall = time.perf_counter() - started
    info = dict(info)
    pairs = info.pop("pairs", None)
    dup_of = info.pop("dup_of", None)
    settings = str(info.pop("settings", ""))
    seconds = info.pop("seconds", None)
    return MethodResult(
        name,
        settings,
        wall if seconds is None else float(seconds),
        score(truth, clusters),
        score_pairs(truth, pairs) if pairs is not None else None,
        info,
        score_decisions(truth, dup_of) if dup_of is not None else None,
        None if seconds is None else wall,
    )


def _method_args(spec: str, args: argparse.Namespace) -> tuple[str, argparse.Namespace]:
    """``name`` or ``name:k=v,k=v``: the method and its args (the global ``--set`` first, then its own)."""
    name, _, own = spec.partition(":")
    extra = [s for s in own.split(",") if s.strip()]
    return name, argparse.Namespace(**(vars(args) | {"set": list(args.set or ()) + extra}))


def evaluate(docs: Sequence[Doc], methods: Sequence[str], args: argparse.Namespace, ngram: int = 5) -> Report:
    """Ground truth of ``docs`` and the scores of each method spec (``name`` or ``name:k=v,k=v``)."""
    for spec in methods:
        if spec.partition(":")[0] not in METHODS:
            raise ValueError(f"unknown method {spec.partition(':')[0]!r}; known: {', '.join(METHODS)}")
    started = time.perf_counter()
    truth = ground_truth(docs, ngram, args.threshold)
    truth_s = time.perf_counter() - started
    found = _recall_bins(truth, (True for _ in truth.pairs))
    report = Report(
        corpus_stats(docs, truth),
        {
            "threshold": args.threshold,
            "pairs": len(truth.pairs),
            "bins": {k: t for k, (_, t) in found.items()},
            "closure_pairs": truth.closure_pairs(),
            "components": sum(1 for k in Counter(truth.components.values()).values() if k > 1),
        },
    )
    report.truth["seconds"] = round(truth_s, 3)
    _warm_up()
    for spec in methods:
        name, method_args = _method_args(spec, args)
        report.results.append(run_method(name, docs, truth, method_args))
    return report


# ---------------------------------------------------------------------------------------------------------- output

GOAL_PRECISION = 0.98
GOAL_RECALL = 0.95


def _row(label: str, settings: str, s: Scores, seconds: float | None) -> str:
    bins = " | ".join(f"{g / t:.3f}" if t else "–" for g, t in s.recall_bins.values())
    secs = f"{seconds:.1f}" if seconds is not None else "″"
    return (
        f"| {label} | {settings} | {s.predicted:,} | {s.tp:,} | {s.fp:,} | {s.fn:,} | {s.precision:.4f} | "
        f"{s.recall:.4f} | {s.f1:.4f} | {secs} | {bins} |"
    )


def _seconds(r: MethodResult) -> str:
    return f"{r.seconds:.1f}" + (f" (wall {r.wall_seconds:.1f})" if r.wall_seconds is not None else "")


def _decision_lines(report: Report) -> list[str]:
    t = report.truth
    threshold = t["threshold"]
    with_decisions = [r for r in report.results if r.decisions is not None]
    if not with_decisions:
        return []
    bins = list(with_decisions[0].decisions.recall_bins)
    lines = [
        "",
        f"Dedup decisions (headline): documents removed, and true pairs (Jaccard ≥ {threshold:g}) left with both "
        "documents kept",
        "",
        "| method | settings | removed | justified | unjustified | dup_of removed | pairs left | precision | recall | "
        "seconds | " + " | ".join(f"R {b}" for b in bins) + " |",
        "|---" * (10 + len(bins)) + "|",
    ]
    for r in with_decisions:
        d = r.decisions
        recall = " | ".join(f"{g / n:.3f}" if n else "–" for g, n in d.recall_bins.values())
        lines.append(
            f"| {r.method} | {r.settings} | {d.removed:,} | {d.justified:,} | {d.unjustified:,} | "
            f"{d.removed_for_removed:,} | {d.left:,} | {d.precision:.4f} | {d.recall:.4f} | {_seconds(r)} | {recall} |"
        )
    edges = list(with_decisions[0].decisions.removed_bins)
    lines += [
        "",
        "Removed documents by their true Jaccard to the document they were removed for (bins below the threshold are "
        "the unjustified removals)",
        "",
        "| method | settings | " + " | ".join(edges) + " |",
        "|---" * (2 + len(edges)) + "|",
    ]
    for r in with_decisions:
        lines.append(
            f"| {r.method} | {r.settings} | " + " | ".join(f"{v:,}" for v in r.decisions.removed_bins.values()) + " |"
        )
    lines += [
        "",
        f"decision precision: the share of the removed documents whose true Jaccard with the document they were "
        f"removed for (dup_of) is ≥ {threshold:g}, exact copies 1.0: is every removal justified? decision recall: the "
        f"share of the {t['pairs']:,} true pairs with at least one of the two documents removed: does any "
        f"near-duplicate pair survive? (R bins: by the pair's true Jaccard; 'dup_of removed': removals for a document "
        f"that is itself removed)",
        "",
    ]
    for r in report.results:
        d = r.decisions
        if d is None:
            lines.append(f"goal: {r.method} [{r.settings}]: no dedup decisions (dup_of) reported")
            continue
        met = d.precision >= GOAL_PRECISION and d.recall >= GOAL_RECALL
        lines.append(
            f"goal (decision precision ≥ {GOAL_PRECISION}, decision recall ≥ {GOAL_RECALL}): {r.method} "
            f"[{r.settings}]: P={d.precision:.4f} R={d.recall:.4f} {'MET' if met else 'NOT MET'}"
        )
    return lines


def _pair_lines(report: Report) -> list[str]:
    t = report.truth
    bins = list(report.results[0].scores.recall_bins)
    lines = [
        "",
        f"Secondary: pairs with true Jaccard ≥ {t['threshold']:g}, precision and recall of the pairs inside the "
        "clusters (and of the raw candidate pairs)",
        "",
        "| method | settings | pairs predicted | TP | FP | FN | precision | recall | F1 | seconds | "
        + " | ".join(f"R {b}" for b in bins)
        + " |",
        "|---" * (10 + len(bins)) + "|",
    ]
    for r in report.results:
        lines.append(_row(f"{r.method} clusters", r.settings, r.scores, r.seconds))
        if r.pair_scores is not None:
            lines.append(_row(f"{r.method} candidate pairs", r.settings, r.pair_scores, None))
    pred = list(report.results[0].scores.predicted_bins)
    lines += [
        "",
        "Secondary: predicted pairs by their true Jaccard (bins below the threshold are false positives); 'chained': "
        "predicted pairs whose documents a chain of true pairs links (transitive), and precision and recall "
        f"against all pairs so linked ({t['closure_pairs']:,})",
        "",
        "| method | settings | clusters | largest | " + " | ".join(pred) + " | chained | precision (chained) | "
        "recall (chained) |",
        "|---" * (7 + len(pred)) + "|",
    ]
    for r in report.results:
        for label, s in ((f"{r.method} clusters", r.scores), (f"{r.method} candidate pairs", r.pair_scores)):
            if s is None:
                continue
            sizes = f"{s.clusters:,} | {s.largest_cluster:,}" if s.clusters is not None else "– | –"
            lines.append(
                f"| {label} | {r.settings} | {sizes} | "
                + " | ".join(f"{v:,}" for v in s.predicted_bins.values())
                + f" | {s.closure_tp:,} | {s.closure_precision:.4f} | {s.closure_recall:.4f} |"
            )
    lines += [
        "",
        "pair precision and recall: every pair of documents inside one predicted cluster is a predicted pair, scored "
        "against the true pairs; a cluster that holds a chain (A ~ O ~ B with A !~ B) predicts the pair A–B, so these "
        "scores judge the grouping, not what is removed.",
    ]
    return lines


def format_report(report: Report) -> str:
    c, t = report.corpus, report.truth
    lines = [
        f"corpus: {c['docs']:,} docs, {c['words']:,} words, {c['shingles']:,} shingle occurrences (distinct per doc); "
        f"originals {sum(c['originals'].values()):,} ({', '.join(f'{k} {v:,}' for k, v in c['originals'].items())}); "
        f"copies {sum(c['copies'].values()):,} ({', '.join(f'{k} {v}' for k, v in sorted(c['copies'].items()))}), "
        f"{c['chained']} of them copies of copies" + (f"; built in {c['seconds']:.1f} s" if "seconds" in c else ""),
        f"ground truth: {t['pairs']:,} pairs with Jaccard ≥ {t['threshold']:g} "
        f"({', '.join(f'{k}: {v:,}' for k, v in t['bins'].items())}), computed in {t['seconds']:.1f} s; "
        f"{t['components']:,} groups of documents linked by chains of true pairs, "
        f"{t['closure_pairs']:,} pairs inside them",
        "",
        "Edited copies: true Jaccard to their base",
        "",
    ]
    labels = list(c["copy_jaccard"]["all"])
    lines.append("| op | copies | median | " + " | ".join(labels) + " |")
    lines.append("|---" * (len(labels) + 3) + "|")
    for op, hist in c["copy_jaccard"].items():
        median = c["copy_jaccard_median"].get(op)
        lines.append(
            f"| {op} | {sum(hist.values()):,} | {'' if median is None else f'{median:.3f}'} | "
            + " | ".join(f"{v:,}" for v in hist.values())
            + " |"
        )
    if report.results:
        lines += _decision_lines(report)
        lines += _pair_lines(report)
        lines.append("")
        lines += [f"note: {r.method} [{r.settings}]: {r.info['note']}" for r in report.results if "note" in r.info]
        lines += [f"check: {r.method} [{r.settings}]: {r.info['check']}" for r in report.results if "check" in r.info]
    return "\n".join(lines)


def _json_default(value: Any) -> Any:
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _build_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.dedup build", description="Write the corpus as JSON lines.")
    _corpus_args(parser)
    parser.add_argument("--out", type=Path, required=True, help="folder to write corpus.jsonl into")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    docs = build_corpus(args.data, args.seed, args.limit, args.extra)
    write_corpus(docs, args.out / "corpus.jsonl")
    copies = Counter(d.op for d in docs if d.op)
    print(
        f"{args.out / 'corpus.jsonl'}: {len(docs):,} docs ({len(docs) - sum(copies.values()):,} originals, copies "
        f"{dict(sorted(copies.items()))}) in {time.perf_counter() - started:.1f} s"
    )
    return 0


def _corpus_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="the shared data folder")
    parser.add_argument("--seed", type=int, default=0, help="seed of the chunking, sampling and edits")
    parser.add_argument("--limit", type=int, default=None, help="a random sample of N originals")
    parser.add_argument("--extra", type=Path, default=None, help="JSON lines (id, text) of more originals")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["build"]:
        return _build_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m eval.dedup", description=__doc__.split("\n\n")[0])
    _corpus_args(parser)
    parser.add_argument("--corpus", type=Path, default=None, help="read this corpus.jsonl instead of building one")
    parser.add_argument(
        "--method",
        action="append",
        default=None,
        help=f"NAME or NAME:key=value,key=value (repeatable; {', '.join(METHODS)}; default: all but lakeforge)",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="DedupConfig setting")
    parser.add_argument("--threshold", type=float, default=0.8, help="true Jaccard at which a pair is a duplicate")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"a check: --limit {SMOKE_LIMIT} and every method, lakeforge's Spark job included (unless given)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.limit = args.limit or SMOKE_LIMIT
        args.method = args.method or list(METHODS)
    if args.corpus is None and not (args.data / "corpora").is_dir():
        parser.error(f"{args.data}/corpora not found: pass --data (the shared data folder) or --corpus")
    methods = args.method or list(DEFAULT_METHODS)
    try:
        for spec in methods:
            _, method_args = _method_args(spec, args)
            if spec.partition(":")[0] not in METHODS:
                raise ValueError(f"unknown method {spec.partition(':')[0]!r}; known: {', '.join(METHODS)}")
            dedup_config(method_args.set)
    except ValueError as e:
        parser.error(str(e))
    started = time.perf_counter()
    docs = read_corpus(args.corpus) if args.corpus else build_corpus(args.data, args.seed, args.limit, args.extra)
    built_s = time.perf_counter() - started
    report = evaluate(docs, methods, args)
    report.corpus["seconds"] = round(built_s, 3)
    report.corpus["source"] = str(args.corpus) if args.corpus else f"built from {args.data}, seed {args.seed}"
    print(
        json.dumps(report.as_dict(), indent=2, default=_json_default, ensure_ascii=False)
        if args.json
        else format_report(report)
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
