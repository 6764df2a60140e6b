"""``lakeforge mix``: resolve a mixture's components to shard sets (tokenizing table components when needed), pin
the blend, write it as JSON and as a ``mixtures`` row.

Table components go through ``run_tokenize`` with the mixture's tokenizer and settings: an existing shard set with
the same inputs is reused (no-op), so pinning the same mixture again costs a lookup per component. Shard-set
components take the newest set of that name, or exactly the ``shard_set_id`` given. The blend is written to
``<lakehouse>/mixtures/<name>/<mixture_id>.json`` (and to ``out`` when given); the ``mixtures`` row is merged on
``mixture_id``, so an identical pin adds no version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from curation.config import config_hash, load, to_dict
from curation.provenance import RunInfo
from curation.spark.tokenize_shards import TokenizeReport, run_tokenize
from curation.stage import JobReport
from curation.tokenize.config import TokenizeConfig
from curation.tokenize.mixture import Blend, Mixture, ShardSet, pin
from schemas import MIXTURES, TOKEN_SHARDS


@dataclass(kw_only=True)
class MixReport(JobReport):
    """What one ``mix`` run did: the pinned blend and the shard sets it tokenized or found."""

    name: str
    mixture_id: str = ""
    path: str = ""
    new: bool = True
    tokenized: list[dict] = field(default_factory=list)
    blend: dict = field(default_factory=dict)

    def unreconciled(self) -> str | None:
        return None

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "name": self.name,
            "mixture_id": self.mixture_id,
            "path": self.path,
            "new": self.new,
            "tokenized": self.tokenized,
            "blend": self.blend,
        }


def tokenize_config(mixture: Mixture) -> TokenizeConfig:
    return load(TokenizeConfig, {**mixture.settings, "tokenizer": mixture.tokenizer})


def _shard_set(lake, *, name: str | None = None, shard_set_id: str | None = None) -> ShardSet:
    if not lake.exists(TOKEN_SHARDS.name):
        raise ValueError(
            "no shard sets yet: tokenize a table first (lakeforge tokenize), or give the component a table"
        )
    df = lake.read(TOKEN_SHARDS.name)
    if shard_set_id:
        rows = df.where(df["shard_set_id"] == shard_set_id).collect()
        if name is not None:
            rows = [r for r in rows if r["name"] == name]
        if not rows:
            raise ValueError(f"shard set {shard_set_id} is not in token_shards")
        return ShardSet.from_row(rows[0])
    rows = df.where(df["name"] == name).orderBy(df["created_at"].desc()).limit(1).collect()
    if not rows:
        known = sorted({r["name"] for r in df.select("name").distinct().collect()})
        raise ValueError(f"no shard set named {name!r} (known: {', '.join(known) or 'none'})")
    return ShardSet.from_row(rows[0])


def resolve(spark, lake, mixture: Mixture, run: RunInfo, log=None) -> tuple[dict[str, ShardSet], list[TokenizeReport]]:
    """Each component → its shard set. Shard-set components are looked up first; table components are then
    tokenized (or found) with the mixture's tokenizer, after checking that it is the tokenizer of the others."""
    from curation.tokenize.tokenizer import locate

    resolved: dict[str, ShardSet] = {}
    reports = []
    for c in mixture.components:
        if c.kind == "shards":
            resolved[c.name] = _shard_set(lake, name=c.shards, shard_set_id=c.shard_set_id)
    tables = [c for c in mixture.components if c.kind == "table"]
    if not tables:
        return resolved, reports
    cfg = tokenize_config(mixture)
    sha = locate(cfg.tokenizer).sha256
    other = {n: s.tokenizer_sha256[:12] for n, s in resolved.items() if s.tokenizer_sha256 != sha}
    if other:
        raise ValueError(
            f"components {sorted(other)} were tokenized with different tokenizers {other} than the mixture's "
            f"tokenizer {mixture.tokenizer} ({sha[:12]}): one tokenizer per mixture"
        )
    for c in tables:
        sub = RunInfo(job="tokenize", config_hash=config_hash(cfg), config=to_dict(cfg))
        if log:
            log(
                f"component {c.name}: {c.table}{'' if c.version is None else f' v{c.version}'}"
                f"{f' where {c.where}' if c.where else ''} → tokenize"
            )
        report = run_tokenize(spark, lake, cfg, sub, c.name, c.table, c.version, c.where)
        reports.append(report)
        resolved[c.name] = _shard_set(lake, shard_set_id=report.shard_set_id)
    return resolved, reports


def run_mix(spark, lake, mixture: Mixture, run: RunInfo, out: str | None = None, log=None) -> tuple[MixReport, Blend]:
    resolved, reports = resolve(spark, lake, mixture, run, log)
    blend = pin(mixture, resolved)
    doc = blend.to_json()
    mixture_id = blend.mixture_id
    doc["mixture_id"] = mixture_id
    path = lake.files("mixtures", mixture.name, f"{mixture_id}.json")  # a local file or an object beside the tables
    text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
    lake.store.write_bytes(path, text.encode())  # whole-object write: a local temp name renamed, or one S3 PUT
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
    report = MixReport(
        run_id=run.run_id,
        job="mix",
        name=mixture.name,
        mixture_id=mixture_id,
        path=str(Path(out).resolve()) if out else str(path),
    )
    report.tokenized = [
        {"component": r.name, "shard_set_id": r.shard_set_id, "noop": r.noop, "tokens": r.tokens} for r in reports
    ]
    report.blend = doc

    lake.ensure(MIXTURES)
    exists = lake.read(MIXTURES.name).where(f"mixture_id = '{mixture_id}'").limit(1).count() > 0
    report.new = not exists
    if not exists:
        run.input_tables = {lake.fq(TOKEN_SHARDS.name): lake.version(TOKEN_SHARDS.name)}
        run.inputs = [f"{c['shard_set_name']}/{c['shard_set_id']}" for c in doc["components"]]
        row = {
            "mixture_id": mixture_id,
            "name": mixture.name,
            "spec": json.dumps(mixture.spec(), sort_keys=True, default=str),
            "components": [p.component.name for p in blend.pinned],
            "weights": [p.weight for p in blend.pinned],
            "shard_set_ids": [p.shards.shard_set_id for p in blend.pinned],
            "component_tokens": [p.shards.tokens for p in blend.pinned],
            "epochs": None if mixture.tokens is None else [p.epochs for p in blend.pinned],
            "tokens_budget": mixture.tokens,
            "seq_length": mixture.seq_length,
            "split": mixture.split,
            "seed": mixture.seed,
            "tokenizer_sha256": blend.pinned[0].shards.tokenizer_sha256,
            "blend": json.dumps(doc, sort_keys=True),
            "path": str(path),
            "warnings": list(blend.warnings),
            "run_id": run.run_id,
            "code_version": run.code_version,
            "created_at": datetime.now(UTC),
        }
        lake.merge_new(MIXTURES, spark.createDataFrame([row], MIXTURES.to_spark()), run.commit_metadata())
    return report, blend
