"""Training a fastText classifier, deterministically: settings, examples, the split, fitting and evaluation.

The flow (the Spark job gathers the raw rows; everything here is pure)::

    raw rows (text, positive?, group, trainable?) → prepare() → Dataset (normalized, split, capped)
    Dataset → fit() → model file → evaluate() → metrics (validation sweep, operating threshold, test figures)

**Split.** Each example goes to train / validation / test by a hash of its *group* (by default its normalized text;
a document id when long documents are cut into chunks) and the split seed, so identical texts and the chunks of one
document never straddle splits, and the assignment does not depend on input order. The test split is never used to
choose anything: the operating threshold comes from the validation split.

**Determinism.** fastText trains with one thread and a fixed seed; the training file is written in an order fixed by
the seed and the texts (not the input order), so the same examples and settings give the same model bytes.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from curation.classify import metrics
from curation.classify.model import positive_probabilities
from curation.classify.text import NORMALIZATION, chunk_words, normalize

SPLITS = ("train", "validation", "test")
LABEL_PREFIX = "__label__"


@dataclass(frozen=True)
class FastTextSettings:
    """fastText ``train_supervised`` hyperparameters (fastText's own names in parentheses)."""

    lr: float = 0.1
    epoch: int = 5
    dim: int = 100
    word_ngrams: int = 1
    """Word n-grams (``wordNgrams``): 2 adds bigrams."""
    minn: int = 0
    """Shortest character n-gram (``minn``); 0 with ``maxn`` 0: no subwords."""
    maxn: int = 0
    min_count: int = 1
    """Words seen fewer times are ignored (``minCount``)."""
    bucket: int = 2_000_000
    """Hash buckets for n-grams (``bucket``): the model file grows with it."""
    loss: str = "softmax"
    seed: int = 0
    """fastText's random seed; with one thread, training is deterministic."""

    def __post_init__(self) -> None:
        for name in ("epoch", "dim", "word_ngrams", "min_count", "bucket"):
            if getattr(self, name) < 1:
                raise ValueError(f"fasttext.{name} must be at least 1, got {getattr(self, name)}")
        if not 0 < self.lr <= 10:
            raise ValueError(f"fasttext.lr must be in (0, 10], got {self.lr}")
        if self.minn < 0 or self.maxn < self.minn:
            raise ValueError(f"fasttext.minn/maxn must satisfy 0 <= minn <= maxn, got {self.minn}/{self.maxn}")
        if self.loss not in ("softmax", "ova", "hs", "ns"):
            raise ValueError(f"fasttext.loss must be softmax, ova, hs or ns, got {self.loss!r}")

    def kwargs(self) -> dict:
        return {
            "lr": self.lr,
            "epoch": self.epoch,
            "dim": self.dim,
            "wordNgrams": self.word_ngrams,
            "minn": self.minn,
            "maxn": self.maxn,
            "minCount": self.min_count,
            "bucket": self.bucket,
            "loss": self.loss,
            "seed": self.seed,
            "thread": 1,
            "verbose": 0,
        }


@dataclass(frozen=True)
class SplitSettings:
    """Fractions of the examples held out; the rest trains."""

    seed: int = 0
    validation: float = 0.1
    """Chooses the operating threshold (and is where settings may be tuned)."""
    test: float = 0.1
    """Held out: reported, never used to choose anything."""

    def __post_init__(self) -> None:
        if not (0 < self.validation < 1 and 0 < self.test < 1 and self.validation + self.test < 1):
            raise ValueError(
                f"split.validation and split.test must be in (0, 1) and sum below 1, got {self.validation}/{self.test}"
            )


@dataclass(frozen=True)
class ClassifierSettings:
    """Everything that decides a model's bytes and its operating threshold, besides the examples."""

    positive_label: str = "positive"
    """Name of the class the score is the probability of (e.g. ``toxic``, ``hq``)."""
    negative_label: str = "negative"
    languages: tuple[str, ...] | None = None
    """Languages the model is for (fastText lid codes): other documents get a null score. None: any language."""
    max_chars: int = 20_000
    """Characters of a text the model reads (training and scoring alike)."""
    chunk_words: int | None = None
    """Cut long texts into training examples of this many words (few, long documents); None: whole texts."""
    max_per_class: int | None = None
    """Keep at most this many examples per class (a seeded, order-independent sample); None: all."""
    target: str = "macro_f1"
    """How the operating threshold is chosen on the validation split: macro_f1, f1, precision>=P, recall>=R."""
    fasttext: FastTextSettings = field(default_factory=FastTextSettings)
    split: SplitSettings = field(default_factory=SplitSettings)

    def __post_init__(self) -> None:
        for name in ("positive_label", "negative_label"):
            value = getattr(self, name)
            if not value or any(c.isspace() for c in value):
                raise ValueError(f"{name} must be a non-empty word without spaces, got {value!r}")
        if self.positive_label == self.negative_label:
            raise ValueError("positive_label and negative_label must differ")
        if isinstance(self.languages, str):
            raise ValueError(f"languages must be a list of codes, not a string: {self.languages!r}")
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be positive, got {self.max_chars}")
        if self.chunk_words is not None and self.chunk_words < 1:
            raise ValueError(f"chunk_words must be positive, got {self.chunk_words}")
        if self.max_per_class is not None and self.max_per_class < 1:
            raise ValueError(f"max_per_class must be positive, got {self.max_per_class}")
        metrics.Target.parse(self.target)


@dataclass(frozen=True)
class Example:
    text: str
    """Normalized text."""
    raw: str
    """The text as given (for baselines that read raw text)."""
    positive: bool
    split: str
    trainable: bool = True
    """False: kept out of fitting (e.g. annotators disagreed) but still in validation and test."""


@dataclass
class Dataset:
    """Normalized examples by split, and what was left out and why."""

    examples: list[Example]
    rejected: Counter = field(default_factory=Counter)
    """Reason → raw rows not used (``empty_text``, ``no_label``, ``over_class_cap``)."""
    rows_in: int = 0

    def split(self, name: str, trainable_only: bool = False) -> list[Example]:
        return [e for e in self.examples if e.split == name and (e.trainable or not trainable_only)]

    def counts(self) -> dict:
        """Examples per split and class (and how many of the train split are fitted on)."""
        out: dict = {}
        for s in SPLITS:
            ex = self.split(s)
            out[s] = {"positive": sum(e.positive for e in ex), "negative": sum(not e.positive for e in ex)}
        out["train"]["fitted"] = len(self.split("train", trainable_only=True))
        out["rejected"] = dict(sorted(self.rejected.items()))
        out["rows_in"] = self.rows_in
        return out


def _unit(*parts: object) -> float:
    """A number in [0, 1) from a hash of ``parts``: the same parts give the same number on every machine."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_of(group: str, split: SplitSettings) -> str:
    u = _unit("split", split.seed, group)
    if u < split.test:
        return "test"
    if u < split.test + split.validation:
        return "validation"
    return "train"


def prepare(rows: Iterable[tuple[str | None, bool | None, str | None, bool]], settings: ClassifierSettings) -> Dataset:
    """Raw rows ``(text, positive, group, trainable)`` → a :class:`Dataset`. ``positive`` None: the row has no
    usable label; ``group`` None: the normalized text groups (identical texts share a split)."""
    examples: list[Example] = []
    rejected: Counter = Counter()
    n = 0
    for text, positive, group, trainable in rows:
        n += 1
        if positive is None:
            rejected["no_label"] += 1
            continue
        norm = normalize(text, settings.max_chars)
        if not norm:
            rejected["empty_text"] += 1
            continue
        split = split_of(norm if group is None else group, settings.split)
        pieces = chunk_words(norm, settings.chunk_words) if settings.chunk_words else [norm]
        raw = " ".join((text or "")[: settings.max_chars].split())
        examples += [Example(p, raw, bool(positive), split, bool(trainable)) for p in pieces]
    if settings.max_per_class is not None:
        kept = []
        for cls in (True, False):
            members = sorted(
                (e for e in examples if e.positive is cls),
                key=lambda e: _unit("cap", settings.split.seed, e.split, e.text),
            )
            kept += members[: settings.max_per_class]
            if len(members) > settings.max_per_class:
                rejected["over_class_cap"] += len(members) - settings.max_per_class
        examples = kept
    # A canonical order, fixed by the seed and the texts: the training file (and so the model) does not depend on
    # the order rows arrived in.
    examples.sort(key=lambda e: (_unit("order", settings.fasttext.seed, e.text, e.positive), e.text, e.positive))
    return Dataset(examples, rejected, n)


def training_hash(dataset: Dataset, settings: ClassifierSettings) -> str:
    """sha256 (first 16 hex) of everything that decides the model and its metrics: the normalization version, the
    settings and every example with its split. The same hash means the same model."""
    h = hashlib.sha256()
    h.update(json.dumps([NORMALIZATION, asdict(settings)], sort_keys=True, default=str).encode())
    for e in dataset.examples:
        h.update(f"\x1e{e.split}\x1f{int(e.positive)}\x1f{int(e.trainable)}\x1f{e.text}".encode())
    return h.hexdigest()[:16]


def _label(settings: ClassifierSettings, positive: bool) -> str:
    return LABEL_PREFIX + (settings.positive_label if positive else settings.negative_label)


def write_training_file(
    examples: Iterable[Example], settings: ClassifierSettings, path: Path, raw: bool = False
) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for e in examples:
            f.write(f"{_label(settings, e.positive)} {e.raw if raw else e.text}\n")
            n += 1
    return n


def fit(dataset: Dataset, settings: ClassifierSettings, workdir: str | Path):
    """Train on the trainable examples of the train split; returns the fastText model (save it with
    ``model.save_model``)."""
    import fasttext

    train = dataset.split("train", trainable_only=True)
    classes = {e.positive for e in train}
    if classes != {True, False}:
        have = "only positive" if classes == {True} else "only negative" if classes else "no"
        raise ValueError(f"the train split has {have} examples: both classes are needed to train a classifier")
    path = Path(workdir) / "train.txt"
    write_training_file(train, settings, path)
    try:
        return _train(fasttext, path, settings.fasttext.kwargs())
    finally:
        os.unlink(path)


_M_PERTURB = -6  # glibc mallopt(3): fill allocations with (byte ^ 0xff), freed memory with byte


@contextlib.contextmanager
def _zeroed_allocations():
    """Make glibc's malloc hand out zeroed memory while fastText trains.

    fastText (0.9.3 and the fasttext-numpy2 build) keeps its matrices in an ``AlignedVector`` that is never
    initialised, and with ``thread=1`` ``DenseMatrix::uniform`` fills only the first tenth of the input matrix; the
    other nine tenths are whatever the heap held. In a fresh process that is zero pages from mmap, later it is old
    data, so two identical single-thread runs could give different models or fail with "Encountered NaN" (seen: 3 of
    5 runs on the Davidson tweets after other allocations). ``M_PERTURB`` = 0xff makes every allocation zero-filled
    (0xff ^ 0xff), which is exactly what a fresh process gives: the same model bytes every time. Elsewhere than
    glibc the call is skipped."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        yield
        return
    mallopt(_M_PERTURB, 0xFF)
    try:
        yield
    finally:
        mallopt(_M_PERTURB, 0)


def _train(fasttext, path: Path, kwargs: dict):
    """``train_supervised`` on deterministic (zeroed) memory; a NaN that still happens is a real divergence."""
    with _zeroed_allocations():
        try:
            return fasttext.train_supervised(input=str(path), **kwargs)
        except RuntimeError as e:
            if "NaN" in str(e):
                raise ValueError(f"fastText training diverged: {e} Try a lower fasttext.lr.") from None
            raise


def fit_untuned(dataset: Dataset, settings: ClassifierSettings, workdir: str | Path):
    """The baseline: fastText's default settings on the raw text of the whole train split (no normalization, no
    example left out), with the same seed."""
    import fasttext

    path = Path(workdir) / "train-untuned.txt"
    write_training_file(dataset.split("train"), settings, path, raw=True)
    try:
        return _train(fasttext, path, {"seed": settings.fasttext.seed, "thread": 1, "verbose": 0})
    finally:
        os.unlink(path)


def positive_scores(model, texts: list[str], settings: ClassifierSettings) -> list[float]:
    """The model's probability of the positive label for each (already prepared, one-line) text."""
    return positive_probabilities(model, texts, _label(settings, True))


def evaluate(model, dataset: Dataset, settings: ClassifierSettings, raw: bool = False) -> dict:
    """Metrics of ``model`` on ``dataset``: the validation sweep, the operating threshold for the target, and
    validation and test figures at that threshold (and at 0.5). ``raw``: score the raw texts (the baseline)."""
    labels = (settings.positive_label, settings.negative_label)
    out: dict = {"target": settings.target}
    val = dataset.split("validation")
    test = dataset.split("test")
    val_scores = positive_scores(model, [e.raw if raw else e.text for e in val], settings)
    test_scores = positive_scores(model, [e.raw if raw else e.text for e in test], settings)
    val_truth = [e.positive for e in val]
    test_truth = [e.positive for e in test]
    if val and len(set(val_truth)) == 2:
        rows = metrics.sweep(val_scores, val_truth)
        threshold = metrics.choose_threshold(rows, metrics.Target.parse(settings.target))
    else:
        rows, threshold = [], 0.5
    out["threshold"] = threshold
    out["sweep"] = [{k: round(v, 4) for k, v in r.items()} for r in rows]
    for name, scores, truth in (("validation", val_scores, val_truth), ("test", test_scores, test_truth)):
        out[name] = metrics.at_threshold(scores, truth, threshold, labels)
        out[name]["at_0.5"] = metrics.at_threshold(scores, truth, 0.5, labels)
        out[name]["roc_auc"] = metrics.roc_auc(scores, truth) if scores else None
    return out
