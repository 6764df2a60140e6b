"""A pinned blend (``lakeforge mix``'s JSON) → Megatron-Core GPT datasets.

``build_datasets`` is what training uses: ``BlendedMegatronDatasetBuilder`` over ``GPTDataset`` with the blend's
prefixes and weights, its split, sequence length and seed. The prefixes must be local files: a blend whose
shards are in object storage is staged first (``training.shard_cache.stage_blend``, what ``lakeforge train`` does).
``check_blend`` is ``lakeforge mix --check``: it builds the same datasets, reads samples, and measures which
component each of the first N training samples came from.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def load_blend(path_or_doc) -> dict:
    if isinstance(path_or_doc, dict):
        return path_or_doc
    p = Path(path_or_doc)
    if not p.is_file():
        raise ValueError(f"blend {path_or_doc}: no such file (write one with lakeforge mix)")
    doc = json.loads(p.read_text())
    if doc.get("format") != "lakeforge-blend/1":
        raise ValueError(f"blend {path_or_doc}: not a lakeforge blend (format {doc.get('format')!r})")
    return doc


def _quiet_import() -> None:
    """Import megatron-core without its warnings that Transformer Engine and Apex are absent (expected here)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Transformer Engine and Apex are not installed.*")
        import megatron.core.datasets.blended_megatron_dataset_builder  # noqa: F401
        import megatron.core.optimizer  # noqa: F401


def _tokenizer_class():
    _quiet_import()
    from megatron.core.tokenizers import MegatronTokenizerBase

    class BlendTokenizer(MegatronTokenizerBase):
        """What GPTDataset asks of a tokenizer: the vocabulary size and the end-of-document id. Text is encoded by
        ``lakeforge tokenize``, never here; ``detokenize`` uses the HF tokenizer when its path is at hand."""

        def __init__(self, vocab_size: int, eod: int | None, path: str | None = None, sha256: str | None = None):
            super().__init__(path or "", {})
            self._vocab_size, self._eod, self._hf = vocab_size, eod, None
            # megatron hashes this into each dataset's description (and cache key)
            self.unique_identifiers = {
                "class": "BlendTokenizer",
                "sha256": sha256,
                "vocab_size": vocab_size,
                "eod": eod,
            }

        @property
        def vocab_size(self) -> int:
            return self._vocab_size

        @property
        def eod(self) -> int:
            return -1 if self._eod is None else self._eod

        def vocab(self):
            return None

        def tokenize(self, text: str):
            raise NotImplementedError("blends hold pre-tokenized shards; tokenize with lakeforge tokenize")

        def detokenize(self, ids) -> str:
            if self._hf is None:
                from curation.tokenize.tokenizer import load, locate

                self._hf = load(locate(self.path))
            return self._hf.decode([int(i) for i in ids], skip_special_tokens=False)

        def apply_chat_template(self):
            raise NotImplementedError

    return BlendTokenizer


def dataset_config(blend: dict, **overrides):
    """``GPTDatasetConfig`` for a pinned blend (``path_to_cache=None``: index arrays are built in memory)."""
    from megatron.core.datasets.gpt_dataset import GPTDatasetConfig

    tok = blend["tokenizer"]
    kwargs = dict(
        random_seed=int(blend["seed"]),
        sequence_length=int(blend["seq_length"]),
        blend=(list(blend["blend"]["prefixes"]), list(blend["blend"]["weights"])),
        split=blend["split"],
        path_to_cache=None,
        tokenizer=_tokenizer_class()(int(tok["vocab_size"]), tok.get("eod_id"), tok.get("path"), tok.get("sha256")),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        create_attention_mask=False,
    )
    kwargs.update(overrides)
    return GPTDatasetConfig(**kwargs)


def build_datasets(blend: dict, samples: tuple[int, int, int], **overrides):
    """(train, valid, test) ``BlendedDataset``s of ``samples`` samples each (None where the split is empty)."""
    _quiet_import()
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset

    from curation.storage import is_remote
    from curation.tokenize.indexed import read_index
    from curation.tokenize.mixture import split_documents

    remote = [p for p in blend["blend"]["prefixes"] if is_remote(p)]
    if remote:
        raise ValueError(
            f"blend {blend.get('name')}: {len(remote)} shard(s) are in object storage, e.g. {remote[0]}: stage them "
            "into a local cache first (lakeforge train does; lakeforge train --stage-only on each node)"
        )
    missing = [p for p in blend["blend"]["prefixes"] if not Path(p + ".idx").is_file()]
    if missing:
        raise ValueError(f"blend {blend.get('name')}: {len(missing)} shard(s) are missing, e.g. {missing[0]}.idx")
    for prefix in blend["blend"]["prefixes"]:  # megatron-core loops forever on a split without documents
        docs = len(read_index(prefix).lengths)
        if 0 in split_documents(docs, blend["split"]):
            raise ValueError(f"shard {prefix} ({docs} documents) leaves a split of {blend['split']!r} empty")
    config = dataset_config(blend, **overrides)
    # megatron logs every index it builds (and that it keeps them in memory); callers print their own summary.
    logging.getLogger("megatron.core.datasets").setLevel(logging.ERROR)
    return BlendedMegatronDatasetBuilder(GPTDataset, list(samples), lambda: True, config).build()


@dataclass(frozen=True)
class Share:
    component: str
    weight: float
    realized: float

    @property
    def error(self) -> float:
        return abs(self.realized - self.weight)


@dataclass(frozen=True)
class CheckResult:
    samples: int
    shares: tuple[Share, ...]
    sample_tokens: int
    """Tokens per sample read back (seq_length + 1 with Megatron's extra token)."""
    tolerance: float

    @property
    def ok(self) -> bool:
        return all(s.error <= self.tolerance for s in self.shares)


def realized_shares(blend: dict, train) -> tuple[Share, ...]:
    """Which component each training sample comes from, as shares of the samples, next to the weights.

    ``BlendedDataset.dataset_index[i]`` is the blend entry (prefix) of sample i; prefixes map to components.
    """
    n = len(train)
    comp_of_prefix = [c["name"] for c in blend["components"] for _ in c["prefixes"]]
    counts: dict[str, int] = {c["name"]: 0 for c in blend["components"]}
    per_prefix = np.bincount(np.asarray(train.dataset_index[:n]), minlength=len(comp_of_prefix))
    for i, k in enumerate(per_prefix):
        counts[comp_of_prefix[i]] += int(k)
    return tuple(Share(c["name"], float(c["weight"]), counts[c["name"]] / n) for c in blend["components"])


def check_blend(blend: dict, samples: int = 10_000, tolerance: float = 0.01, read: int = 64) -> CheckResult:
    """Build the blend's GPT datasets as training would, read ``read`` samples through the whole stack, and
    measure the realized component shares over ``samples`` training samples."""
    train, _, _ = build_datasets(blend, (samples, 0, 0))
    if train is None or len(train) < samples:
        raise ValueError(f"blend {blend.get('name')}: could not build {samples} training samples")
    step = max(1, len(train) // read)
    width = None
    vocab = int(blend["tokenizer"]["vocab_size"])
    for i in range(0, len(train), step)[:read]:
        item = train[i]
        tokens = item["tokens"]
        width = int(tokens.shape[0])
        if int(tokens.max()) >= vocab or int(tokens.min()) < 0:
            raise ValueError(f"sample {i} holds token ids outside the vocabulary (0 … {vocab - 1})")
    return CheckResult(samples, realized_shares(blend, train), width or 0, tolerance)
