"""Run a :class:`~curation.pipeline.PipelineConfig` on Spark, one stage after another, recorded in ``runs``.

Each stage kind is a :class:`Stage`: ``prepare()`` resolves its settings and inputs (the versions the stages before
it pinned included), ``key_inputs()`` is what its key is made of, ``command()`` the equivalent ``lakeforge`` line,
``run()`` does the work through the same library call as that subcommand and returns ``(outputs, counts)``; each
stage also says which outputs it writes, how they pin the next stages and how to tell they still exist.

:class:`Pipeline` is the loop over them: prepare → key → decide (``curation.pipeline.decide``: skip, run or resume)
→ a ``running`` row, the stage, then a ``succeeded`` row with its outputs, counts and timings (or a ``failed`` row
with the error). Training is launched by the caller (``launch_train``: a ``lakeforge train`` argument list → exit
status), so this module never starts processes itself.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from curation import pipeline as P
from curation.config import config_hash, load_settings, read_settings, to_dict
from curation.pipeline import option, render_command, repeated
from curation.provenance import RunInfo, code_version, new_run_id
from schemas.documents import DOCUMENTS
from schemas.runs import RUNS
from training.runlog import TrainingLog, read_log


class StageFailed(Exception):
    """A stage raised: ``stage`` names it, ``hint`` says what to do; the run record has its ``failed`` row."""

    def __init__(self, stage: str, message: str, hint: str):
        super().__init__(f"stage {stage} failed: {message}")
        self.stage, self.message, self.hint = stage, message, hint


@dataclass
class StageOutcome:
    stage: str
    status: str
    """succeeded | skipped."""
    seconds: float
    outputs: dict
    counts: dict
    reused_run_id: str | None = None
    """For a skipped stage: the pipeline run whose outputs it reuses."""
    resumed: bool = False
    """The stage ran again after an attempt that never ended (killed) or failed."""

    def to_json(self) -> dict:
        return dataclasses.asdict(self) | {"seconds": round(self.seconds, 3)}


@dataclass
class PipelineReport:
    pipeline_run_id: str
    name: str
    stages: list[StageOutcome] = field(default_factory=list)
    seconds: float = 0.0
    pinned: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "pipeline_run_id": self.pipeline_run_id,
            "name": self.name,
            "seconds": round(self.seconds, 3),
            "stages": [s.to_json() for s in self.stages],
            "pinned": self.pinned,
        }


# ------------------------------------------------------------------------------------------------------ stages
@dataclass
class StageContext:
    """What a stage may use: the session and lakehouse, the pipeline's config, what the stages before it pinned,
    and the engine's services."""

    spark: Any
    lake: Any
    pipeline: P.PipelineConfig
    pinned: dict
    """Documents version, shard sets, models, blend, mixture id, checkpoint: what the stages so far wrote."""
    hash_cache: dict
    history: list
    """The ``runs`` rows of this pipeline's earlier runs, oldest first."""
    log: Callable[[str], None] = print
    progress: Callable[[int, int, int], None] | None = None
    """curate's ``(files done, files, records)`` callback."""
    launch_train: Callable[[list[str]], int] | None = None

    def documents_input(self) -> int | None:
        """The documents version the next stage reads: the chain's pinned one, else the table's latest."""
        pinned = self.pinned["documents"]
        return pinned if pinned is not None else self.lake.version(DOCUMENTS.name)

    def last_config_hash(self, stage: str) -> str | None:
        """The config hash ``stage`` last finished with (this pipeline, any earlier run); None if never."""
        done = [r for r in self.history if r["stage"] == stage and r["status"] == "succeeded"]
        return done[-1]["config_hash"] if done else None

    def content_of(self, paths: list[str]) -> list[dict]:
        return P.content_of(paths, self.hash_cache)


