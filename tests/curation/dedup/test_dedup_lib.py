"""The dedup library on real text: normalization, shingles, datasketch-equal signatures, banding, the clustering."""

from __future__ import annotations

import hashlib
import random
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from curation.config import load, read_settings, to_dict
from curation.dedup.cluster import UNIQUE, components, deduplicate, star_edges
from curation.dedup.config import DedupConfig, OrderKey
from curation.dedup.lsh import band_keys, banding, detection_probability, optimal_bands
from curation.dedup.minhash import EMPTY, MinHasher, estimated_jaccard, sha1_hash32
from curation.dedup.text import jaccard, normalize, shingle_set, shingle_spans, shingles, text_hash, words

ROOT = Path(__file__).resolve().parents[3]


def _articles(shared_data: Path, n: int = 40, min_chars: int = 1500) -> list[str]:
    text = (shared_data / "corpora" / "wikitext2_partial" / "valid.txt").read_text(encoding="utf-8")
    return [a for a in text.split("\n = ") if len(a) >= min_chars][:n]


def _multilingual(shared_data: Path) -> list[str]:
    folder = shared_data / "langid" / "sentences"
    out = []
    for code in ("de", "ru", "ar", "hi", "zh", "ja", "th", "ko", "el"):
        path = folder / f"{code}.txt"
        if path.exists():
            out.append(" ".join(path.read_text(encoding="utf-8").splitlines()[:40]))
    return out


# ------------------------------------------------------------------------------------------------ normalization
def test_normalize_folds_case_punctuation_space_and_compatibility_forms():
    assert normalize("Hello,   World!\n\tThis — is   it…") == "hello world this is it"
    assert normalize("ＡＢＣ１２３") == "abc123"  # full-width → ASCII (NFKC)
    assert normalize("Straße") == normalize("STRASSE")
    assert normalize("snake_case-word") == "snake case word"
    assert normalize("") == "" and normalize(None) == "" and normalize(" ,.;! ") == ""


def test_normalize_keeps_marks_and_splits_scripts_without_spaces():
    assert normalize("नमस्ते दुनिया") == "नमस्ते दुनिया"  # combining vowel signs stay inside the word
    assert normalize("東京は晴れ。") == "東 京 は 晴 れ"
    assert normalize("abc東京def") == "abc 東 京 def"
    assert words(normalize("สวัสดี")) == ["ส", "วั", "ส", "ดี"]  # a Thai character keeps its marks


def test_shingles_are_word_ngrams_of_the_normalized_text(shared_data):
    for text in _articles(shared_data, 5) + _multilingual(shared_data):
        norm = normalize(text)
        w = norm.split(" ")
        expected = [" ".join(w[i : i + 5]).encode() for i in range(len(w) - 4)]
        assert shingles(norm, 5) == expected
    assert shingles("a b c", 5) == [b"a b c"]  # fewer words than n: the whole text
    assert shingles("", 5) == []
    starts, ends = shingle_spans(b"a bb ccc", 2)
    assert starts.tolist() == [0, 2] and ends.tolist() == [4, 8]
    with pytest.raises(ValueError, match="at least 1"):
        shingle_spans(b"a", 0)


def test_text_hash_is_the_exact_key():
    assert text_hash(normalize("The  cat, sat.")) == text_hash(normalize("the cat sat"))
    assert text_hash(normalize("the cat sat")) != text_hash(normalize("the cat sat down"))
    assert len(text_hash("")) == 40


def test_jaccard():
    assert jaccard({1, 2, 3}, {2, 3, 4}) == 0.5
    assert jaccard(set(), set()) == 1.0 and jaccard({1}, set()) == 0.0


# ------------------------------------------------------------------------------------------------ MinHash
def test_sha1_kernel_equals_hashlib_on_every_length():
    rng = random.Random(0)
    bufs = [bytes(rng.getrandbits(8) for _ in range(n)) for n in [*range(0, 130), 1000, 4097]]
    starts = np.cumsum([0] + [len(b) for b in bufs[:-1]])
    ends = starts + np.array([len(b) for b in bufs])
    got = sha1_hash32(b"".join(bufs), starts, ends)
    expected = [struct.unpack("<I", hashlib.sha1(b).digest()[:4])[0] for b in bufs]
    assert got.tolist() == expected


@pytest.mark.parametrize(("num_perm", "seed", "ngram"), [(128, 1, 5), (64, 7, 3), (256, 42, 1)])
def test_signatures_equal_datasketch_hashvalues_on_real_text(shared_data, num_perm, seed, ngram):
    from datasketch import MinHash

    texts = _articles(shared_data, 25) + _multilingual(shared_data) + ["", "one two", "Ünïcode wörds here."]
    sig = MinHasher(num_perm, seed, ngram).signatures(texts)
    assert sig.dtype == np.uint32 and sig.shape == (len(texts), num_perm)
    for row, text in zip(sig, texts, strict=True):
        m = MinHash(num_perm=num_perm, seed=seed)
        for s in shingles(normalize(text), ngram):
            m.update(s)
        assert np.array_equal(row, m.hashvalues)
    assert (sig[len(texts) - 3] == EMPTY).all()  # an empty text: datasketch's initial values


