"""``pipeline.yaml``: one chain from WARC files to a checkpoint, and the rules that make reruns cheap and safe.

The chain is fixed — curate → import_text → dedup → train_classifier → classify → tokenize → mix → train — and a
``pipeline.yaml`` names what each stage reads and the config file it runs with (see ``conf/pipeline.yaml``). Pure
Python: parsing with actionable errors, the stage plan, input content hashes and each stage's key. The Spark side
(``curation.spark.pipeline``) runs the plan and records it in the ``runs`` table.

A stage's **key** is the sha256 of its name, its resolved settings and its inputs: input files by content, and the
table versions the previous stages wrote (pinned). A stage whose key already has a finished row in ``runs`` is
skipped and its recorded outputs are pinned into the next stage, so a second run adds nothing; a stage that was
killed has a ``running`` row and no end: it runs again (every stage is idempotent on its own inputs).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

STAGE_ORDER = ("curate", "import_text", "dedup", "train_classifier", "classify", "tokenize", "mix", "train")

TEXT_SPLITS = ("paragraphs", "wikitext")


class PipelineError(ValueError):
    """A pipeline.yaml problem, named with the key it concerns and what to do."""


@dataclass(frozen=True)
class StageConfig:
    """A stage's config file and its ``section.key=value`` overrides (as ``--set`` on the stage's command)."""

    config: str | None = None
    set: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextInput:
    """Text or JSON Lines files imported into ``documents`` (``lakeforge import-text``)."""

    name: str
    paths: tuple[str, ...]
    split: str | None = None


@dataclass(frozen=True)
class TokenizeSpec:
    """One shard set (``lakeforge tokenize``): the pipeline's pinned ``documents`` version + a filter."""

    name: str
    where: str | None = None
    tokenizer: str | None = None
    config: str | None = None
    set: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainSpec:
    """``lakeforge train`` on the pinned blend; ``out_dir`` defaults to ``runs/<pipeline>/<stage key>``."""

    config: str = "conf/train.yaml"
    set: tuple[str, ...] = ()
    dp: int = 1
    out_dir: str | None = None


@dataclass(frozen=True)
class PipelineConfig:
    name: str
    warc: tuple[str, ...] = ()
    text: tuple[TextInput, ...] = ()
    curate: StageConfig = field(default_factory=StageConfig)
    dedup: StageConfig | None = field(default_factory=StageConfig)
    classifiers: tuple[str, ...] = ()
    """train-classifier config files, trained in order."""
    classify: StageConfig | None = None
    """``--set`` overrides on the curate config for the classify stage (e.g. ``classifiers.toxicity.drop=above``)."""
    tokenize: tuple[TokenizeSpec, ...] = ()
    mixture: str | None = None
    train: TrainSpec | None = None
    report: str | None = None
    """Folder for the report written at the end (``{name}`` and ``{run}`` are filled in); None: no report."""
    source: str = ""

    def stages(self) -> list[tuple[str, Any]]:
        """The plan: ``(stage name, spec)`` in order. Names are unique (``import_text:wikitext``)."""
        plan: list[tuple[str, Any]] = []
        if self.warc:
            plan.append(("curate", self.curate))
        plan += [(f"import_text:{t.name}", t) for t in self.text]
        if self.dedup is not None:
            plan.append(("dedup", self.dedup))
        plan += [(f"train_classifier:{Path(c).stem}", c) for c in self.classifiers]
        if self.classify is not None:
            plan.append(("classify", self.classify))
        plan += [(f"tokenize:{t.name}", t) for t in self.tokenize]
        if self.mixture:
            plan.append(("mix", self.mixture))
        if self.train is not None:
            plan.append(("train", self.train))
        return plan


_TOP = {"name", "inputs", "curate", "dedup", "classifiers", "classify", "tokenize", "mixture", "train", "report"}


