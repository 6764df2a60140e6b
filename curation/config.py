"""Configuration: small frozen dataclasses, loaded from YAML, hashed for provenance.

Every stage has one dataclass. ``load(cls, path)`` reads YAML and rejects unknown keys with a message
that names them, so a typo never silently falls back to a default. ``config_hash`` is the sha256 of the
canonical JSON of the resolved config: two runs with the same hash were configured identically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

C = TypeVar("C")

MiB = 1 << 20


@dataclass(frozen=True)
class IngestConfig:
    """How WARC files become ``pages`` rows."""

    max_payload_bytes: int = 1 * MiB
    """HTTP bodies are stored up to this many bytes (Common Crawl itself truncates at 1 MiB);
    longer ones are cut and flagged ``payload_truncated``."""
    max_record_bytes: int = 64 * MiB
    """A record whose WARC Content-Length exceeds this is not stored: it goes to ``ingest_errors``
    as ``record_too_large`` and the reader moves on to the next record."""
    max_decompressed_bytes: int = 16 * 1024 * MiB
    """Hard cap on the bytes one file may decompress to; beyond it the file is abandoned as
    ``decompression_limit`` (records before it are kept)."""
    max_compression_ratio: float = 200.0
    """A gzip member expanding more than this (after the first ``max_record_bytes``) is treated as a
    gzip bomb: ``decompression_bomb``. Real WARCs compress 3–10×."""
    html_content_types: tuple[str, ...] = ("text/html", "application/xhtml+xml")
    """HTTP content types that count as HTML. A response with no content type is HTML when its body
    starts like an HTML document."""
    paths_base: str = "https://data.commoncrawl.org/"
    """Prefix that relative entries of a ``warc.paths`` list are resolved against."""
    http_timeout_s: float = 60.0
    """Connect/read timeout for http(s) inputs."""
    http_retries: int = 3
    """Attempts to open an http(s) input before it is quarantined (5xx and network errors only)."""
    reingest: bool = False
    """Read files again even when an earlier run already ingested them (rows are still merged on
    ``doc_id``, so nothing is duplicated)."""

    def __post_init__(self) -> None:
        if self.max_payload_bytes <= 0:
            raise ValueError("max_payload_bytes must be positive")
        if self.max_record_bytes < self.max_payload_bytes:
            raise ValueError("max_record_bytes must be at least max_payload_bytes")
        if self.max_compression_ratio <= 1:
            raise ValueError("max_compression_ratio must be above 1")


@dataclass(frozen=True)
class SparkConfig:
    """How the Spark session is built. Only what lakeforge needs to decide; anything else goes in ``conf``."""

    master: str | None = "local[*]"
    """Spark master URL; None leaves it to the launcher (``spark-submit --master``)."""
    app_name: str = "lakeforge"
    ui: bool = False
    """Start the Spark web UI (off by default: it only costs start-up time in batch jobs)."""
    driver_memory: str = "4g"
    """Driver heap for local sessions (ignored under spark-submit, which has started the JVM already)."""
    shuffle_partitions: int | None = None
    """``spark.sql.shuffle.partitions``; None picks 4 × cores for local masters, Spark's default otherwise."""
    conf: dict[str, str] = field(default_factory=dict)
    """Extra ``spark.*`` settings, applied last."""
    jar_cache: str | None = "~/.cache/lakeforge"
    """Folder where a local session remembers the jar files Ivy resolved for Delta, so later sessions put them on
    the classpath directly (no Ivy resolution: seconds faster and quiet). None: resolve every time. Not used when
    ``conf`` sets any ``spark.jars*`` key."""
    quiet: bool = True
    """The driver logs with lakeforge's ``curation/spark/log4j2.properties``: warnings and errors, without the
    start-up notices every command would repeat. False: Spark's own log4j set-up. Only for a JVM this session starts
    (set in ``spark.driver.defaultJavaOptions``; a ``conf`` value for that key wins)."""
    quick_jit: bool = False
    """Start the driver JVM with the client JIT only (``-XX:TieredStopAtLevel=1``). A fresh JVM spends much of a
    short command compiling Spark's and Delta's start-up code: a query over a small local lakehouse finishes about
    a quarter sooner. Long local queries (tens of seconds of work) are faster with the full JIT. Only for a JVM
    this session starts (set as ``spark.driver.defaultJavaOptions``; a ``conf`` value for that key wins)."""
    class_archive: bool = True
    """A local session's driver JVM maps the class-data archive ``lakeforge warm`` wrote into the ``jar_cache``
    folder (the JDK's AppCDS: about 200 MB, one per java build and Spark/Delta version), when there is one: a short
    command starts seconds sooner (``lakeforge sql`` on a small lakehouse: 11.6 s → 7.5 s). Without the archive, or
    with one the JVM cannot use, the JVM starts as usual. Only for a JVM this session starts (set in
    ``spark.driver.defaultJavaOptions``; a ``conf`` value for that key wins)."""
    object_store: bool = False
    """Put hadoop-aws (``s3a://``) and its AWS SDK on the classpath, for a lakehouse or inputs in object storage.
    Off by default: the SDK bundle is large and a local lakehouse never needs it."""