class Stage:
    """One stage of the chain. ``prepare()`` runs when the stages before it have pinned their outputs; the others
    read what it resolved."""

    kind: ClassVar[str]
    job: ClassVar[str]
    """The job name of its run (``RunInfo.job``, as in the Delta commit metadata and ``stats``)."""
    outputs: ClassVar[tuple[str, ...]]
    """The keys of the outputs ``run()`` returns (recorded in ``runs.outputs``)."""

    def __init__(self, name: str, spec: Any, ctx: StageContext):
        self.name, self.spec, self.ctx = name, spec, ctx
        self.config_path: str | None = getattr(spec, "config", None)
        """The config file it runs with (where a problem of this stage points)."""
        self.config_hash = ""
        self.inputs: dict = {}
        self.config: dict = {}

    def prepare(self) -> None:
        """Resolve settings and inputs: ``config_hash``, ``inputs`` and ``config``. Raises for a config or input
        problem of this stage."""
        raise NotImplementedError

    def key_inputs(self) -> tuple[str, dict]:
        """What the stage key is made of: the settings hash and the inputs (file contents, pinned versions)."""
        return self.config_hash, self.inputs

    def key(self) -> str:
        return P.stage_key(self.name, *self.key_inputs())

    def command(self) -> str:
        """The equivalent ``lakeforge ...`` command line."""
        raise NotImplementedError

    def run(self, run: RunInfo) -> tuple[dict, dict]:
        """Do the work; returns ``(outputs, counts)``."""
        raise NotImplementedError

    def pin(self, pinned: dict, outputs: dict) -> None:
        """Pin what this stage wrote (or an earlier run of it did) into the stages after it."""

    def outputs_exist(self, outputs: dict) -> bool:
        """Whether an earlier run's recorded outputs are still there (else a finished key runs again)."""
        return True


class _DocumentsStage(Stage):
    """A stage that writes a new ``documents`` version: the next stages read that version."""

    def pin(self, pinned: dict, outputs: dict) -> None:
        docs = outputs.get("documents")
        if docs is not None:
            # Versions only grow, and every stage's rows stay in later versions: the newest one is the chain's.
            cur = pinned["documents"]
            pinned["documents"] = docs if cur is None else max(cur, docs)

    def outputs_exist(self, outputs: dict) -> bool:
        docs = outputs.get("documents")
        latest = self.ctx.lake.version(DOCUMENTS.name)
        return docs is None or (latest is not None and latest >= docs)

    def _documents_run(self, run: RunInfo, version: int | None) -> None:
        run.inputs, run.input_tables = [self.ctx.lake.fq(DOCUMENTS.name)], {DOCUMENTS.name: version}


class CurateStage(_DocumentsStage):
    """``lakeforge curate``: the WARC inputs → documents (classifiers left to the classify stage)."""

    kind, job, outputs = "curate", "curate", ("documents", "stats")

    def prepare(self) -> None:
        from curation.curate import CurateConfig
        from curation.warc.sources import resolve_inputs

        spec: P.StageConfig = self.spec
        loaded = load_settings(CurateConfig, spec.config, spec.set)
        # Classifiers are applied by the classify stage, after they are trained: curate runs without them.
        self.had_classifiers = bool(loaded.classifiers)
        self.cfg = dataclasses.replace(loaded, classifiers={})
        read = self.cfg.read
        warc = list(self.ctx.pipeline.warc)
        self.sources = resolve_inputs(warc, read.paths_base, timeout_s=read.http_timeout_s, retries=read.http_retries)
        self.config_hash, self.config = config_hash(self.cfg), to_dict(self.cfg)
        self.inputs = {"warc": self.ctx.content_of([s.uri for s in self.sources])}
        self.previous_hash = self.ctx.last_config_hash(self.name)

    def command(self) -> str:
        spec: P.StageConfig = self.spec
        args = option("--config", spec.config) + repeated("--set", spec.set)
        args += ["--set", "classifiers={}"] if self.had_classifiers else []
        return render_command("curate", args + repeated("-i", self.ctx.pipeline.warc))

    def run(self, run: RunInfo) -> tuple[dict, dict]:
        from curation.spark.curate import run_curate, run_filter

        ctx = self.ctx
        run.inputs = [s.uri for s in self.sources]
        report = run_curate(ctx.spark, ctx.lake, self.sources, self.cfg, run, progress=ctx.progress)
        counts = report.totals | {"files": len(self.sources)}
        if self.previous_hash is not None and self.previous_hash != self.config_hash:
            # New thresholds for documents an earlier run curated: re-apply them (no re-extraction).
            ctx.log("curate: settings changed since the last pipeline run: re-applying them to every document")
            frun = RunInfo(job="filter", config_hash=self.config_hash, config=self.config)
            counts["filter_changed"] = run_filter(ctx.spark, ctx.lake, self.cfg, frun).changed
        return {"documents": ctx.lake.version(DOCUMENTS.name), "stats": ctx.lake.version("stats")}, counts


