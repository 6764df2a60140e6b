"""bench.corpus on tiny parameters (pure Python, no Spark): the same parameters give the same bytes; the records read
back (fastwarc) match the manifest and are laid out as Common Crawl's; every HTML response parses; no two captures
have the same text; the planted near-duplicates are near (word-5-gram Jaccard) and the other pairs are not; a corpus
is reused while it holds and rebuilt when it does not."""

from __future__ import annotations

import hashlib
import json
import random
import zlib
from collections import Counter
from pathlib import Path

import pytest

from bench._corpus_html import page_text
from bench.corpus import build_texts, build_warcs
from curation.dedup.cluster import components
from curation.dedup.config import DedupConfig
from curation.dedup.minhash import MinHasher, estimated_jaccard
from curation.dedup.text import jaccard, shingle_set

NGRAM = DedupConfig().ngram
WARC_ARGS = {"files": 2, "file_mb": 0.6, "near_dup_rate": 0.3, "seed": 7}
TEXT_ARGS = {"texts": 400, "near_dup_rate": 0.2, "seed": 3}


def _digests(folder: Path) -> dict[str, str]:
    """sha256 of every file; the manifest without its build time."""
    out = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["seconds"]
    return out | {"manifest.json": manifest}


@pytest.fixture(scope="module")
def warcs(shared_data, tmp_path_factory) -> dict:
    return build_warcs(**WARC_ARGS, out=tmp_path_factory.mktemp("warc-a"))


@pytest.fixture(scope="module")
def records(warcs) -> list[dict]:
    """Every record of the corpus, in file order: file, type, headers, HTTP status/Content-Type, payload."""
    from fastwarc.warc import ArchiveIterator

    out = []
    for f in warcs["files"]:
        with open(Path(warcs["folder"]) / f["name"], "rb") as stream:
            for rec in ArchiveIterator(stream, parse_http=True):
                http = rec.http_headers
                out.append(
                    {
                        "file": f["name"],
                        "type": rec.headers.get("WARC-Type"),
                        "headers": dict(rec.headers.items()),
                        "status": http.status_code if http is not None else None,
                        "http_line": http.status_line if http is not None else None,
                        "ctype": http.get("Content-Type") if http is not None else None,
                        "http_length": http.get("Content-Length") if http is not None else None,
                        "payload": rec.reader.read(),
                    }
                )
    return out


@pytest.fixture(scope="module")
def html_texts(records) -> dict[str, str]:
    """URL → text of every HTML response."""
    return {
        r["headers"]["WARC-Target-URI"]: page_text(r["payload"])
        for r in records
        if r["type"] == "response" and r["headers"]["WARC-Identified-Payload-Type"] == "text/html"
    }


def _truth(folder: str) -> list[dict]:
    return [json.loads(line) for line in (Path(folder) / "near_duplicates.jsonl").read_text().splitlines()]


