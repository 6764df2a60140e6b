"""Turning what a user typed (files, folders, globs, warc.paths lists, URLs) into a list of WARC URIs."""

from __future__ import annotations

import glob
import gzip
import io
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from curation.warc.streams import StreamFault, open_source

WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".warc.wet.gz", ".warc.wat.gz")
REMOTE = ("http://", "https://", "s3://")


@dataclass(frozen=True)
class Source:
    """One input file: its URI and, for local files, its size (None when unknown)."""

    uri: str
    size: int | None = None


def is_paths_list(name: str) -> bool:
    return name.endswith((".paths", ".paths.gz"))


def _is_warc_name(name: str) -> bool:
    return name.endswith(WARC_SUFFIXES)


def _local(path: str) -> Source:
    p = Path(path).resolve()
    try:
        size = p.stat().st_size
    except OSError:
        size = None
    return Source(str(p), size)


def read_paths_list(uri: str, base: str, *, timeout_s: float = 60.0, retries: int = 3) -> list[str]:
    """Entries of a Common Crawl ``warc.paths[.gz]`` list, each resolved against ``base``.

    Blank lines and ``#`` comments are ignored; entries that are already URIs or absolute paths are kept.
    """
    with open_source(uri, timeout_s=timeout_s, retries=retries) as raw:
        data = raw.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.GzipFile(fileobj=io.BytesIO(data)).read()
        except (OSError, EOFError) as e:
            raise StreamFault("corrupt_gzip", f"{uri}: {e}") from None
    base = base if base.endswith("/") else base + "/"
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if entry.startswith(REMOTE) or entry.startswith("/") or entry.startswith("file://"):
            out.append(entry)
        else:
            out.append(urljoin(base, entry))
    return out


def resolve_inputs(inputs: list[str], paths_base: str, *, timeout_s: float = 60.0, retries: int = 3) -> list[Source]:
    """Expand inputs into an ordered, de-duplicated list of sources.

    - local file: itself (a path that does not exist is kept: reading it yields an ``input_not_found`` row)
    - directory: every WARC/ARC file below it (``*.warc``, ``*.warc.gz``, ``*.arc[.gz]``, WET/WAT), sorted
    - glob pattern: the files it matches, sorted
    - ``*.paths`` / ``*.paths.gz`` (local or remote): its entries, resolved against ``paths_base``
    - ``http(s)://`` / ``s3://``: kept as is

    Raises ValueError when a directory or glob yields no WARC file, or a paths list cannot be read:
    those are mistakes in the command, not bad data.
    """
    out: list[Source] = []
    for item in inputs:
        item = item.strip()
        if not item:
            continue
        if is_paths_list(item):
            try:
                entries = read_paths_list(item, paths_base, timeout_s=timeout_s, retries=retries)
            except StreamFault as e:
                raise ValueError(f"cannot read paths list {item}: {e.message}") from None
            out.extend(Source(e) if e.startswith(REMOTE) else _local(e.removeprefix("file://")) for e in entries)
        elif item.startswith(REMOTE):
            out.append(Source(item))
        elif os.path.isdir(item):
            found = sorted(os.path.join(d, f) for d, _, files in os.walk(item) for f in files if _is_warc_name(f))
            if not found:
                raise ValueError(f"no WARC files (*.warc, *.warc.gz, *.arc.gz, …) under directory {item}")
            out.extend(_local(f) for f in found)
        elif glob.has_magic(item):
            found = sorted(f for f in glob.glob(item, recursive=True) if os.path.isfile(f))
            if not found:
                raise ValueError(f"the pattern {item} matches no file")
            out.extend(_local(f) for f in found)
        else:
            out.append(_local(item.removeprefix("file://")))
    seen: set[str] = set()
    unique = []
    for s in out:
        if s.uri not in seen:
            seen.add(s.uri)
            unique.append(s)
    return unique