class ImportTextStage(_DocumentsStage):
    """``lakeforge import-text``: text or JSON Lines files → documents."""

    kind, job, outputs = "import_text", "import", ("documents",)

    def prepare(self) -> None:
        from curation.spark.text_import import TextImportConfig

        spec: P.TextInput = self.spec
        self.cfg = TextImportConfig(split=spec.split)
        self.config_hash, self.config = config_hash(self.cfg), to_dict(self.cfg)
        self.inputs = {"files": self.ctx.content_of(list(spec.paths))}

    def command(self) -> str:
        spec: P.TextInput = self.spec
        return render_command("import-text", repeated("-i", spec.paths) + option("--split", spec.split))

    def run(self, run: RunInfo) -> tuple[dict, dict]:
        from curation.spark.text_import import run_import_text

        ctx, paths = self.ctx, list(self.spec.paths)
        run.inputs = paths
        report = run_import_text(ctx.spark, ctx.lake, paths, self.cfg, run)
        return {"documents": ctx.lake.version(DOCUMENTS.name)}, report.totals


class DedupStage(_DocumentsStage):
    """``lakeforge dedup`` on the pinned documents; ``--full`` when its settings changed since its last run."""

    kind, job, outputs = "dedup", "dedup", ("documents", "minhash_signatures")

    def prepare(self) -> None:
        from curation.dedup.config import DedupConfig

        spec: P.StageConfig = self.spec
        self.cfg = load_settings(DedupConfig, spec.config, spec.set)
        self.config_hash, self.config = config_hash(self.cfg), to_dict(self.cfg)
        self.version = self.ctx.documents_input()
        self.inputs = {"documents": self.version}
        previous = self.ctx.last_config_hash(self.name)
        self.full = previous is not None and previous != self.config_hash

    def command(self) -> str:
        spec: P.StageConfig = self.spec
        args = option("--config", spec.config) + repeated("--set", spec.set) + (["--full"] if self.full else [])
        return render_command("dedup", args)

    def run(self, run: RunInfo) -> tuple[dict, dict]:
        from curation.spark.dedup import run_dedup

        ctx = self.ctx
        self._documents_run(run, self.version)
        report = run_dedup(ctx.spark, ctx.lake, self.cfg, run, full=self.full)
        outputs = {
            "documents": ctx.lake.version(DOCUMENTS.name),
            "minhash_signatures": ctx.lake.version("minhash_signatures"),
        }
        return outputs, report.totals | {k: report.details.get(k) for k in ("mode", "candidate_pairs", "edges")}