def _pairs_check(texts: dict[str, str], truth: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(Jaccard of each planted pair, Jaccard of 300 random pairs that no chain of planted pairs joins). The planted
    pairs' MinHash estimates (lakeforge dedup's signatures) agree with the exact values within 0.2."""
    shingles = {k: shingle_set(t, NGRAM) for k, t in texts.items()}
    planted = [jaccard(shingles[t[key]], shingles[t["of"]]) for t in truth]
    cfg = DedupConfig()
    hasher = MinHasher(cfg.num_perm, cfg.seed, cfg.ngram)
    sig_a = hasher.signatures([texts[t[key]] for t in truth])
    sig_b = hasher.signatures([texts[t["of"]] for t in truth])
    estimated = [estimated_jaccard(a, b) for a, b in zip(sig_a, sig_b, strict=True)]
    assert all(abs(e - j) < 0.2 for e, j in zip(estimated, planted, strict=True)), (estimated, planted)
    comp = components(texts, [(t[key], t["of"]) for t in truth])
    keys, rng, others = sorted(texts), random.Random(0), []
    while len(others) < 300:
        a, b = rng.sample(keys, 2)
        if comp[a] != comp[b]:
            others.append(jaccard(shingles[a], shingles[b]))
    return planted, others


# --------------------------------------------------------------------------------------------------------- WARC


def test_same_parameters_same_bytes(warcs, tmp_path):
    again = build_warcs(**WARC_ARGS, out=tmp_path)
    assert not again["reused"] and again["folder"] != warcs["folder"]
    assert _digests(Path(again["folder"])) == _digests(Path(warcs["folder"]))


def test_counts_match_the_manifest(warcs, records):
    assert warcs["records"] == dict(Counter(r["type"] for r in records))
    for f in warcs["files"]:
        assert f["records"] == dict(Counter(r["type"] for r in records if r["file"] == f["name"]))
        assert f["html_responses"] == sum(
            r["type"] == "response" and r["headers"]["WARC-Identified-Payload-Type"] == "text/html"
            for r in records
            if r["file"] == f["name"]
        )
        assert (Path(warcs["folder"]) / f["name"]).stat().st_size >= WARC_ARGS["file_mb"] * 1e6
    responses = [r for r in records if r["type"] == "response"]
    assert warcs["responses_by_type"] == dict(Counter(r["headers"]["WARC-Identified-Payload-Type"] for r in responses))
    assert warcs["html_responses"] == warcs["responses_by_type"]["text/html"] > 0
    assert warcs["near_duplicates"] == len(_truth(warcs["folder"])) > 0
    assert len({r["headers"]["WARC-Record-ID"] for r in records}) == len(records)
    assert len({r["headers"]["WARC-Target-URI"] for r in responses}) == len(responses)


def test_captures_are_laid_out_as_common_crawl_writes_them(warcs, records):
    """warcinfo first in each file, then request → response → metadata, linked by WARC-Concurrent-To; every
    response HTTP 200 with a correct Content-Length; one gzip member per record."""
    for f in warcs["files"]:
        recs = [r for r in records if r["file"] == f["name"]]
        assert recs[0]["type"] == "warcinfo" and (len(recs) - 1) % 3 == 0
        info = recs[0]["headers"]["WARC-Record-ID"]
        for req, resp, meta in zip(*[iter(recs[1:])] * 3, strict=True):
            assert (req["type"], resp["type"], meta["type"]) == ("request", "response", "metadata")
            assert resp["headers"]["WARC-Concurrent-To"] == req["headers"]["WARC-Record-ID"]
            assert meta["headers"]["WARC-Concurrent-To"] == resp["headers"]["WARC-Record-ID"]
            assert {r["headers"]["WARC-Warcinfo-ID"] for r in (req, resp, meta)} == {info}
            assert req["http_line"].startswith("GET ") and req["http_line"].endswith(" HTTP/1.1")
            assert resp["status"] == 200 and int(resp["http_length"]) == len(resp["payload"])
        data, members = (Path(warcs["folder"]) / f["name"]).read_bytes(), 0
        while data:
            d = zlib.decompressobj(31)
            d.decompress(data)
            data, members = d.unused_data, members + 1
        assert members == len(recs)
    kinds = Counter(r["headers"]["WARC-Identified-Payload-Type"] for r in records if r["type"] == "response")
    assert kinds["text/html"] / sum(kinds.values()) > 0.9


def test_every_html_response_parses_and_other_payloads_are_what_they_say(records):
    import lxml.html

    for r in records:
        if r["type"] != "response":
            continue
        kind = r["headers"]["WARC-Identified-Payload-Type"]
        if kind == "text/html":
            root = lxml.html.document_fromstring(r["payload"])
            assert root.text_content().strip(), r["headers"]["WARC-Target-URI"]
        elif kind == "application/pdf":
            assert r["payload"].startswith(b"%PDF-1.4") and r["payload"].rstrip().endswith(b"%%EOF")
        elif kind == "image/png":
            assert r["payload"].startswith(b"\x89PNG\r\n\x1a\n") and r["payload"].endswith(b"IEND\xaeB`\x82")


def test_no_two_captures_have_the_same_text(warcs, html_texts):
    assert warcs["html_without_varied_text"] == 0
    assert len(set(html_texts.values())) == len(html_texts) == warcs["html_responses"]


def test_planted_near_duplicates_are_near_and_the_rest_are_not(warcs, html_texts):
    truth = _truth(warcs["folder"])
    assert {t["url"] for t in truth} <= set(html_texts) and {t["of"] for t in truth} <= set(html_texts)
    planted, others = _pairs_check(html_texts, truth, "url")
    assert len(planted) >= 5
    assert sum(j >= 0.7 for j in planted) >= 0.8 * len(planted), sorted(planted)
    assert max(others) < 0.3, max(others)


def test_a_second_build_reuses_and_a_changed_file_rebuilds(warcs):
    folder = Path(warcs["folder"])
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = build_warcs(**WARC_ARGS, out=folder.parent)
    assert again["reused"] and {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    digests = _digests(folder)
    with open(folder / warcs["files"][0]["name"], "ab") as f:
        f.write(b"x")
    rebuilt = build_warcs(**WARC_ARGS, out=folder.parent)
    assert not rebuilt["reused"] and _digests(folder) == digests


# -------------------------------------------------------------------------------------------------------- texts


@pytest.fixture(scope="module")
def texts(shared_data, tmp_path_factory) -> dict:
    return build_texts(**TEXT_ARGS, out=tmp_path_factory.mktemp("texts-a"))


def _documents(manifest: dict) -> dict[str, str]:
    docs = {}
    for shard in manifest["shards"]:
        for line in (Path(manifest["folder"]) / shard["name"]).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            assert set(row) == {"id", "text"}
            docs[row["id"]] = row["text"]
    return docs


def test_texts_same_parameters_same_bytes(texts, tmp_path):
    again = build_texts(**TEXT_ARGS, out=tmp_path)
    assert _digests(Path(again["folder"])) == _digests(Path(texts["folder"]))


def test_texts_counts_and_distinct_texts(texts):
    docs = _documents(texts)
    assert list(docs) == [f"t{k:07d}" for k in range(TEXT_ARGS["texts"])] and texts["documents"] == len(docs)
    assert len(set(docs.values())) == len(docs)
    assert sum(texts["by_source"].values()) == len(docs) and set(texts["by_source"]) <= {
        "wikitext2",
        "shakespeare",
        "pan",
    }
    assert texts["words"] == sum(len(t.split()) for t in docs.values())
    truth = _truth(texts["folder"])
    assert texts["near_duplicates"] == len(truth) and 0.1 < len(truth) / len(docs) < 0.3


def test_texts_planted_near_duplicates_are_near_and_the_rest_are_not(texts):
    planted, others = _pairs_check(_documents(texts), _truth(texts["folder"]), "id")
    assert sum(j >= 0.7 for j in planted) >= 0.8 * len(planted), sorted(planted)
    assert sorted(planted)[len(planted) // 2] >= 0.8
    assert max(others) < 0.3, max(others)


def test_texts_reuse_and_force(texts):
    folder = Path(texts["folder"])
    again = build_texts(**TEXT_ARGS, out=folder.parent)
    assert again["reused"] and again["documents"] == texts["documents"]
    digests = _digests(folder)
    forced = build_texts(**TEXT_ARGS, out=folder.parent, force=True)
    assert not forced["reused"] and _digests(folder) == digests


def test_bad_parameters_are_refused(tmp_path):
    with pytest.raises(ValueError, match="texts must be"):
        build_texts(0, out=tmp_path)
    with pytest.raises(ValueError, match="near_dup_rate"):
        build_warcs(files=1, file_mb=1, near_dup_rate=1.0, out=tmp_path)
    assert not list(tmp_path.iterdir())


def test_two_variants_of_one_page_are_far_apart(shared_data):
    """What keeps dedup from joining captures of one source page: their texts share few word 5-grams."""
    from bench._corpus_html import vary_html
    from bench.curate import collect_pages

    pages, _ = collect_pages(limit=20)
    for page in pages:
        a, b = (page_text(vary_html(page.body, random.Random(s), 0.3)[0]) for s in (1, 2))
        assert a != b and jaccard(shingle_set(a, NGRAM), shingle_set(b, NGRAM)) < 0.3, page.url
