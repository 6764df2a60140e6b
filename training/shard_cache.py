"""A blend's shards on the GPU node: staged from object storage into a local cache, checked, and exported for
Megatron-LM.

``lakeforge mix`` pins a blend whose prefixes are where ``lakeforge tokenize`` wrote the shards: a local folder, or
``s3a://`` keys when the lakehouse is in object storage. Each component carries its shard files with the sha256 and
size its ``token_shards`` row records. :func:`stage_blend` makes a blend a trainer can memory-map:

* every remote file is downloaded once per cache folder (one per node): the stager holds an exclusive lock on
  ``<cache>/.lock``, so other ranks or processes on the node wait and then find the files there;
* a download goes to a temporary name beside its target and is checked (size, sha256) before it is renamed into
  place: a bad checksum is a one-line :class:`~curation.storage.StoreError` naming the file, and nothing wrong
  stays in the cache;
* resumable: a file already in the cache with the recorded hash is not downloaded again (a ``.<name>.ok`` marker
  with its size, mtime and hash spares re-hashing it on every start);
* the staged blend (same ``mixture_id``, the same components and shard sets, local prefixes) is written to
  ``<cache>/blends/<mixture_id>.json``; training reads that, so the checkpoint's lineage is unchanged.

:func:`export_megatron` writes the same shards (checked the same way) and Megatron-LM's ``--data-path`` list to a
folder: ``pretrain_gpt.py --data-path $(cat DIR/data-path.txt) --split $(cat DIR/split.txt)``.

Pure Python (curation.storage, fcntl); no Spark, no torch. Callers pass the S3 settings in.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from curation.storage import S3Settings, StoreError, is_remote, open_store, sha256_file

DEFAULT_CACHE = "~/.cache/lakeforge/shards"


@dataclass
class StageReport:
    """What staging did: ``downloaded`` files (and bytes) fetched now, ``present`` found in the cache already."""

    cache_dir: str
    blend_path: str
    files: int = 0
    downloaded: int = 0
    downloaded_bytes: int = 0
    present: int = 0
    waited_s: float = 0.0
    seconds: float = 0.0
    downloads: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def remote_prefixes(blend: dict) -> list[str]:
    return [p for p in blend["blend"]["prefixes"] if is_remote(p)]


def _files(blend: dict, component: dict) -> list[dict]:
    files = component.get("files")
    if files is None:
        raise StoreError(
            "no_checksums",
            f"blend {blend.get('name')}: shard set {component.get('shard_set_name')}/{component.get('shard_set_id')} "
            "has no recorded checksums (tokenized by an older lakeforge): tokenize it again and pin the mixture again",
        )
    return files


@contextmanager
def _locked(path: Path):
    """An exclusive ``flock`` on ``path`` (blocking: the other stagers on this node wait here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        t0 = time.perf_counter()
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield time.perf_counter() - t0
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _marker(local: Path) -> Path:
    return local.with_name(f".{local.name}.ok")


def _verified(local: Path, sha256: str, size: int) -> bool:
    """``local`` holds the recorded bytes: its marker says so for this size and mtime, or hashing it does."""
    try:
        st = local.stat()
    except FileNotFoundError:
        return False
    if st.st_size != size:
        return False
    marker = _marker(local)
    stamp = f"{sha256} {size} {st.st_mtime_ns}\n"
    if marker.is_file() and marker.read_text() == stamp:
        return True
    if sha256_file(local) != sha256:
        return False
    marker.write_text(stamp)
    return True


def fetch_file(store, uri: str, local: Path, sha256: str, size: int) -> bool:
    """Make ``local`` a checked copy of ``uri``; True when it was downloaded now, False when already there.

    The download goes to a temporary name and is checked before the rename: a wrong size or hash raises a one-line
    :class:`StoreError` naming the object, and leaves the cache as it was."""
    if _verified(local, sha256, size):
        return False
    local.parent.mkdir(parents=True, exist_ok=True)
    part = local.with_name(f".{local.name}.{os.getpid()}.part")
    try:
        store.download(uri, part)  # itself through a temporary name: ``part`` is whole or absent
        got_size = part.stat().st_size
        got = sha256_file(part)
        if got_size != size or got != sha256:
            raise StoreError(
                "bad_checksum",
                f"shard file {uri}: sha256 {got[:16]}… ({got_size} bytes) does not match the {sha256[:16]}… "
                f"({size} bytes) its token_shards row records: the object is damaged or was replaced; "
                "tokenize the set again",
            )
        os.replace(part, local)
    finally:
        part.unlink(missing_ok=True)
    _marker(local).write_text(f"{sha256} {size} {local.stat().st_mtime_ns}\n")
    return True


def _local_prefix(cache: Path, component: dict, prefix: str) -> Path:
    return cache / component["shard_set_id"] / prefix.rsplit("/", 1)[-1]


def _copy_component_files(
    blend: dict,
    component: dict,
    dest: Callable[[str], Path],
    settings: S3Settings | None,
    report: StageReport,
    only_remote: bool,
) -> dict[str, str]:
    """Fetch the component's files to ``dest(prefix)``; returns prefix → local prefix."""
    mapping: dict[str, str] = {}
    prefixes = [p for p in component["prefixes"] if is_remote(p) or not only_remote]
    if not prefixes:
        return mapping
    files = {f["path"]: f for f in _files(blend, component)} if (only_remote or component.get("files")) else {}
    store = open_store(prefixes[0], settings)
    for prefix in prefixes:
        local = dest(prefix)
        mapping[prefix] = str(local)
        for suffix in (".bin", ".idx"):
            uri, target = prefix + suffix, Path(str(local) + suffix)
            report.files += 1
            rec = files.get(uri)
            if rec is None:  # a local set without recorded hashes (export only): copied as it is
                if not target.is_file():
                    store.download(uri, target)
                    report.downloaded += 1
                    report.downloaded_bytes += target.stat().st_size
                else:
                    report.present += 1
                continue
            if fetch_file(store, uri, target, rec["sha256"], int(rec["bytes"])):
                report.downloaded += 1
                report.downloaded_bytes += int(rec["bytes"])
                report.downloads.append(uri)
            else:
                report.present += 1
    return mapping


def _relocated(blend: dict, mapping: dict[str, str], **extra) -> dict:
    """The blend with its prefixes (and file paths) replaced by ``mapping``; identity (mixture_id) unchanged."""
    from curation.tokenize.mixture import blend_id

    doc = copy.deepcopy(blend)
    doc["mixture_id"] = blend.get("mixture_id") or blend_id(blend)

    def local(p: str) -> str:
        return mapping.get(p, p)

    doc["blend"]["prefixes"] = [local(p) for p in doc["blend"]["prefixes"]]
    for c in doc["components"]:
        c["prefixes"] = [local(p) for p in c["prefixes"]]
        for f in c.get("files") or []:
            stem, dot, suffix = f["path"].rpartition(".")
            f["path"] = local(stem) + dot + suffix
    doc.update(extra)
    return doc


def _write_json(path: Path, doc: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def stage_blend(
    blend: dict,
    cache_dir: str | Path,
    settings: S3Settings | None = None,
    source: str | None = None,
    force_write: bool = False,
) -> tuple[dict, StageReport]:
    """Download the blend's remote shards into ``cache_dir`` (once per cache, under its lock), check them, and
    return the staged blend (local prefixes, written to ``<cache>/blends/<mixture_id>.json``) and what was done.
    A blend whose shards are all local is returned as it is (and written there too with ``force_write``)."""
    t0 = time.perf_counter()
    cache = Path(cache_dir).expanduser().resolve()
    report = StageReport(cache_dir=str(cache), blend_path=source or "")
    if not remote_prefixes(blend) and not force_write:
        report.seconds = round(time.perf_counter() - t0, 3)
        return blend, report
    with _locked(cache / ".lock") as waited:
        report.waited_s = round(waited, 3)
        mapping: dict[str, str] = {}
        for c in blend["components"]:
            mapping |= _copy_component_files(
                blend, c, lambda p, c=c: _local_prefix(cache, c, p), settings, report, only_remote=True
            )
        doc = _relocated(blend, mapping, staged_from=source or blend.get("path"))
        path = cache / "blends" / f"{doc['mixture_id']}.json"
        _write_json(path, doc)
    report.blend_path = str(path)
    report.seconds = round(time.perf_counter() - t0, 3)
    return doc, report


def data_path(blend: dict) -> list[str]:
    """Megatron-LM's ``--data-path`` list for a blend: ``weight prefix weight prefix …``."""
    pairs = zip(blend["blend"]["weights"], blend["blend"]["prefixes"], strict=True)
    return [x for w, p in pairs for x in (repr(float(w)), p)]


def export_megatron(blend: dict, out_dir: str | Path, settings: S3Settings | None = None) -> dict:
    """Write the blend's shards (checked against their recorded hashes) to ``out_dir/<component>/`` and the lists
    an unmodified Megatron-LM ``pretrain_gpt.py`` takes: ``data-path.txt`` (``w1 prefix1 w2 prefix2 …``),
    ``split.txt`` (``--split``) and ``megatron-args.txt`` (those with ``--seq-length`` and ``--seed``), plus
    ``blend.json`` (the blend with the exported prefixes, which ``lakeforge train`` also takes)."""
    out = Path(out_dir).expanduser().resolve()
    report = StageReport(cache_dir=str(out), blend_path=str(out / "blend.json"))
    mapping: dict[str, str] = {}
    for c in blend["components"]:
        mapping |= _copy_component_files(
            blend, c, lambda p, c=c: out / c["name"] / p.rsplit("/", 1)[-1], settings, report, only_remote=False
        )
    doc = _relocated(blend, mapping, exported_from=blend.get("path"))
    args = data_path(doc)
    (out / "data-path.txt").write_text(" ".join(args) + "\n")
    (out / "split.txt").write_text(str(doc["split"]) + "\n")
    megatron_args = ["--data-path", *args, "--split", str(doc["split"])]
    megatron_args += ["--seq-length", str(doc["seq_length"]), "--seed", str(doc["seed"])]
    (out / "megatron-args.txt").write_text(" ".join(megatron_args) + "\n")
    _write_json(out / "blend.json", doc)
    return {
        "dir": str(out),
        "data_path": str(out / "data-path.txt"),
        "split": doc["split"],
        "prefixes": len(doc["blend"]["prefixes"]),
        "files": report.files,
        "copied": report.downloaded,
        "copied_bytes": report.downloaded_bytes,
        "present": report.present,
    }
