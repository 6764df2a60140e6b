"""The text documents of the scale corpus (:mod:`bench.corpus`): originals from the shared corpora, variants of them,
and near-duplicates edited with :class:`eval.dedup.Editor`. Every document is a pure function of (seed, index), so a
document of any index (a near-duplicate's original too) is made again on demand instead of being kept in memory."""

from __future__ import annotations

import random
from pathlib import Path

from bench._corpus_html import BOILERPLATE, MONTHS, vary_text

VARY_RATE = 0.3
"""Share of the words replaced in a variant (see :func:`bench._corpus_html.vary_text`)."""
OPS = ("substitute", "insert", "delete")
RATES = {"substitute": (0.003, 0.02), "insert": (0.005, 0.05), "delete": (0.005, 0.05)}
"""Uniform range of each word op's rate: the copies' word-5-gram Jaccard to their original is mostly 0.8–0.97."""


def text_sources(data_dir: Path) -> list[Path]:
    """The files the originals are read from (hashed into the manifest)."""
    pan = data_dir / "near_duplicates" / "pan_indonesian"
    return [
        data_dir / "corpora" / "wikitext2_partial" / "valid.txt",
        data_dir / "corpora" / "wikitext2_partial" / "test.txt",
        data_dir / "corpora" / "tinyshakespeare" / "input.txt",
        *sorted((pan / "source-documents").glob("*.txt")),
        *sorted((pan / "suspicious-documents").glob("*.txt")),
    ]


class TextMaker:
    """Document ``k`` of a corpus: ``(text, original id, near-duplicate of (index or None), edits)``."""

    def __init__(self, data_dir: Path, seed: int, near_dup_rate: float):
        from eval.dedup import Editor, load_originals

        self.seed = seed
        self.rate = near_dup_rate
        self.originals = load_originals(data_dir, random.Random(seed))
        self.editor = Editor(self.originals, random.Random(seed))

    def plan(self, k: int) -> tuple[random.Random, int | None]:
        """The generator of document ``k`` and the index of its original (None: a variant, not a near-duplicate)."""
        rng = random.Random(f"lakeforge-corpus/texts/{self.seed}/{k}")
        if k > 0 and rng.random() < self.rate:
            return rng, rng.randrange(k)
        return rng, None

    def make(self, k: int) -> tuple[str, str, int | None, list[str]]:
        rng, of = self.plan(k)
        if of is None:
            doc = self.originals[rng.randrange(len(self.originals))]
            return vary_text(doc.text, rng, VARY_RATE), doc.id, None, []
        text, root, _, _ = self.make(of)
        text, edits = self.edit(text, root, rng)
        return text, root, of, edits

    def edit(self, text: str, root: str, rng: random.Random) -> tuple[str, list[str]]:
        """A re-crawl-like edit: one or two word ops of :class:`eval.dedup.Editor` (never taking inserted words from
        the document's own original), sometimes an "Updated <date>" line first or a boilerplate line last."""
        self.editor.rng = rng
        edits = []
        for op in rng.sample(OPS, rng.choice((1, 1, 2))):
            rate = round(rng.uniform(*RATES[op]), 4)
            text = self.editor.apply(op, text, rate, root)
            edits.append(f"{op}@{rate}")
        if rng.random() < 0.3:
            text = f"Updated {MONTHS[rng.randrange(12)]} {rng.randint(1, 28)}, {rng.randint(2019, 2024)}\n" + text
            edits.append("date")
        if rng.random() < 0.3:
            text = text + "\n" + rng.choice(BOILERPLATE)
            edits.append("boilerplate")
        return text, edits
