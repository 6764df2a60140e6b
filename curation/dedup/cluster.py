"""The dedup algorithm on plain Python objects: the reference the Spark job must match row for row.

Steps (``lakeforge dedup`` does the same with DataFrames, :mod:`curation.spark.dedup`):

1. **Exact**: documents with equal :func:`~curation.dedup.text.text_hash` are exact duplicates; each copy is linked
   to the copy with the smallest ``doc_id`` (its representative). Only representatives go through LSH: the copies'
   signatures are identical anyway.
2. **Candidates**: per band, documents with equal band keys share a bucket; each member is linked to the bucket's
   smallest ``doc_id`` (star edges: linear in the bucket size, not quadratic).
3. **Verification** (optional): a candidate edge is kept when the true Jaccard of the two shingle sets is at least
   the threshold.
4. **Components**: documents connected by exact or verified edges form a cluster (union-find here, large-star /
   small-star on Spark).
5. **Survivors, in rounds**: the best member of a component (survivor of an earlier run first, then the configured
   order, then the smallest ``doc_id``) survives; every member whose true Jaccard with it reaches the threshold (and
   every exact copy) becomes its duplicate: ``dup_of`` = the survivor, ``dup_similarity`` = that Jaccard,
   ``dup_exact`` = equal normalized text. Members left over (linked only through a chain: A ~ B ~ C with A !~ C) go
   to the next round among themselves. So a document is only ever dropped for a kept document it is itself at
   least ``threshold`` similar to. ``dup_cluster_id`` is the survivor's ``doc_id``, on every member; a survivor
   that took no one is unique. Without verification, every member is taken in the first round.

Incremental runs: documents deduplicated by an earlier run that are still kept (its survivors and unique documents)
take part as *prior* documents: edges between two prior documents are ignored (they were settled before), a cluster
with prior documents keeps the best of them as survivor, and prior documents are never reassigned.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from curation.dedup.config import DedupConfig, OrderKey
from curation.dedup.lsh import band_keys
from curation.dedup.minhash import MinHasher
from curation.dedup.text import jaccard, normalize, shingle_set, text_hash


@dataclass(frozen=True)
class Assignment:
    """The dedup columns of one document."""

    dup_cluster_id: str | None
    dup_of: str | None
    dup_similarity: float | None
    dup_exact: bool | None


UNIQUE = Assignment(None, None, None, None)


def star_edges(doc_ids: Sequence[str], keys: np.ndarray) -> set[tuple[str, str]]:
    """Star edges ``(member, smallest member)`` of every bucket of every band; ``keys``: (docs, bands) band keys."""
    edges: set[tuple[str, str]] = set()
    for j in range(keys.shape[1]):
        smallest: dict[int, str] = {}
        members: dict[int, list[str]] = {}
        for doc_id, key in zip(doc_ids, keys[:, j].tolist(), strict=True):
            members.setdefault(key, []).append(doc_id)
            if key not in smallest or doc_id < smallest[key]:
                smallest[key] = doc_id
        for key, ids in members.items():
            edges.update((d, smallest[key]) for d in ids if d != smallest[key])
    return edges


def components(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Node → smallest node of its connected component (union-find)."""
    parent = {n: n for n in nodes}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {n: find(n) for n in parent}


def _compare(a: Mapping[str, Any], b: Mapping[str, Any], order: Sequence[OrderKey]) -> int:
    """Spark ``ORDER BY`` semantics for one term at a time, then ``doc_id``."""
    if bool(a.get("prior")) != bool(b.get("prior")):
        return -1 if a.get("prior") else 1
    for key in order:
        x, y = a.get(key.column), b.get(key.column)
        if x == y:
            continue
        if x is None or y is None:
            return (-1 if x is None else 1) * (1 if key.nulls_go_first else -1)
        less = x < y
        return (-1 if less else 1) * (-1 if key.descending else 1)
    return -1 if a["doc_id"] < b["doc_id"] else (1 if a["doc_id"] > b["doc_id"] else 0)


def best(members: Sequence[Mapping[str, Any]], order: Sequence[OrderKey]) -> Mapping[str, Any]:
    """The survivor among ``members`` (rows with ``doc_id``, the order columns and ``prior``)."""
    return min(members, key=functools.cmp_to_key(lambda a, b: _compare(a, b, order)))