class TrainClassifierStage(Stage):
    """``lakeforge train-classifier --config FILE``: a labelled file (by content) or SQL over the pinned
    documents → a model version in ``models``."""

    kind, job, outputs = "train_classifier", "train-classifier", ("name", "model_version", "model_id", "models")

    def __init__(self, name: str, spec: str, ctx: StageContext):
        super().__init__(name, spec, ctx)
        self.config_path = spec

    def prepare(self) -> None:
        from curation.classify.source import TrainClassifierConfig

        self.cfg = load_settings(TrainClassifierConfig, self.spec, [])
        self.config_hash, self.config = config_hash(self.cfg), to_dict(self.cfg)
        labels = self.cfg.input.labels
        if labels:
            self.inputs = {"labels": self.ctx.content_of([labels])}
        else:
            self.inputs = {"documents": self.ctx.documents_input()}

    def command(self) -> str:
        return render_command("train-classifier", ["--config", self.spec])

    def run(self, run: RunInfo) -> tuple[dict, dict]:
        from curation.spark.classify import run_train_classifier

        ctx, cfg = self.ctx, self.cfg
        run.inputs = [cfg.input.labels] if cfg.input.labels else ["sql"]
        report = run_train_classifier(ctx.spark, ctx.lake, cfg, run)
        test = (report.metrics or {}).get("test", {})
        counts = {"model": report.model_id, "created": report.created, **report.counts.get("rows", {})} | {
            k: test.get(k) for k in ("macro_f1", "roc_auc") if k in test
        }
        outputs = {
            "name": cfg.name,
            "model_version": report.version,
            "model_id": report.model_id,
            "models": ctx.lake.version("models"),
        }
        return outputs, counts

    def pin(self, pinned: dict, outputs: dict) -> None:
        pinned["models"][outputs["name"]] = outputs["model_version"]

    def outputs_exist(self, outputs: dict) -> bool:
        return self.ctx.lake.version("models") is not None


class ClassifyStage(_DocumentsStage):
    """``lakeforge classify``: the curate config's classifiers (with the classify stage's overrides), resolved to
    the models registered so far, scored over the pinned documents."""

    kind, job, outputs = "classify", "classify", ("documents",)

    def __init__(self, name: str, spec: P.StageConfig, ctx: StageContext):
        super().__init__(name, spec, ctx)
        self.config_path = spec.config or ctx.pipeline.curate.config
        self.sets = list(ctx.pipeline.curate.set) + list(spec.set)

    def prepare(self) -> None:
        from curation.curate import CurateConfig
        from curation.spark.classify import resolve_classifiers

        cfg = load_settings(CurateConfig, self.config_path, self.sets)
        if not cfg.classifiers:
            raise ValueError(
                "no classifiers configured: add `classifiers:` to the curate config or `set:` them "
                "under classify (e.g. classifiers.toxicity.drop=above)"
            )
        self.cfg = resolve_classifiers(self.ctx.lake, cfg)
        self.config_hash, self.config = config_hash(self.cfg), to_dict(self.cfg)
        self.version = self.ctx.documents_input()
        self.inputs = {"documents": self.version}

    def command(self) -> str:
        return render_command("classify", option("--config", self.config_path) + repeated("--set", self.sets))

    def run(self, run: RunInfo) -> tuple[dict, dict]:
        from curation.spark.classify import run_classify

        ctx = self.ctx
        self._documents_run(run, self.version)
        report = run_classify(ctx.spark, ctx.lake, self.cfg, run)
        counts = report.totals | {"scored": report.details.get("scored")}
        return {"documents": ctx.lake.version(DOCUMENTS.name)}, counts


class TokenizeStage(Stage):
    """``lakeforge tokenize``: the pinned documents version, filtered by ``where`` → a shard set."""

    kind, job = "tokenize", "tokenize"
    outputs = ("name", "shard_set_id", "path", "token_shards", "content_hash")

    def prepare(self) -> None:
        from curation.tokenize.config import TokenizeConfig

        spec: P.TokenizeSpec = self.spec
        self.sets = list(spec.set) + ([f"tokenizer={spec.tokenizer}"] if spec.tokenizer else [])
        self.cfg = load_settings(TokenizeConfig, spec.config, self.sets)
        self.config_hash, self.config = config_hash(self.cfg), to_dict(self.cfg)
        self.version = self.ctx.documents_input()
        self.inputs = {"documents": self.version, "where": spec.where}
        if self.cfg.tokenizer:
            self.inputs["tokenizer"] = self.ctx.content_of([self.cfg.tokenizer])

    def command(self) -> str:
        spec: P.TokenizeSpec = self.spec
        args = option("--config", spec.config) + repeated("--set", spec.set)
        args += ["--name", spec.name] + option("--version", self.version) + option("--where", spec.where)
        return render_command("tokenize", args + option("--tokenizer", spec.tokenizer))

    def run(self, run: RunInfo) -> tuple[dict, dict]:
        from curation.spark.tokenize_shards import run_tokenize

        ctx, spec = self.ctx, self.spec
        r = run_tokenize(ctx.spark, ctx.lake, self.cfg, run, spec.name, DOCUMENTS.name, self.version, spec.where)
        outputs = {
            "name": r.name,
            "shard_set_id": r.shard_set_id,
            "path": r.path,
            "token_shards": ctx.lake.version("token_shards"),
            "content_hash": r.content_hash,
        }
        counts = {
            "records_in": r.records_in,
            "documents": r.documents,
            "rejected": r.rejected,
            "errored": r.errored,
            "tokens": r.tokens,
            "noop": r.noop,
        }
        return outputs, counts

    def pin(self, pinned: dict, outputs: dict) -> None:
        pinned["shard_sets"][outputs["name"]] = outputs["shard_set_id"]

    def outputs_exist(self, outputs: dict) -> bool:
        return _exists(outputs.get("path"))


