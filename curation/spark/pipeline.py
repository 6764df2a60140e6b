"""Run a :class:`~curation.pipeline.PipelineConfig` on Spark, one stage after another, recorded in ``runs``.

Each stage is prepared first (settings resolved, inputs hashed, the previous stages' output versions pinned in),
which gives its key; a key that an earlier run finished is skipped and its recorded outputs pinned into the next
stage. Otherwise a ``running`` row is committed, the stage runs through the same library call as its ``lakeforge``
subcommand, and a ``succeeded`` row with its outputs, counts and timings (or a ``failed`` row with the error) ends
it. Training is launched by the caller (``launch_train``: a ``lakeforge train`` argument list → exit status), so
this module never starts processes itself.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from curation import pipeline as P
from curation.config import config_hash, load_settings, read_settings, to_dict
from curation.provenance import RunInfo, code_version, new_run_id
from schemas.documents import DOCUMENTS
from schemas.runs import RUNS


class StageFailed(Exception):
    """A stage raised: ``stage`` names it, ``hint`` says what to do; the run record has its ``failed`` row."""

    def __init__(self, stage: str, message: str, hint: str):
        super().__init__(f"stage {stage} failed: {message}")
        self.stage, self.message, self.hint = stage, message, hint


@dataclass
class Prepared:
    """A stage ready to run: its settings, inputs and key, and the call that runs it."""

    config_hash: str
    inputs: dict
    command: str
    config_path: str | None
    execute: Callable[[RunInfo], tuple[dict, dict]]
    """run → (outputs, counts)."""
    config: dict = field(default_factory=dict)
    job: str = ""


@dataclass
class StageOutcome:
    stage: str
    status: str
    seconds: float
    outputs: dict
    counts: dict
    reused_run_id: str | None = None


@dataclass
class PipelineReport:
    pipeline_run_id: str
    name: str
    stages: list[StageOutcome] = field(default_factory=list)
    seconds: float = 0.0
    pinned: dict = field(default_factory=dict)


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

    # ------------------------------------------------------------------ the run
    def run(self) -> PipelineReport:
        t0 = time.perf_counter()
        lake = self.lake
        lake.ensure(RUNS)
        records = self._records()
        report = PipelineReport(self.run_id, self.cfg.name)
        plan = self.cfg.stages()
        self.log(f"pipeline {self.cfg.name}: run {self.run_id}, {len(plan)} stages, lakehouse {lake.root}")
        for order, (stage, spec) in enumerate(plan):
            report.stages.append(self._stage(order, len(plan), stage, spec, records))
        self._flush()
        self._save_hash_cache()
        report.seconds = time.perf_counter() - t0
        report.pinned = self.pinned
        return report

    def _stage(self, order: int, total: int, stage: str, spec, records) -> StageOutcome:
        label = f"[{order + 1}/{total}] {stage}"
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        try:
            prepared = self._prepare(stage, spec)
        except Exception as e:  # noqa: BLE001 — a config or input problem of this stage, reported as such
            where = spec if isinstance(spec, str) else getattr(spec, "config", None) or self.cfg.source
            self._fail(order, stage, started, t0, None, e, where)
        key = P.stage_key(stage, prepared.config_hash, prepared.inputs)
        action, rec = P.decide(key, records, self._outputs_exist)
        row = {
            "stage_order": order,
            "stage": stage,
            "stage_key": key,
            "command": prepared.command,
            "config_path": prepared.config_path,
            "config_hash": prepared.config_hash,
            "inputs": json.dumps(prepared.inputs, sort_keys=True, default=str),
            "started_at": started,
        }
        if action == "skip":
            self._pin(stage, rec.outputs)
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
            return StageOutcome(stage, "skipped", 0.0, rec.outputs, {}, rec.pipeline_run_id)
        run = RunInfo(job=prepared.job or stage.split(":")[0], config_hash=prepared.config_hash, config=prepared.config)
        how = "resuming an interrupted attempt" if action == "resume" else "running"
        self.log(f"{label}: {how} (job run {run.run_id})  {prepared.command}")
        self._record(row | {"status": "running", "job_run_id": run.run_id})
        self._flush()
        try:
            if self.stage_watch is not None:
                with self.stage_watch(stage):
                    outputs, counts = prepared.execute(run)
            else:
                outputs, counts = prepared.execute(run)
        except Exception as e:  # noqa: BLE001 — every stage failure becomes a failed row and one line
            self._fail(order, stage, started, t0, row | {"job_run_id": run.run_id}, e, prepared.config_path or "")
        seconds = time.perf_counter() - t0
        self._pin(stage, outputs)
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
        records[key] = P.StageRecord("succeeded", self.run_id, outputs, prepared.config_hash, run.run_id)
        self.log(f"{label}: done in {seconds:.1f}s  {brief(counts)}")
        return StageOutcome(stage, "succeeded", seconds, outputs, counts)

    def _fail(self, order, stage, started, t0, row, error: Exception, config_path: str):
        message = _one_line(error)
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

    # ------------------------------------------------------------------ pinning
    def _pin(self, stage: str, outputs: dict) -> None:
        docs = outputs.get("documents")
        if docs is not None:
            # Versions only grow, and every stage's rows stay in later versions: the newest one is the chain's.
            cur = self.pinned["documents"]
            self.pinned["documents"] = docs if cur is None else max(cur, docs)
        if "shard_set_id" in outputs:
            self.pinned["shard_sets"][outputs["name"]] = outputs["shard_set_id"]
        if "model_version" in outputs:
            self.pinned["models"][outputs["name"]] = outputs["model_version"]
        for k in ("blend", "mixture_id", "out_dir", "checkpoint"):
            if k in outputs:
                self.pinned[k] = outputs[k]

    def _documents_input(self) -> int | None:
        """The documents version the next stage reads: the chain's pinned one, else the table's latest."""
        pinned = self.pinned["documents"]
        return pinned if pinned is not None else self.lake.version(DOCUMENTS.name)

    def _outputs_exist(self, outputs: dict) -> bool:
        lake = self.lake
        docs = outputs.get("documents")
        if docs is not None and (lake.version(DOCUMENTS.name) or -1) < docs:
            return False
        for k in ("path", "blend", "checkpoint"):
            if outputs.get(k) and "://" not in outputs[k] and not Path(outputs[k]).exists():
                return False
        if "model_version" in outputs and (lake.version("models") is None):
            return False
        return True

    # ------------------------------------------------------------------ the stages
    def _prepare(self, stage: str, spec) -> Prepared:
        kind = stage.split(":")[0]
        return getattr(self, f"_prepare_{kind}")(spec)

    def _prepare_curate(self, spec: P.StageConfig) -> Prepared:
        from curation.curate import CurateConfig
        from curation.spark.curate import run_curate, run_filter
        from curation.warc.sources import resolve_inputs

        # Classifiers are applied by the classify stage, after they are trained: curate runs without them.
        cfg = dataclasses.replace(load_settings(CurateConfig, spec.config, spec.set), classifiers={})
        sources = resolve_inputs(
            list(self.cfg.warc), cfg.read.paths_base, timeout_s=cfg.read.http_timeout_s, retries=cfg.read.http_retries
        )
        files = P.content_of([s.uri for s in sources], self.hash_cache)
        h = config_hash(cfg)
        previous = self._last_config_hash("curate")

        def execute(run: RunInfo):
            run.inputs = [s.uri for s in sources]
            report = run_curate(self.spark, self.lake, sources, cfg, run, progress=self.progress)
            counts = report.totals | {"files": len(sources)}
            if previous is not None and previous != h:
                # New thresholds for documents an earlier run curated: re-apply them (no re-extraction).
                self.log("curate: settings changed since the last pipeline run: re-applying them to every document")
                frun = RunInfo(job="filter", config_hash=h, config=to_dict(cfg))
                counts["filter_changed"] = run_filter(self.spark, self.lake, cfg, frun).changed
            return {"documents": self.lake.version(DOCUMENTS.name), "stats": self.lake.version("stats")}, counts

        return Prepared(
            h,
            {"warc": files},
            _command("curate", spec, [f"-i {w}" for w in self.cfg.warc]),
            spec.config,
            execute,
            to_dict(cfg),
        )

    def _prepare_import_text(self, spec: P.TextInput) -> Prepared:
        from curation.spark.text_import import TextImportConfig, run_import_text

        cfg = TextImportConfig(split=spec.split)
        files = P.content_of(list(spec.paths), self.hash_cache)

        def execute(run: RunInfo):
            run.inputs = list(spec.paths)
            report = run_import_text(self.spark, self.lake, list(spec.paths), cfg, run)
            return {"documents": self.lake.version(DOCUMENTS.name)}, report.totals

        args = [f"-i {p}" for p in spec.paths] + ([f"--split {spec.split}"] if spec.split else [])
        return Prepared(
            config_hash(cfg),
            {"files": files},
            "lakeforge import-text " + " ".join(args),
            None,
            execute,
            to_dict(cfg),
            job="import",
        )

    def _prepare_dedup(self, spec: P.StageConfig) -> Prepared:
        from curation.dedup.config import DedupConfig
        from curation.spark.dedup import run_dedup

        cfg = load_settings(DedupConfig, spec.config, spec.set)
        h = config_hash(cfg)
        version = self._documents_input()
        previous = self._last_config_hash("dedup")
        full = previous is not None and previous != h

        def execute(run: RunInfo):
            run.inputs, run.input_tables = [self.lake.fq(DOCUMENTS.name)], {DOCUMENTS.name: version}
            report = run_dedup(self.spark, self.lake, cfg, run, full=full)
            out = {
                "documents": self.lake.version(DOCUMENTS.name),
                "minhash_signatures": self.lake.version("minhash_signatures"),
            }
            return out, report.totals | {k: report.details.get(k) for k in ("mode", "candidate_pairs", "edges")}

        return Prepared(
            h,
            {"documents": version},
            _command("dedup", spec, ["--full"] if full else []),
            spec.config,
            execute,
            to_dict(cfg),
        )

    def _prepare_train_classifier(self, path: str) -> Prepared:
        from curation.classify.source import TrainClassifierConfig
        from curation.spark.classify import run_train_classifier

        cfg = load_settings(TrainClassifierConfig, path, [])
        inputs: dict = {}
        if cfg.input.labels:
            inputs["labels"] = P.content_of([cfg.input.labels], self.hash_cache)
        else:
            inputs["documents"] = self._documents_input()

        def execute(run: RunInfo):
            run.inputs = [cfg.input.labels] if cfg.input.labels else ["sql"]
            report = run_train_classifier(self.spark, self.lake, cfg, run)
            test = (report.metrics or {}).get("test", {})
            counts = {"model": report.model_id, "created": report.created, **report.counts.get("rows", {})} | {
                k: test.get(k) for k in ("macro_f1", "roc_auc") if k in test
            }
            return {
                "name": cfg.name,
                "model_version": report.version,
                "model_id": report.model_id,
                "models": self.lake.version("models"),
            }, counts

        return Prepared(
            config_hash(cfg),
            inputs,
            f"lakeforge train-classifier --config {path}",
            path,
            execute,
            to_dict(cfg),
            job="train-classifier",
        )

    def _prepare_classify(self, spec: P.StageConfig) -> Prepared:
        from curation.curate import CurateConfig
        from curation.spark.classify import resolve_classifiers, run_classify

        base = self.cfg.curate
        cfg = load_settings(CurateConfig, spec.config or base.config, list(base.set) + list(spec.set))
        if not cfg.classifiers:
            raise ValueError(
                "no classifiers configured: add `classifiers:` to the curate config or `set:` them "
                "under classify (e.g. classifiers.toxicity.drop=above)"
            )
        cfg = resolve_classifiers(self.lake, cfg)
        version = self._documents_input()

        def execute(run: RunInfo):
            run.inputs, run.input_tables = [self.lake.fq(DOCUMENTS.name)], {DOCUMENTS.name: version}
            report = run_classify(self.spark, self.lake, cfg, run)
            counts = report.totals | {"scored": report.details.get("scored")}
            return {"documents": self.lake.version(DOCUMENTS.name)}, counts

        return Prepared(
            config_hash(cfg),
            {"documents": version},
            _command("classify", spec, []),
            spec.config or base.config,
            execute,
            to_dict(cfg),
        )

    def _prepare_tokenize(self, spec: P.TokenizeSpec) -> Prepared:
        from curation.spark.tokenize_shards import run_tokenize
        from curation.tokenize.config import TokenizeConfig

        sets = list(spec.set) + ([f"tokenizer={spec.tokenizer}"] if spec.tokenizer else [])
        cfg = load_settings(TokenizeConfig, spec.config, sets)
        version = self._documents_input()
        inputs = {"documents": version, "where": spec.where}
        if cfg.tokenizer:
            inputs["tokenizer"] = P.content_of([cfg.tokenizer], self.hash_cache)

        def execute(run: RunInfo):
            r = run_tokenize(self.spark, self.lake, cfg, run, spec.name, DOCUMENTS.name, version, spec.where)
            outputs = {
                "name": r.name,
                "shard_set_id": r.shard_set_id,
                "path": r.path,
                "token_shards": self.lake.version("token_shards"),
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

        args = [f"--name {spec.name}", f"--version {version}"] + ([f'--where "{spec.where}"'] if spec.where else [])
        args += [f"--tokenizer {spec.tokenizer}"] if spec.tokenizer else []
        return Prepared(
            config_hash(cfg),
            inputs,
            _command("tokenize", P.StageConfig(spec.config, spec.set), args),
            spec.config,
            execute,
            to_dict(cfg),
        )

    def _prepare_mix(self, path: str) -> Prepared:
        from curation.spark.mix import run_mix
        from curation.tokenize.mixture import parse

        data = read_settings(path)
        version = self._documents_input()
        for c in (data.get("components") or {}).values():
            if not isinstance(c, dict):
                continue
            if c.get("table") and c.get("version") is None:
                c["version"] = version  # the pipeline's documents, not whatever is newest when mix runs
            if c.get("shards") in self.pinned["shard_sets"] and not c.get("shard_set_id"):
                c["shard_set_id"] = self.pinned["shard_sets"][c["shards"]]
        mixture = parse(data, path)

        def execute(run: RunInfo):
            from training.data import check_blend

            run.inputs = [str(Path(path).resolve())]
            report, _ = run_mix(self.spark, self.lake, mixture, run, log=self.log)
            counts = {"components": len(report.blend.get("components", [])), "new": report.new}
            try:
                check = check_blend(report.blend, 2_000, 0.02)
                counts["realized_shares"] = {s.component: round(s.realized, 4) for s in check.shares}
                counts["shares_ok"] = check.ok
            except Exception as e:  # noqa: BLE001 — the blend is pinned; a failed read-back is reported, not fatal
                counts["check_error"] = _one_line(e)
            outputs = {"blend": report.path, "mixture_id": report.mixture_id, "mixtures": self.lake.version("mixtures")}
            return outputs, counts

        return Prepared(
            P.settings_hash(data), {"mixture": data}, f"lakeforge mix {path}", path, execute, data, job="mix"
        )

    def _prepare_train(self, spec: P.TrainSpec) -> Prepared:
        from training.config import load_config

        if self.launch_train is None:
            raise ValueError("this runner was given no way to launch training")
        blend = self.pinned.get("blend")
        if not blend:
            raise ValueError("no blend to train on: the mix stage did not run")
        cfg = load_config(spec.config, spec.set)
        h = config_hash(cfg)
        inputs = {"mixture_id": self.pinned.get("mixture_id"), "dp": spec.dp}
        key12 = P.stage_key("train", h, inputs)[:12]
        out_dir = spec.out_dir or f"runs/{self.cfg.name}/{key12}"
        argv = ["--mixture", blend, "--config", spec.config, "--dp", str(spec.dp), "--resume"]
        argv += [x for s in spec.set for x in ("--set", s)] + ["--set", f"out_dir={out_dir}"]
        argv += ["--lakehouse", self.lake.root]

        def execute(run: RunInfo):
            from training.checkpoint import list_checkpoints

            rc = self.launch_train(argv)
            if rc != 0:
                raise RuntimeError(f"training exited with status {rc} (its log is {out_dir}/log.jsonl)")
            ckpts = list_checkpoints(Path(out_dir) / "checkpoints")
            if not ckpts:
                raise RuntimeError(f"training wrote no checkpoint under {out_dir}/checkpoints")
            if spec.out_dir is None:
                _point_latest(Path(out_dir))
            outputs = {"out_dir": str(Path(out_dir).resolve()), "checkpoint": str(ckpts[-1].resolve())}
            return outputs, _training_counts(Path(out_dir) / "log.jsonl")

        return Prepared(h, inputs, "lakeforge train " + " ".join(argv), spec.config, execute, to_dict(cfg), job="train")

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

    def _last_config_hash(self, stage: str) -> str | None:
        """The config hash the stage last finished with (this pipeline, any earlier run), None if never; from the
        rows ``_records`` read (sorted by time), not another read of the table."""
        done = [r for r in self._history if r["stage"] == stage and r["status"] == "succeeded"]
        return done[-1]["config_hash"] if done else None

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
    def _cache_path(self) -> Path | None:
        if "://" in self.lake.root:
            return None
        return Path(self.lake.root) / "_pipeline" / "file-hashes.json"

    def _load_hash_cache(self) -> dict:
        p = self._cache_path()
        try:
            return json.loads(p.read_text()) if p and p.is_file() else {}
        except (OSError, ValueError):
            return {}

    def _save_hash_cache(self) -> None:
        p = self._cache_path()
        if p is None:
            return
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.hash_cache))
        tmp.replace(p)


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


def _command(sub: str, spec: P.StageConfig, extra: list[str]) -> str:
    parts = [f"lakeforge {sub}"] + ([f"--config {spec.config}"] if spec.config else [])
    parts += [f"--set {s}" for s in spec.set] + extra
    return " ".join(parts)


def _training_counts(log: Path) -> dict:
    """Last step's iteration, loss and tokens/s, and the last validation loss, from ``log.jsonl``."""
    last_step, last_eval = {}, {}
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") == "step":
                last_step = e
            elif e.get("event") == "eval":
                last_eval = e
    return {
        "iteration": last_step.get("iteration"),
        "loss": last_step.get("loss"),
        "tokens_per_s": last_step.get("tokens_per_s"),
        "val_loss": last_eval.get("val_loss"),
    }


def brief(counts: dict) -> str:
    keys = ("records_in", "kept", "dropped", "errored", "tokens", "model", "iteration", "loss", "val_loss")

    def fmt(v) -> str:
        return f"{v:,}" if isinstance(v, int) else f"{v:.4f}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k} {fmt(counts[k])}" for k in keys if counts.get(k) is not None)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    first = text[0] if text else type(e).__name__
    if type(e).__name__ not in ("ValueError", "RuntimeError", "JobError", "PipelineError"):
        first = f"{type(e).__name__}: {first}"
    return first[:500]