@dataclass(frozen=True)
class LakehouseConfig:
    """Where tables live and what the catalog calls them."""

    root: str = "lakehouse"
    """Folder (or URI) holding every table: ``<root>/<database>/<table>``."""
    database: str = "lakeforge"
    """Catalog database the tables are registered in (``lakeforge.pages``)."""


def load(cls: type[C], source: str | Path | dict | None = None, **overrides: Any) -> C:
    """Build ``cls`` from a YAML file, a dict, or nothing (defaults), then apply ``overrides``.

    Raises ValueError naming any key ``cls`` does not have.
    """
    data = dict(source) if isinstance(source, dict) else read_settings(source)
    data.update({k: v for k, v in overrides.items() if v is not None})
    return _build(cls, data, cls.__name__)


def _renamed(cls: type, data: dict[str, Any], where: str) -> dict[str, Any]:
    """``data`` with the keys ``cls.RENAMED_SETTINGS`` names old (old → new) under their new names; each old key
    logs one deprecation line; old and new together is an error."""
    renamed = getattr(cls, "RENAMED_SETTINGS", {})
    if not renamed or not set(renamed) & set(data):
        return data
    out = dict(data)
    for old, new in renamed.items():
        if old in out:
            if new in out:
                raise ValueError(f"{where}: {old} is the old name of {new}; give only {new}")
            out[new] = out.pop(old)
            logging.getLogger("lakeforge.config").warning(
                "lakeforge: warning: %s.%s is deprecated: it is called %s now (same value)", where, old, new
            )
    return out


def _build(cls: type[C], data: dict[str, Any], where: str) -> C:
    """``cls(**data)`` with nested sections built recursively and YAML lists turned into tuples."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    data = _renamed(cls, data, where)
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}")
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for name, value in data.items():
        sub = hints.get(name)
        if dataclasses.is_dataclass(sub) and isinstance(sub, type):
            if isinstance(value, sub):
                out[name] = value
            elif isinstance(value, dict):
                out[name] = _build(sub, value, f"{where}.{name}")
            else:
                raise ValueError(f"{where}.{name}: expected a mapping of settings, got {value!r}")
        else:
            out[name] = _tuples(value)
    try:
        return cls(**out)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {e}") from e


def _tuples(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_tuples(v) for v in value)
    return value


def set_path(data: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one ``section.key=value`` override (the value parsed as YAML) to a nested settings dict."""
    import yaml

    path, sep, raw = assignment.partition("=")
    if not sep or not path.strip():
        raise ValueError(f"--set expects section.key=value, got {assignment!r}")
    keys = path.strip().split(".")
    node = data
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {assignment!r}: {key} is not a section")
    node[keys[-1]] = yaml.safe_load(raw)
    return data


def load_settings(cls: type[C], source: str | Path | None = None, assignments: Iterable[str] = ()) -> C:
    """``cls`` from a YAML file (or its defaults when ``source`` is None) with ``section.key=value`` overrides."""
    settings = read_settings(source)
    for assignment in assignments:
        set_path(settings, assignment)
    return load(cls, settings)


def read_settings(source: str | Path | None) -> dict[str, Any]:
    """The mapping a YAML config file holds ({} for None)."""
    if source is None:
        return {}
    import yaml

    path = Path(source)
    if not path.is_file():
        raise ValueError(f"config file not found: {path}")
    loaded = yaml.safe_load(path.read_text()) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"config file {path} must hold a mapping, not {type(loaded).__name__}")
    return loaded


def to_dict(cfg: Any) -> dict[str, Any]:
    """The resolved config as plain JSON-able data."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def config_hash(*cfgs: Any) -> str:
    """sha256 (first 16 hex) of the canonical JSON of one or more resolved configs."""
    blob = json.dumps([to_dict(c) for c in cfgs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
