"""``lakeforge train-classifier``: labelled data → a fastText classifier, its metrics on a held-out split, and a
new version in the ``models`` table.

Arguments → TrainClassifierConfig (``--config`` YAML, flags, ``--set``) → curation.spark.classify → ``models``.
"""

from __future__ import annotations

import argparse
import json

from jobs.common import JobError, Parser, add_session_args, log, print_report, start_run
from jobs.render import format_train_report


def parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="lakeforge train-classifier",
        description="Train a fastText classifier from a labelled file (CSV/TSV/JSONL/Parquet) or from two SQL queries "
        "over the lakehouse (positives, negatives), report precision/recall/F1 on a held-out split, and register it "
        "as a new version in the `models` table. The same examples and settings again add nothing.",
        epilog="Example: lakeforge train-classifier --config conf/classifiers/toxicity.yaml",
    )
    p.add_argument("--config", default=None, metavar="YAML", help="training config (see conf/classifiers/*.yaml)")
    p.add_argument("--name", help="classifier name (its documents columns: <name>_score, <name>_model)")
    g = p.add_argument_group("input (a labelled file, or two queries)")
    g.add_argument("--labels", metavar="FILE", help="labelled file: .csv, .tsv, .jsonl, .parquet")
    g.add_argument("--text-column", help="column holding the text (default: text)")
    g.add_argument("--label-column", help="column holding the label (default: label)")
    g.add_argument("--positive", help="comma-separated label values of the positive class, e.g. 0,1")
    g.add_argument("--negative", help="comma-separated label values of the negative class (default: every other)")
    g.add_argument("--positive-sql", metavar="SQL", help="query whose rows (column `text`) are positive examples")
    g.add_argument("--negative-sql", metavar="SQL", help="query whose rows (column `text`) are negative examples")
    g.add_argument("--train-where", metavar="SQL", help="condition on input rows used for fitting (eval keeps all)")
    m = p.add_argument_group("model")
    m.add_argument("--positive-label", help="name of the positive class (e.g. toxic)")
    m.add_argument("--negative-label", help="name of the negative class (e.g. clean)")
    m.add_argument("--languages", help="comma-separated language codes the model scores (default: any)")
    m.add_argument("--target", help="how the threshold is chosen: macro_f1 (default), f1, precision>=P, recall>=R")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, value as YAML; repeatable (e.g. --set model.fasttext.epoch=10)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="summary format on stdout")
    add_session_args(p)
    return p


def train_config(args: argparse.Namespace):
    from curation.classify.source import TrainClassifierConfig
    from curation.config import load, read_settings, set_path

    data = read_settings(args.config)
    flags = {
        "name": args.name,
        "input.labels": args.labels,
        "input.text_column": args.text_column,
        "input.label_column": args.label_column,
        "input.positive_values": _csv(args.positive),
        "input.negative_values": _csv(args.negative),
        "input.positive_sql": args.positive_sql,
        "input.negative_sql": args.negative_sql,
        "input.train_where": args.train_where,
        "model.positive_label": args.positive_label,
        "model.negative_label": args.negative_label,
        "model.languages": _csv(args.languages),
        "model.target": args.target,
    }
    for key, value in flags.items():
        if value is not None:  # JSON is YAML: set_path reads the value back as it is
            set_path(data, f"{key}={json.dumps(value)}")
    if args.labels is not None and (data.get("input") or {}).get("positive_sql") is not None:
        data["input"].pop("positive_sql", None)
        data["input"].pop("negative_sql", None)
    for assignment in args.set:
        set_path(data, assignment)
    if not data.get("name"):
        raise JobError("give the classifier a --name (or `name:` in --config)")
    return load(TrainClassifierConfig, data)


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def main(argv=None) -> int:
    from curation.spark.classify import run_train_classifier

    args = parser().parse_args(argv)
    cfg = train_config(args)
    inputs = [cfg.input.labels] if cfg.input.labels else ["sql"]
    spark, lake, run, start_s = start_run(args, "train-classifier", cfg, inputs=inputs)
    log(f"run {run.run_id}: training {cfg.name!r} → {lake.fq('models')} in {lake.root}")
    report = run_train_classifier(spark, lake, cfg, run)
    return print_report(args, report, start_s, format_train_report(report, cfg.name))