class MixStage(Stage):
    """``lakeforge mix FILE``, its table components pinned to the pipeline's documents version and its shard
    components to the shard sets the pipeline made → a blend."""

    kind, job, outputs = "mix", "mix", ("blend", "mixture_id", "mixtures")

    def __init__(self, name: str, spec: str, ctx: StageContext):
        super().__init__(name, spec, ctx)
        self.config_path = spec

    def prepare(self) -> None:
        from curation.tokenize.mixture import parse

        data = read_settings(self.spec)
        version = self.ctx.documents_input()
        shard_sets = self.ctx.pinned["shard_sets"]
        for c in (data.get("components") or {}).values():
            if not isinstance(c, dict):
                continue
            if c.get("table") and c.get("version") is None:
                c["version"] = version  # the pipeline's documents, not whatever is newest when mix runs
            if c.get("shards") in shard_sets and not c.get("shard_set_id"):
                c["shard_set_id"] = shard_sets[c["shards"]]
        self.mixture = parse(data, self.spec)
        self.config_hash, self.config, self.inputs = P.settings_hash(data), data, {"mixture": data}

    def command(self) -> str:
        return render_command("mix", [self.spec])

    def run(self, run: RunInfo) -> tuple[dict, dict]:
        from curation.spark.mix import run_mix
        from training import shard_cache
        from training.data import check_blend

        ctx = self.ctx
        run.inputs = [str(Path(self.spec).resolve())]
        report, _ = run_mix(ctx.spark, ctx.lake, self.mixture, run, log=ctx.log)
        counts = {"components": len(report.blend.get("components", [])), "new": report.new}
        try:
            # shards in object storage are read back from a checked local copy (a local blend comes back as it is)
            blend, _ = shard_cache.stage_blend(
                report.blend, shard_cache.DEFAULT_CACHE, ctx.lake.s3_settings, source=report.path
            )
            check = check_blend(blend, 2_000, 0.02)
            counts["realized_shares"] = {s.component: round(s.realized, 4) for s in check.shares}
            counts["shares_ok"] = check.ok
        except Exception as e:  # noqa: BLE001 — the blend is pinned; a failed read-back is reported, not fatal
            counts["check_error"] = one_line(e)
        outputs = {"blend": report.path, "mixture_id": report.mixture_id, "mixtures": ctx.lake.version("mixtures")}
        return outputs, counts

    def pin(self, pinned: dict, outputs: dict) -> None:
        pinned["blend"], pinned["mixture_id"] = outputs["blend"], outputs["mixture_id"]

    def outputs_exist(self, outputs: dict) -> bool:
        return _exists(outputs.get("blend"))