def parse(data: dict[str, Any], source: str = "pipeline.yaml") -> PipelineConfig:
    """A PipelineConfig from the YAML mapping; every problem is a PipelineError naming the key."""
    if not isinstance(data, dict):
        raise PipelineError(f"{source}: expected a mapping of settings")
    unknown = sorted(set(data) - _TOP)
    if unknown:
        raise PipelineError(f"{source}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_TOP))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.replace("-", "_").isidentifier():
        raise PipelineError(f"{source}: name: give the pipeline a name of letters, digits, '-' and '_'")
    inputs = _mapping(data.get("inputs") or {}, f"{source}: inputs", {"warc", "text"})
    text = []
    for i, t in enumerate(inputs.get("text") or []):
        where = f"{source}: inputs.text[{i}]"
        t = _mapping(t, where, {"name", "paths", "split"})
        if not isinstance(t.get("name"), str):
            raise PipelineError(f"{where}: name is required (it names the stage import_text:<name>)")
        text.append(TextInput(t["name"], _strings(t.get("paths"), f"{where}.paths", required=True), t.get("split")))
    warc = _strings(inputs.get("warc"), f"{source}: inputs.warc")
    tokenize = []
    for i, t in enumerate(data.get("tokenize") or []):
        where = f"{source}: tokenize[{i}]"
        t = _mapping(t, where, {"name", "where", "tokenizer", "config", "set"})
        if not isinstance(t.get("name"), str):
            raise PipelineError(f"{where}: name is required (the shard set's name, what mixtures refer to)")
        tokenize.append(
            TokenizeSpec(t["name"], t.get("where"), t.get("tokenizer"), t.get("config"), _strings(t.get("set"), where))
        )
    train = data.get("train")
    if train is not None:
        t = _mapping(train, f"{source}: train", {"config", "set", "dp", "out_dir"})
        train = TrainSpec(
            t.get("config", "conf/train.yaml"),
            _strings(t.get("set"), f"{source}: train.set"),
            int(t.get("dp", 1)),
            t.get("out_dir"),
        )
    cfg = PipelineConfig(
        name=name,
        warc=warc,
        text=tuple(text),
        curate=_stage(data.get("curate"), f"{source}: curate"),
        dedup=None if data.get("dedup") is False else _stage(data.get("dedup"), f"{source}: dedup"),
        classifiers=_strings(data.get("classifiers"), f"{source}: classifiers"),
        classify=_stage(data["classify"], f"{source}: classify") if data.get("classify") is not None else None,
        tokenize=tuple(tokenize),
        mixture=data.get("mixture"),
        train=train,
        report=data.get("report"),
        source=source,
    )
    names = [n for n, _ in cfg.stages()]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PipelineError(f"{source}: stage names must be unique, repeated: {', '.join(dupes)}")
    if cfg.train is not None and not cfg.mixture:
        raise PipelineError(f"{source}: train needs a mixture (the blend it trains on): add `mixture: FILE`")
    if not cfg.stages():
        raise PipelineError(f"{source}: nothing to run: give inputs.warc or inputs.text, or later stages")
    return cfg


def stop_after(cfg: PipelineConfig, stage: str) -> PipelineConfig:
    """``cfg`` without the stages after ``stage`` (``lakeforge run --stop-after``); PipelineError for a stage the
    plan does not have."""
    names = [n for n, _ in cfg.stages()]
    if stage not in names:
        raise PipelineError(f"{stage}: no such stage; stages: {', '.join(names)}")
    keep = set(names[: names.index(stage) + 1])
    return replace(
        cfg,
        warc=cfg.warc if "curate" in keep else (),
        text=tuple(t for t in cfg.text if f"import_text:{t.name}" in keep),
        dedup=cfg.dedup if "dedup" in keep else None,
        classifiers=tuple(c for c in cfg.classifiers if f"train_classifier:{Path(c).stem}" in keep),
        classify=cfg.classify if "classify" in keep else None,
        tokenize=tuple(t for t in cfg.tokenize if f"tokenize:{t.name}" in keep),
        mixture=cfg.mixture if "mix" in keep else None,
        train=cfg.train if "train" in keep else None,
    )


def _mapping(value: Any, where: str, known: set[str]) -> dict:
    if not isinstance(value, dict):
        raise PipelineError(f"{where}: expected a mapping, got {value!r}")
    unknown = sorted(set(value) - known)
    if unknown:
        raise PipelineError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return value


def _strings(value: Any, where: str, required: bool = False) -> tuple[str, ...]:
    if value is None:
        if required:
            raise PipelineError(f"{where}: required (a list of paths)")
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise PipelineError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(str(v) for v in value)


def _stage(value: Any, where: str) -> StageConfig:
    if value is None or value is True:
        return StageConfig()
    if isinstance(value, str):
        return StageConfig(config=value)
    v = _mapping(value, where, {"config", "set"})
    return StageConfig(v.get("config"), _strings(v.get("set"), f"{where}.set"))


def missing_files(cfg: PipelineConfig, exists=os.path.exists) -> list[str]:
    """One line per local file the pipeline names that is not there (checked before any stage runs)."""
    out = []
    src = cfg.source

    def need(path: str | None, key: str, what: str) -> None:
        if path and "://" not in path and not _has_glob(path) and not exists(path):
            out.append(f"{src}: {key}: {path}: no such {what}")

    for i, p in enumerate(cfg.warc):
        need(p, f"inputs.warc[{i}]", "file or folder")
    for i, t in enumerate(cfg.text):
        for j, p in enumerate(t.paths):
            need(p, f"inputs.text[{i}].paths[{j}]", "file")
    for key in ("curate", "dedup", "classify"):
        stage = getattr(cfg, key)
        if stage is not None:
            need(stage.config, f"{key}.config", "config file")
    for i, c in enumerate(cfg.classifiers):
        need(c, f"classifiers[{i}]", "config file")
    for i, t in enumerate(cfg.tokenize):
        need(t.config, f"tokenize[{i}].config", "config file")
        need(t.tokenizer, f"tokenize[{i}].tokenizer", "tokenizer file or folder")
    need(cfg.mixture, "mixture", "mixture file")
    if cfg.train is not None:
        need(cfg.train.config, "train.config", "config file")
    return out


def _has_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


# ------------------------------------------------------------------ content hashes and stage keys
def cached_sha256(path: str | Path, cache: dict | None = None) -> str:
    """sha256 of a file's bytes; ``cache`` (path → [size, mtime_ns, sha]) spares re-reading unchanged files."""
    from curation.classify.model import file_sha256

    p = Path(path)
    st = p.stat()
    key = str(p.resolve())
    if cache is not None:
        hit = cache.get(key)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return hit[2]
    digest = file_sha256(p)
    if cache is not None:
        cache[key] = [st.st_size, st.st_mtime_ns, digest]
    return digest


def content_of(paths: list[str], cache: dict | None = None) -> list[dict]:
    """Input files as ``{"path", "sha256"}`` (folders walked, sorted); remote URIs are named, not hashed."""
    out = []
    for path in paths:
        if "://" in path:
            out.append({"path": path, "sha256": None})
            continue
        p = Path(path)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        out += [{"path": str(f), "sha256": cached_sha256(f, cache)} for f in files]
    return out


def stage_kind(stage: str) -> str:
    """The kind of a stage name: ``import_text:wikitext`` → ``import_text``."""
    return stage.split(":", 1)[0]


def stage_key(stage: str, config_hash: str, inputs: dict) -> str:
    """sha256 of the stage, its resolved settings and its inputs (canonical JSON). Existing lakehouses skip by it:
    the same name, settings hash and inputs must always give the same key."""
    blob = json.dumps({"stage": stage, "config": config_hash, "inputs": inputs}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def settings_hash(data: Any) -> str:
    """sha256 (16 hex) of any JSON-able settings."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ------------------------------------------------------------------ what earlier runs say
@dataclass
class StageRecord:
    """The latest ``runs`` row of one stage key."""

    status: str
    pipeline_run_id: str
    outputs: dict
    config_hash: str | None = None
    job_run_id: str | None = None
    """The job run that produced the outputs (a skipped row repeats its producer's)."""


def decide(stage_key_: str, records: dict[str, StageRecord], outputs_exist) -> tuple[str, StageRecord | None]:
    """``("skip", record)`` when an earlier run finished this key and its outputs are still there, ``("resume",
    record)`` when the last attempt never ended (killed) or failed, else ``("run", None)``."""
    rec = records.get(stage_key_)
    if rec is None:
        return "run", None
    if rec.status in ("succeeded", "skipped"):
        return ("skip", rec) if outputs_exist(rec.outputs) else ("run", rec)
    return "resume", rec


# ------------------------------------------------------------------ rendering
def render_command(subcommand: str, args: list[str]) -> str:
    """``lakeforge <subcommand> <args>``, each argument quoted for a POSIX shell only where it needs it
    (double quotes when they suffice: ``--where "language = 'en'"``)."""
    return " ".join(["lakeforge", subcommand, *(_shell_word(a) for a in args)])


def option(flag: str, value: Any) -> list[str]:
    """``[flag, value]``, or ``[]`` when value is None."""
    return [] if value is None else [flag, str(value)]


def repeated(flag: str, values: Iterable[Any]) -> list[str]:
    """``[flag, v1, flag, v2, ...]``."""
    return [x for v in values for x in (flag, str(v))]


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_")


def _shell_word(word: str) -> str:
    if word and all(c in _SAFE for c in word):
        return word
    if not any(c in word for c in '"\\$`!'):
        return f'"{word}"'
    return shlex.quote(word)


def brief(counts: dict) -> str:
    """A stage's main counts on one line: ``records_in 1,234, kept 1,000, ...``."""
    keys = ("records_in", "kept", "dropped", "errored", "tokens", "model", "iteration", "loss", "val_loss")

    def fmt(v) -> str:
        return f"{v:,}" if isinstance(v, int) else f"{v:.4f}" if isinstance(v, float) else str(v)

    return ", ".join(f"{k} {fmt(counts[k])}" for k in keys if counts.get(k) is not None)
