"""The toxicity classifier against the two baselines the issue names, side by side on the same held-out split.

Rows: lakeforge's fastText (the settings of ``conf/classifiers/toxicity.yaml``, threshold chosen on the validation
split), fastText untuned (its defaults on the raw text, argmax), and the LDNOOBW word-list signal of the curate stage
(``toxic_word_count > 0``, C4's rule) on the same test tweets. Pure library, no Spark: the figures equal what
``lakeforge train-classifier --config conf/classifiers/toxicity.yaml`` registers.

    .venv/bin/python -m eval.classifiers [--config conf/classifiers/toxicity.yaml] [--json]
    .venv/bin/python -m eval.classifiers --smoke --json    # the first 1,500 labelled tweets only: a check
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

from curation.classify import metrics
from curation.classify.source import TrainClassifierConfig
from curation.classify.train import evaluate, fit, fit_untuned, prepare
from curation.config import load, read_settings
from curation.filters.toxicity import ToxicityConfig, toxicity_signals, wordlists_for

REPO = Path(__file__).resolve().parents[1]
SMOKE_EXAMPLES = 1500  # --smoke: labelled rows read (the split, fit and scoring as for all of them)


def toxicity_table(cfg: TrainClassifierConfig, wordlist_dir: Path, limit: int | None = None) -> dict:
    """Test-split figures of the tuned model, the untuned baseline and the word list (dicts of at_threshold), from
    all labelled rows or the first ``limit``."""
    inp = cfg.input
    with open(inp.labels, encoding="utf-8") as f:
        raw = list(csv.DictReader(f))[:limit]
    agreed = lambda r: r["neither"] in ("0", r["count"])  # noqa: E731 — the config's train_where, in Python
    rows = [(r[inp.text_column], inp.label_of(r[inp.label_column]), None, agreed(r)) for r in raw]
    settings = cfg.model
    dataset = prepare(rows, settings)
    with tempfile.TemporaryDirectory() as work:
        tuned = evaluate(fit(dataset, settings, work), dataset, settings)
        untuned = evaluate(fit_untuned(dataset, settings, work), dataset, settings, raw=True)
    lists = wordlists_for(ToxicityConfig(wordlist_dir=str(wordlist_dir), languages=("en",)))
    test = dataset.split("test")
    listed = [float(toxicity_signals(e.raw, "en", lists)["toxic_word_count"] > 0) for e in test]
    labels = (settings.positive_label, settings.negative_label)
    return {
        "test_examples": len(test),
        "rows": {
            "lakeforge fastText": tuned["test"],
            "fastText untuned (argmax)": untuned["test"]["at_0.5"],
            "LDNOOBW word list (count > 0)": metrics.at_threshold(listed, [e.positive for e in test], 0.5, labels),
        },
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.classifiers", description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(REPO / "conf" / "classifiers" / "toxicity.yaml"))
    ap.add_argument("--wordlists", default=str(REPO.parent / "shared" / "data" / "toxicity" / "ldnoobw"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--smoke", action="store_true", help=f"a check: the first {SMOKE_EXAMPLES:,} labelled rows only")
    args = ap.parse_args(argv)
    data = read_settings(args.config)
    labels = Path(data["input"]["labels"])
    data["input"]["labels"] = str(labels if labels.is_absolute() else (REPO / labels).resolve())
    cfg = load(TrainClassifierConfig, data)
    if not Path(cfg.input.labels).is_file():
        print(f"eval.classifiers: {cfg.input.labels} not found (needs ../shared/data)", file=sys.stderr)
        return 2
    table = toxicity_table(cfg, Path(args.wordlists), SMOKE_EXAMPLES if args.smoke else None)
    if args.json:
        print(json.dumps(table))
        return 0
    pos, neg = cfg.model.positive_label, cfg.model.negative_label
    print(f"toxicity, Davidson test split ({table['test_examples']:,} tweets, held out)")
    print(f"  {'':<32} {pos + ' P':>8} {pos + ' R':>8} {pos + ' F1':>9} {neg + ' F1':>9} {'macro-F1':>9}")
    for name, m in table["rows"].items():
        c = m["classes"]
        print(
            f"  {name:<32} {c[pos]['precision']:>8.4f} {c[pos]['recall']:>8.4f} {c[pos]['f1']:>9.4f} "
            f"{c[neg]['f1']:>9.4f} {m['macro_f1']:>9.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