class TrainStage(Stage):
    """``lakeforge train --resume`` on the pinned blend, into ``out_dir`` (default ``runs/<pipeline>/<key 12>``,
    with ``runs/<pipeline>/latest`` pointing at it) → a checkpoint."""

    kind, job, outputs = "train", "train", ("out_dir", "checkpoint")

    def prepare(self) -> None:
        from training.config import load_config

        ctx, spec = self.ctx, self.spec
        if ctx.launch_train is None:
            raise ValueError("this runner was given no way to launch training")
        blend = ctx.pinned.get("blend")
        if not blend:
            raise ValueError("no blend to train on: the mix stage did not run")
        cfg = load_config(spec.config, spec.set)
        self.config_hash, self.config = config_hash(cfg), to_dict(cfg)
        self.inputs = {"mixture_id": ctx.pinned.get("mixture_id"), "dp": spec.dp}
        self.out_dir = spec.out_dir or f"runs/{ctx.pipeline.name}/{self.key()[:12]}"
        self.argv = ["--mixture", blend, "--config", spec.config, "--dp", str(spec.dp), "--resume"]
        self.argv += repeated("--set", spec.set) + ["--set", f"out_dir={self.out_dir}", "--lakehouse", ctx.lake.root]

    def command(self) -> str:
        return render_command("train", self.argv)

    def run(self, run: RunInfo) -> tuple[dict, dict]:
        from training.checkpoint import list_checkpoints

        out_dir = Path(self.out_dir)
        rc = self.ctx.launch_train(self.argv)
        if rc != 0:
            raise RuntimeError(f"training exited with status {rc} (its log is {out_dir}/log.jsonl)")
        ckpts = list_checkpoints(out_dir / "checkpoints")
        if not ckpts:
            raise RuntimeError(f"training wrote no checkpoint under {out_dir}/checkpoints")
        if self.spec.out_dir is None:
            _point_latest(out_dir)
        outputs = {"out_dir": str(out_dir.resolve()), "checkpoint": str(ckpts[-1].resolve())}
        return outputs, (read_log(out_dir) or TrainingLog()).summary()

    def pin(self, pinned: dict, outputs: dict) -> None:
        pinned["out_dir"], pinned["checkpoint"] = outputs["out_dir"], outputs["checkpoint"]

    def outputs_exist(self, outputs: dict) -> bool:
        return _exists(outputs.get("checkpoint"))


STAGES: dict[str, type[Stage]] = {  # in curation.pipeline.STAGE_ORDER
    s.kind: s
    for s in (
        CurateStage,
        ImportTextStage,
        DedupStage,
        TrainClassifierStage,
        ClassifyStage,
        TokenizeStage,
        MixStage,
        TrainStage,
    )
}


def _exists(path: str | None) -> bool:
    """A recorded local file or folder is still there (a remote URI is taken on trust)."""
    return not path or "://" in path or Path(path).exists()


