"""A trained classifier at scoring time: loaded once per process, scoring texts in batches.

A score is the model's probability of its positive label, rounded to 6 decimals (fastText computes in float32), for
the text normalized exactly as at training time. A text that normalizes to nothing, or is in a language the model was
not trained for, gets None: no score, so no rule can fail on it.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

from curation.classify.text import NORMALIZATION, normalize

BATCH = 512


@dataclass(frozen=True)
class ModelRef:
    """What a scorer needs to know about a registered model (a ``models`` row, trimmed)."""

    name: str
    version: int
    path: str
    sha256: str
    positive_label: str
    languages: tuple[str, ...] | None = None
    max_chars: int = 20_000
    normalization: str = NORMALIZATION

    @property
    def model_id(self) -> str:
        """``name@vN``: what the ``<name>_model`` column of ``documents`` records."""
        return f"{self.name}@v{self.version}"

    @property
    def file_name(self) -> str:
        """The model file's name: unique per content, so two versions never collide where files are shipped."""
        return Path(self.path).name


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Scorer:
    """A loaded model and its scoring rules."""

    def __init__(self, ref: ModelRef, path: str | Path | None = None):
        """``path``: where the file is on this machine (e.g. what Spark shipped); default ``ref.path``."""
        import fasttext

        if ref.normalization != NORMALIZATION:
            raise ValueError(
                f"model {ref.model_id} was trained with text normalization {ref.normalization!r}, this lakeforge "
                f"normalizes with {NORMALIZATION!r}: retrain it"
            )
        local = Path(path or ref.path)
        if not local.is_file():
            raise ValueError(f"model {ref.model_id}: file {local} not found")
        digest = file_sha256(local)
        if digest != ref.sha256:
            raise ValueError(
                f"model {ref.model_id}: {local} has sha256 {digest[:12]}…, the registry says {ref.sha256[:12]}…"
            )
        self.ref = ref
        self.model = fasttext.load_model(str(local))
        self.label = "__label__" + ref.positive_label
        if self.label not in self.model.get_labels():
            raise ValueError(f"model {ref.model_id} has no label {ref.positive_label!r}: {self.model.get_labels()}")
        self.languages = None if ref.languages is None else frozenset(ref.languages)

    def scores(self, texts: list[str | None], languages: list[str | None] | None = None) -> list[float | None]:
        """One score per text (None: no text, or a language the model is not for)."""
        langs = languages if languages is not None else [None] * len(texts)
        if len(langs) != len(texts):
            raise ValueError("texts and languages differ in length")
        out: list[float | None] = [None] * len(texts)
        todo: list[tuple[int, str]] = []
        for i, (text, lang) in enumerate(zip(texts, langs, strict=True)):
            if self.languages is not None and lang not in self.languages:
                continue
            norm = normalize(text, self.ref.max_chars)
            if norm:
                todo.append((i, norm))
        for start in range(0, len(todo), BATCH):
            chunk = todo[start : start + BATCH]
            probs = positive_probabilities(self.model, [t for _, t in chunk], self.label)
            for (i, _), p in zip(chunk, probs, strict=True):
                out[i] = p
        return out


def positive_probabilities(model, texts: list[str], label: str) -> list[float]:
    """fastText's probability of ``label`` (``__label__…``) for each one-line text, in [0, 1], rounded to 6 decimals."""
    if not texts:
        return []
    labels, probs = model.predict(texts, k=-1)
    out = []
    for ls, ps in zip(labels, probs, strict=True):
        p = dict(zip(ls, ps, strict=True)).get(label, 0.0)
        out.append(round(min(max(float(p), 0.0), 1.0), 6))
    return out


_SCORERS: dict[str, Scorer] = {}
_LOCK = threading.Lock()


def scorer_for(ref: ModelRef, path: str | Path | None = None) -> Scorer:
    """One :class:`Scorer` per model content per process (Spark reuses Python workers across tasks)."""
    with _LOCK:
        s = _SCORERS.get(ref.sha256)
        if s is None:
            s = _SCORERS[ref.sha256] = Scorer(ref, path)
        return s