def deduplicate(
    docs: Sequence[Mapping[str, Any]], cfg: DedupConfig, prior: Iterable[str] = ()
) -> dict[str, Assignment]:
    """Dedup columns for every document in ``docs`` (rows with ``doc_id``, ``text`` and the survivor-order columns).
    ``prior``: doc_ids deduplicated by an earlier run (they are never reassigned and not returned)."""
    prior = set(prior)
    rows = {d["doc_id"]: {**d, "prior": d["doc_id"] in prior} for d in docs}
    if len(rows) != len(docs):
        raise ValueError("doc_id must be unique")
    normalized = {i: normalize(r.get("text")) for i, r in rows.items()}
    hashes = {i: text_hash(n) for i, n in normalized.items()}

    edges: set[tuple[str, str]] = set()
    exact_rep: dict[str, str] = {}
    if cfg.exact:
        for i, h in hashes.items():
            if h not in exact_rep or i < exact_rep[h]:
                exact_rep[h] = i
        edges |= {(i, exact_rep[h]) for i, h in hashes.items() if i != exact_rep[h]}
        reps = sorted(set(exact_rep.values()))
    else:
        reps = sorted(rows)
    reps = [i for i in reps if normalized[i]]  # an empty text has no shingles: it only has exact duplicates

    if cfg.near and reps:
        band = cfg.banding
        sig = MinHasher(cfg.num_perm, cfg.seed, cfg.ngram).signatures_of_normalized([normalized[i] for i in reps])
        candidates = star_edges(reps, band_keys(sig, band.bands, band.rows))
        shingles = {}
        for a, b in sorted(candidates):
            if a in prior and b in prior:
                continue
            if cfg.verify:
                for i in (a, b):
                    if i not in shingles:
                        shingles[i] = shingle_set(rows[i].get("text"), cfg.ngram)
                if jaccard(shingles[a], shingles[b]) < cfg.threshold:
                    continue
            edges.add((a, b))
    edges = {(a, b) for a, b in edges if not (a in prior and b in prior)}

    label = components(rows, edges)
    clusters: dict[str, list[dict]] = {}
    for i, c in label.items():
        clusters.setdefault(c, []).append({**rows[i], "text_hash": hashes[i]})
    out: dict[str, Assignment] = {}
    for members in clusters.values():
        if len(members) == 1:
            if not members[0]["prior"]:
                out[members[0]["doc_id"]] = UNIQUE
            continue
        out |= survivor_rounds(members, cfg)
    return out


def survivor_rounds(members: Sequence[Mapping[str, Any]], cfg: DedupConfig) -> dict[str, Assignment]:
    """Survivors of one connected component, in rounds (step 5 of the module docstring).

    ``members``: rows with ``doc_id``, ``text_hash``, ``prior``, the survivor-order columns and ``text``; ``text``
    may be None on all but one member of each ``text_hash`` (exact copies share their shingles), so a component of
    a million copies of one page carries one text. Returns the assignment of every member, except prior members
    that took no duplicate (they stay as they were)."""
    texts: dict[str, str] = {}
    for m in members:
        if m.get("text") is not None:
            texts.setdefault(m["text_hash"], m["text"])
    shingles: dict[str, set[bytes]] = {}

    def shingles_of(h: str) -> set[bytes]:
        if h not in shingles:
            shingles[h] = shingle_set(texts.get(h), cfg.ngram)
        return shingles[h]

    order = cfg.order
    out: dict[str, Assignment] = {}
    left = list(members)
    while left:
        head = best(left, order)
        survivor, s_hash = head["doc_id"], head["text_hash"]
        taken = {survivor}
        for m in left:
            i = m["doc_id"]
            if i == survivor or m["prior"]:
                continue
            exact = m["text_hash"] == s_hash
            sim = 1.0 if exact else jaccard(shingles_of(m["text_hash"]), shingles_of(s_hash))
            if exact or sim >= cfg.threshold or not cfg.verify:
                out[i] = Assignment(survivor, survivor, sim, exact)
                taken.add(i)
        if len(taken) > 1:
            out[survivor] = Assignment(survivor, None, None, None)
        elif not head["prior"]:
            out[survivor] = UNIQUE
        left = [m for m in left if m["doc_id"] not in taken]
    return out