# ------------------------------------------------------------------------------------------------------ the loop
class Pipeline:
    """One ``lakeforge run``: ``run()`` goes through the plan; ``log`` gets one line per event."""

    def __init__(
        self,
        spark,
        lake,
        cfg: P.PipelineConfig,
        launch_train: Callable[[list[str]], int] | None = None,
        log: Callable[[str], None] = print,
        progress=None,
        stage_watch=None,
    ):
        self.spark, self.lake, self.cfg = spark, lake, cfg
        self.launch_train = launch_train
        self.log = log
        self.progress = progress
        self.stage_watch = stage_watch
        """Optional context-manager factory ``stage_watch(stage_name)`` (terminal progress while a stage runs)."""
        self.run_id = new_run_id("pipeline")
        self.pipeline_hash = P.settings_hash(dataclasses.asdict(cfg) | {"source": ""})
        self.hash_cache = self._load_hash_cache()
        # What the stages so far wrote, pinned into the next: documents version, shard sets, blend, models.
        self.pinned: dict[str, Any] = {"documents": None, "shard_sets": {}, "models": {}}
        self._pending: list[dict] = []
        self._history: list = []

    def run(self) -> PipelineReport:
        t0 = time.perf_counter()
        lake = self.lake
        lake.ensure(RUNS)
        records = self._records()
        ctx = StageContext(
            spark=self.spark,
            lake=lake,
            pipeline=self.cfg,
            pinned=self.pinned,
            hash_cache=self.hash_cache,
            history=self._history,
            log=self.log,
            progress=self.progress,
            launch_train=self.launch_train,
        )
        stages = [STAGES[P.stage_kind(name)](name, spec, ctx) for name, spec in self.cfg.stages()]
        report = PipelineReport(self.run_id, self.cfg.name)
        self.log(f"pipeline {self.cfg.name}: run {self.run_id}, {len(stages)} stages, lakehouse {lake.root}")
        for order, stage in enumerate(stages):
            report.stages.append(self._stage(order, len(stages), stage, records))
        self._flush()
        self._save_hash_cache()
        report.seconds = time.perf_counter() - t0
        report.pinned = self.pinned
        return report

    def _stage(self, order: int, total: int, stage: Stage, records: dict[str, P.StageRecord]) -> StageOutcome:
        label = f"[{order + 1}/{total}] {stage.name}"
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        try:
            stage.prepare()
            config_hash_, inputs = stage.key_inputs()
            key = stage.key()
            command = stage.command()
        except Exception as e:  # noqa: BLE001 — a config or input problem of this stage, reported as such
            self._fail(order, stage.name, started, t0, None, e, stage.config_path or self.cfg.source)
        action, rec = P.decide(key, records, stage.outputs_exist)
        row = {
            "stage_order": order,
            "stage": stage.name,
            "stage_key": key,
            "command": command,
            "config_path": stage.config_path,
            "config_hash": config_hash_,
            "inputs": json.dumps(inputs, sort_keys=True, default=str),
            "started_at": started,
        }
        if action == "skip":
            stage.pin(self.pinned, rec.outputs)
            self._record(
                row
                | {
                    "status": "skipped",
                    "outputs": json.dumps(rec.outputs, sort_keys=True),
                    "reused_run_id": rec.pipeline_run_id,
                    "job_run_id": rec.job_run_id,
                    "ended_at": datetime.now(UTC),
                    "seconds": 0.0,
                }
            )
            self.log(f"{label}: skipped, same inputs and settings as run {rec.pipeline_run_id}")
            return StageOutcome(stage.name, "skipped", 0.0, rec.outputs, {}, rec.pipeline_run_id)
        run = RunInfo(job=stage.job, config_hash=config_hash_, config=stage.config)
        how = "resuming an interrupted attempt" if action == "resume" else "running"
        self.log(f"{label}: {how} (job run {run.run_id})  {command}")
        self._record(row | {"status": "running", "job_run_id": run.run_id})
        self._flush()
        try:
            if self.stage_watch is not None:
                with self.stage_watch(stage.name):
                    outputs, counts = stage.run(run)
            else:
                outputs, counts = stage.run(run)
            if set(outputs) != set(stage.outputs):
                raise RuntimeError(f"wrote outputs {sorted(outputs)}, declared {sorted(stage.outputs)}")
        except Exception as e:  # noqa: BLE001 — every stage failure becomes a failed row and one line
            self._fail(order, stage.name, started, t0, row | {"job_run_id": run.run_id}, e, stage.config_path or "")
        seconds = time.perf_counter() - t0
        stage.pin(self.pinned, outputs)
        self._record(
            row
            | {
                "status": "succeeded",
                "job_run_id": run.run_id,
                "outputs": json.dumps(outputs, sort_keys=True, default=str),
                "counts": json.dumps(counts, sort_keys=True, default=str),
                "ended_at": datetime.now(UTC),
                "seconds": seconds,
            }
        )
        self._flush()
        records[key] = P.StageRecord("succeeded", self.run_id, outputs, config_hash_, run.run_id)
        self.log(f"{label}: done in {seconds:.1f}s  {P.brief(counts)}")
        return StageOutcome(stage.name, "succeeded", seconds, outputs, counts, resumed=action == "resume")

    def _fail(self, order, stage, started, t0, row, error: Exception, config_path: str):
        message = one_line(error)
        row = row or {"stage_order": order, "stage": stage, "stage_key": "", "started_at": started}
        self._record(
            row
            | {
                "status": "failed",
                "error": message,
                "ended_at": datetime.now(UTC),
                "seconds": time.perf_counter() - t0,
            }
        )
        try:
            self._flush()
        except Exception:  # noqa: BLE001 — the original error matters more than the record of it
            pass
        where = f" (config {config_path})" if config_path else ""
        hint = (
            f"fix it{where} and run the same `lakeforge run` again: finished stages are skipped, "
            f"`lakeforge sql \"SELECT stage, status, error FROM runs WHERE pipeline_run_id = '{self.run_id}'\"` "
            "shows the record"
        )
        raise StageFailed(stage, message, hint) from error

    # ------------------------------------------------------------------ the runs table
    def _records(self) -> dict[str, P.StageRecord]:
        """Latest row per stage key of this pipeline's earlier runs."""
        from pyspark.sql import functions as F

        rows = (
            self.lake.read(RUNS.name)
            .where(F.col("pipeline") == self.cfg.name)
            .select(
                "stage",
                "stage_key",
                "status",
                "pipeline_run_id",
                "reused_run_id",
                "job_run_id",
                "outputs",
                "config_hash",
                "started_at",
                "ended_at",
            )
            .collect()
        )
        rows.sort(key=lambda r: (r["ended_at"] or r["started_at"], r["status"] != "running"))
        out = {}
        for r in rows:
            if r["stage_key"]:
                # A skipped row names the run that really produced the outputs: point at that one.
                producer = r["reused_run_id"] or r["pipeline_run_id"]
                out[r["stage_key"]] = P.StageRecord(
                    r["status"], producer, json.loads(r["outputs"] or "{}"), r["config_hash"], r["job_run_id"]
                )
        self._history = rows
        return out

    def _record(self, row: dict) -> None:
        base = {
            "pipeline_run_id": self.run_id,
            "pipeline": self.cfg.name,
            "pipeline_hash": self.pipeline_hash,
            "code_version": code_version(),
        }
        self._pending.append({f.name: None for f in RUNS.fields} | base | row)

    def _flush(self) -> None:
        if not self._pending:
            return
        df = self.spark.createDataFrame([tuple(r[n] for n in RUNS.names) for r in self._pending], RUNS.to_spark())
        meta = json.dumps(
            {"job": "pipeline", "run_id": self.run_id, "pipeline": self.cfg.name, "code_version": code_version()}
        )
        self.lake.append(RUNS, df, meta)
        self._pending = []

    # ------------------------------------------------------------------ input hash cache
    def _cache_uri(self) -> str:
        """The input-hash cache beside the tables (a local file or an object: one whole-object write each time)."""
        return self.lake.files("_pipeline", "file-hashes.json")

    def _load_hash_cache(self) -> dict:
        from curation.storage import StoreError

        try:
            return json.loads(self.lake.store.read_bytes(self._cache_uri()))
        except (StoreError, OSError, ValueError):  # none yet, or unreadable: a cache, hashed again
            return {}

    def _save_hash_cache(self) -> None:
        self.lake.store.write_bytes(self._cache_uri(), json.dumps(self.hash_cache).encode())


def _point_latest(out_dir: Path) -> None:
    """``runs/<pipeline>/latest`` → the newest trained ``<stage key>`` folder (a relative symlink, replaced
    atomically), so ``lakeforge lineage runs/<pipeline>/latest/checkpoints`` always names the current model."""
    link = out_dir.parent / "latest"
    tmp = out_dir.parent / ".latest.tmp"
    try:
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(out_dir.name)
        tmp.replace(link)
    except OSError:
        pass  # a filesystem without symlinks: the runs table still names the checkpoint


def one_line(e: BaseException) -> str:
    """An exception as one line (its type named unless it is a plain user-facing error), at most 500 characters."""
    text = str(e).strip().splitlines()
    first = text[0] if text else type(e).__name__
    if type(e).__name__ not in ("ValueError", "RuntimeError", "JobError", "PipelineError"):
        first = f"{type(e).__name__}: {first}"
    return first[:500]