def test_signature_similarity_tracks_true_jaccard(shared_data):
    a = normalize(_articles(shared_data, 1, 5000)[0])
    w = a.split(" ")
    b = " ".join(w[: len(w) // 10] + ["inserted", "words", "here"] + w[len(w) // 10 :])
    sig = MinHasher(256, 1, 5).signatures_of_normalized([a, b])
    true = jaccard(set(shingles(a, 5)), set(shingles(b, 5)))
    assert abs(estimated_jaccard(sig[0], sig[1]) - true) < 0.1
    with pytest.raises(ValueError, match="different lengths"):
        estimated_jaccard(sig[0], sig[1][:10])


# ------------------------------------------------------------------------------------------------ LSH
def test_optimal_bands_equal_datasketch():
    from datasketch.lsh import _optimal_param

    for num_perm in (32, 128, 256):
        for threshold in (0.5, 0.7, 0.8, 0.9):
            for weights in ((0.5, 0.5), (0.2, 0.8)):
                got = optimal_bands(threshold, num_perm, *weights)
                assert (got.bands, got.rows) == _optimal_param(threshold, num_perm, *weights)
                assert got.bands * got.rows <= num_perm


def test_banding_reports_its_detection_probability():
    b = optimal_bands(0.8, 128, 0.5, 0.5)
    assert (b.bands, b.rows) == (9, 13)
    assert b.probability(0.8) == pytest.approx(detection_probability(0.8, 9, 13))
    assert "9 bands × 13 rows" in b.describe() and "at J=0.8" in b.describe()
    assert banding(0.8, 128, 16, 8).probability(0.9) > b.probability(0.9)
    for bad in ((0.0, 128), (1.0, 128), (0.8, 0)):
        with pytest.raises(ValueError):
            optimal_bands(*bad)
    with pytest.raises(ValueError, match="exceeds num_perm"):
        banding(0.8, 128, 20, 10)
    with pytest.raises(ValueError, match="must be 1"):
        optimal_bands(0.8, 128, 0.5, 0.6)


def test_band_keys_are_equal_exactly_when_bands_are():
    rng = np.random.RandomState(0)
    sig = rng.randint(0, 2**32, (4, 12), dtype=np.uint64).astype(np.uint32)
    sig[1] = sig[0]
    sig[2, :3] = sig[0, :3]  # only band 0 shared
    sig[3] = np.tile(sig[0, :3], 4)  # band 0's values in every band
    keys = band_keys(sig, 4, 3)
    assert keys.dtype == np.int64 and keys.shape == (4, 4)
    assert (keys[0] == keys[1]).all()
    assert (keys[0] == keys[2]).tolist() == [True, False, False, False]
    assert len(set(keys[3].tolist())) == 4  # same values in another band: another key
    with pytest.raises(ValueError, match="exceeds"):
        band_keys(sig, 5, 3)


# ------------------------------------------------------------------------------------------------ config
def test_config_file_equals_defaults_and_validates():
    assert load(DedupConfig, read_settings(ROOT / "conf" / "dedup.yaml")) == DedupConfig()
    assert to_dict(DedupConfig())["threshold"] == 0.8
    for bad, match in (
        ({"threshold": 1.0}, "threshold"),
        ({"bands": 10}, "both bands and rows"),
        ({"bands": 20, "rows": 10}, "exceeds num_perm"),
        ({"exact": False, "near": False}, "nothing to deduplicate"),
        ({"survivor_order": ["warc_date; DROP TABLE x"]}, "survivor_order"),
        ({"ngram": 0}, "ngram"),
        ({"partition_mb": 0}, "partition_mb"),
    ):
        with pytest.raises(ValueError, match=match):
            DedupConfig(**bad)
    key = OrderKey.parse("quality_score desc nulls last")
    assert key == OrderKey("quality_score", True, False) and key.sql() == "quality_score DESC NULLS LAST"
    assert DedupConfig().signature_key != DedupConfig(num_perm=64).signature_key
    assert DedupConfig().signature_key == DedupConfig(threshold=0.7).signature_key  # banding is not part of it


# ------------------------------------------------------------------------------------------------ clustering
def _edit(text: str, rate: float, rng: random.Random) -> str:
    w = text.split()
    for _ in range(max(1, int(len(w) * rate))):
        w[rng.randrange(len(w))] = rng.choice(["alpha", "beta", "gamma", "delta"])
    return " ".join(w)


def test_star_edges_and_components_against_brute_force():
    rng = random.Random(3)
    ids = [f"d{i:03d}" for i in range(60)]
    keys = np.array([[rng.randrange(8) for _ in range(3)] for _ in ids], np.int64)
    edges = star_edges(ids, keys)
    for a, b in edges:
        assert a > b and any(keys[ids.index(a), j] == keys[ids.index(b), j] for j in range(3))
    label = components(ids, edges)
    # brute force: documents sharing any band key are connected
    for i, a in enumerate(ids):
        for k, b in enumerate(ids):
            if any(keys[i, j] == keys[k, j] for j in range(3)):
                assert label[a] == label[b]
    assert all(label[x] == min(y for y in ids if label[y] == label[x]) for x in ids)


def test_deduplicate_marks_exact_and_near_copies_of_real_text(shared_data):
    rng = random.Random(0)
    arts = _articles(shared_data, 12, 3000)
    docs = [{"doc_id": f"a{i:02d}", "text": t, "warc_date": None} for i, t in enumerate(arts)]
    docs.append({"doc_id": "b00", "text": arts[0].upper().replace(".", " . "), "warc_date": None})  # exact
    docs.append({"doc_id": "b01", "text": _edit(arts[1], 0.01, rng), "warc_date": None})  # near
    docs.append({"doc_id": "b02", "text": _edit(arts[2], 0.25, rng), "warc_date": None})  # too different
    out = deduplicate(docs, DedupConfig())
    assert out["b00"].dup_of == "a00" and out["b00"].dup_exact is True and out["b00"].dup_similarity == 1.0
    assert out["b01"].dup_of == "a01" and out["b01"].dup_exact is False
    true = jaccard(shingle_set(docs[-2]["text"], 5), shingle_set(arts[1], 5))
    assert out["b01"].dup_similarity == pytest.approx(true) and true >= 0.8
    assert out["b02"] == UNIQUE and out["a02"] == UNIQUE
    assert out["a00"].dup_cluster_id == "a00" and out["a00"].dup_of is None
    # the survivor order decides who survives; doc_id breaks ties
    dated = [dict(d, warc_date="2020" if d["doc_id"] == "b01" else None) for d in docs]
    assert deduplicate(dated, DedupConfig())["a01"].dup_of == "b01"
    cfg = DedupConfig(survivor_order=("warc_date DESC",))  # DESC puts nulls last
    assert deduplicate(dated, cfg)["a01"].dup_of == "b01"
    assert deduplicate(dated, replace(cfg, survivor_order=("warc_date ASC",)))["b01"].dup_of == "a01"


def test_deduplicate_without_verification_or_near_pass(shared_data):
    arts = _articles(shared_data, 6, 3000)
    docs = [{"doc_id": f"a{i}", "text": t} for i, t in enumerate(arts)] + [{"doc_id": "c", "text": arts[0]}]
    exact_only = deduplicate(docs, DedupConfig(near=False))
    assert exact_only["c"].dup_of == "a0" and sum(a.dup_of is not None for a in exact_only.values()) == 1
    assert deduplicate(docs, DedupConfig(verify=False))["c"].dup_of == "a0"


def test_prior_survivors_stay_survivors(shared_data):
    rng = random.Random(1)
    arts = _articles(shared_data, 4, 3000)
    old = [{"doc_id": "z-old", "text": arts[0]}, {"doc_id": "y-old", "text": arts[1]}]
    new = [{"doc_id": "a-new", "text": arts[0]}, {"doc_id": "b-new", "text": _edit(arts[1], 0.01, rng)}]
    out = deduplicate(old + new, DedupConfig(), prior={"z-old", "y-old"})
    # a-new sorts first by doc_id but the earlier survivor keeps its place
    assert out["a-new"].dup_of == "z-old" and out["b-new"].dup_of == "y-old"
    assert out["z-old"].dup_cluster_id == "z-old" and out["z-old"].dup_of is None
    # prior documents that gain no duplicate are not reassigned (not in the output)
    lone = deduplicate(old + [{"doc_id": "c-new", "text": arts[2]}], DedupConfig(), prior={"z-old", "y-old"})
    assert set(lone) == {"c-new"} and lone["c-new"] == UNIQUE


def test_duplicate_rules_sit_in_the_verdict():
    from curation.curate import CurateConfig, verdict

    cfg = CurateConfig()
    base = {"extraction_error": None}
    assert verdict(base | {"dup_exact": True}, cfg) == ["exact_duplicate"]
    assert verdict(base | {"dup_exact": False}, cfg) == ["near_duplicate"]
    assert verdict(base | {"dup_exact": None}, cfg) == []
