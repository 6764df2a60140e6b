"""A tokenizer from HF ``tokenizers``, identified by the hash of its files.

Accepted paths: a ``tokenizer.json`` file; a folder holding ``tokenizer.json``; a folder holding GPT-2 style
``vocab.json`` + ``merges.txt`` (byte-level BPE, as GPT-2 and Megatron's ``GPT2BPETokenizer`` use them).

Documents are encoded as plain text: special-token strings that occur *inside* a document (a web page quoting
``<|endoftext|>``) are split like any other text, so a document can never inject an end-of-document or a BOS
token. The end-of-document id is appended by the writer, once per document.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Tokens that conventionally end a document, most common first (GPT-2/NeoX, Llama/T5, Llama 3, Gemma).
EOD_CANDIDATES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "<|eos|>", "<|im_end|>")
DTYPES = {"uint16": np.uint16, "int32": np.int32}
UINT16_CARDINALITY = 1 << 16
"""Ids 0 … 65,535 fit uint16; megatron-core's GPTDatasetConfig reads shards of such a vocabulary as uint16."""


class TokenizerError(ValueError):
    """The tokenizer cannot be used (missing, unreadable, no end-of-document token, vocabulary too large)."""


@dataclass(frozen=True)
class TokenizerFiles:
    """Where a tokenizer lives and the content hash of its files."""

    path: str
    kind: str
    """``tokenizer.json`` or ``gpt2-bpe`` (vocab.json + merges.txt)."""
    files: tuple[str, ...]
    sha256: str
    """sha256 over the files' names and bytes: the same files give the same hash wherever they are."""


def locate(path: str | Path) -> TokenizerFiles:
    """Find the tokenizer files at ``path`` and hash them; a clear error when there are none."""
    p = Path(path)
    if not p.exists():
        raise TokenizerError(f"tokenizer {path}: no such file or folder")
    if p.is_file():
        files, kind = [p], "tokenizer.json"
    elif (p / "tokenizer.json").is_file():
        files, kind = [p / "tokenizer.json"], "tokenizer.json"
    elif (p / "vocab.json").is_file() and (p / "merges.txt").is_file():
        files, kind = [p / "vocab.json", p / "merges.txt"], "gpt2-bpe"
    else:
        raise TokenizerError(
            f"tokenizer {path}: expected a tokenizer.json file, or a folder with tokenizer.json or with "
            "vocab.json + merges.txt"
        )
    h = hashlib.sha256()
    for f in files:
        try:
            data = f.read_bytes()
        except OSError as e:
            raise TokenizerError(f"tokenizer {f}: cannot read ({e.strerror or e})") from None
        h.update(f.name.encode() + b"\0" + hashlib.sha256(data).digest())
    return TokenizerFiles(str(p.resolve()), kind, tuple(str(f.resolve()) for f in files), h.hexdigest())


def load(files: TokenizerFiles):
    """The ``tokenizers.Tokenizer`` the files describe, set to encode special-token strings as plain text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    try:
        if files.kind == "tokenizer.json":
            tok = Tokenizer.from_file(files.files[0])
        else:
            vocab, merges = files.files
            tok = Tokenizer(models.BPE.from_file(vocab, merges))
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
    except Exception as e:  # tokenizers raises plain Exception subclasses for malformed files
        raise TokenizerError(f"tokenizer {files.path}: not a readable {files.kind} tokenizer ({e})") from None
    tok.encode_special_tokens = True
    return tok


def from_json(text: str):
    """A tokenizer from ``Tokenizer.to_str()`` (how executors receive it), set like ``load``."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(text)
    tok.encode_special_tokens = True
    return tok


def cardinality(tok) -> int:
    """One more than the largest token id (ids need not be dense)."""
    vocab = tok.get_vocab(with_added_tokens=True)
    return max(vocab.values()) + 1 if vocab else 0


def eod_id(tok, token: str | None = None) -> int:
    """The id of ``token``, or of the first conventional end-of-document token the vocabulary has."""
    names = (token,) if token else EOD_CANDIDATES
    for name in names:
        i = tok.token_to_id(name)
        if i is not None:
            return int(i)
    if token:
        raise TokenizerError(f"end-of-document token {token!r} is not in the tokenizer's vocabulary")
    raise TokenizerError(
        f"the tokenizer has none of the usual end-of-document tokens {list(EOD_CANDIDATES)}; name one with "
        "--set eod_token=..."
    )


def token_dtype(n_ids: int, requested: str = "auto") -> str:
    """``uint16`` when every id fits it, else ``int32``; an explicit request that cannot hold the ids is an error."""
    if requested not in ("auto", *DTYPES):
        raise TokenizerError(f"dtype {requested!r}: expected auto, uint16 or int32")
    if requested == "auto":
        return "uint16" if n_ids <= UINT16_CARDINALITY else "int32"
    limit = int(np.iinfo(DTYPES[requested]).max) + 1
    if n_ids > limit:
        raise TokenizerError(
            f"vocabulary of {n_ids:,} ids does not fit dtype {requested} (at most {limit:,}); use dtype auto or int32"
        )
    return requested


@dataclass(frozen=True)
class Encoded:
    """A batch of documents as one flat token array: document ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``."""

    tokens: np.ndarray
    offsets: np.ndarray


def encode_documents(tok, texts: list[str], eod: int | None, dtype: str) -> Encoded:
    """Encode ``texts`` (no special tokens added by the post-processor), append ``eod`` to each when given."""
    encs = tok.encode_batch_fast(texts, add_special_tokens=False)
    extra = 0 if eod is None else 1
    lengths = np.fromiter((len(e.ids) + extra for e in encs), dtype=np.int64, count=len(encs))
    offsets = np.zeros(len(encs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.empty(int(offsets[-1]), dtype=DTYPES[dtype])
    for i, e in enumerate(encs):
        start, end = offsets[i], offsets[i + 1]
        flat[start : end - extra] = e.ids
        if extra:
            flat[end - 1] = eod
    return Encoded(flat, offsets)


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
