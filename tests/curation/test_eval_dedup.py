"""eval.dedup: the made-edits corpus, the exact ground truth, the pair scoring, and the methods on real text."""

from __future__ import annotations

import argparse
import itertools
import json
import random

import numpy as np
import pytest

from curation.dedup.text import jaccard, normalize, shingle_set, text_hash
from eval.dedup import (
    METHODS,
    Doc,
    build_corpus,
    ground_truth,
    load_originals,
    main,
    predicted_edges,
    read_corpus,
    score,
    score_pairs,
    true_pairs,
)

LIMIT = 400
"""Originals in the shared corpus fixture (about 700 documents with their copies)."""


@pytest.fixture(scope="module")
def corpus(shared_data):
    docs = build_corpus(shared_data, seed=0, limit=LIMIT)
    return docs, ground_truth(docs)


def _brute_force(docs, threshold=0.8):
    sets = {d.id: shingle_set(d.text, 5) for d in docs}
    out = {}
    for a, b in itertools.combinations(sorted(sets), 2):
        j = jaccard(sets[a], sets[b])
        if j >= threshold:
            out[(a, b)] = j
    return out


def test_ground_truth_equals_brute_force(corpus):
    docs, _ = corpus
    rng = random.Random(1)
    subset = rng.sample(docs, 150)
    truth = ground_truth(subset)
    assert truth.pairs == _brute_force(subset)  # exact: the same integer counts, the same division
    assert true_pairs(subset) == truth.pairs
    sets = {d.id: shingle_set(d.text, 5) for d in subset}
    pairs = [tuple(rng.sample(sorted(sets), 2)) for _ in range(300)] + list(truth.pairs)
    assert truth.jaccards(pairs).tolist() == [jaccard(sets[a], sets[b]) for a, b in pairs]


def test_pairs_inside_a_group_are_counted_by_true_jaccard(corpus):
    docs, truth = corpus
    group = [d.id for d in docs[:40]] + [d.id for d in docs if d.base is not None][:40]
    edges = predicted_edges(0.8)
    sets = {i: shingle_set(next(d.text for d in docs if d.id == i), 5) for i in group}
    sims = np.array([jaccard(sets[a], sets[b]) for a, b in itertools.combinations(group, 2)])
    expected = np.bincount(np.searchsorted(edges, sims, side="right") - 1, minlength=len(edges))
    assert truth.within(group, edges, block=16).tolist() == expected.tolist()


def test_empty_documents_are_identical():
    docs = [Doc("a", "", "x"), Doc("b", "!!! ...", "x"), Doc("c", "one two three four five six", "x")]
    truth = ground_truth(docs)
    assert truth.pairs == {("a", "b"): 1.0}
    assert truth.jaccard("a", "c") == 0.0
    assert truth.within(["a", "b", "c"], predicted_edges(0.8)).tolist() == [2, 0, 0, 0, 1]


def test_cosmetic_copies_are_exact_duplicates(corpus):
    docs, truth = corpus
    by_id = {d.id: d for d in docs}
    cosmetic = [d for d in docs if d.op == "cosmetic"]
    assert len(cosmetic) >= 20
    for d in cosmetic:
        base = by_id[d.base]
        assert d.text != base.text
        assert text_hash(normalize(d.text)) == text_hash(normalize(base.text))
        assert truth.jaccard(d.id, base.id) == 1.0


def test_edited_copies_span_the_intended_range(corpus):
    docs, truth = corpus
    ops = {}
    for d in docs:
        if d.base is not None and d.op != "cosmetic":
            ops.setdefault(d.op, []).append(truth.jaccard(d.id, d.base))
    assert set(ops) == {"insert", "delete", "substitute", "reorder", "mixed"}
    sims = np.array([s for v in ops.values() for s in v])
    assert sims.min() < 0.65 and sims.max() > 0.95
    assert np.mean(sims >= 0.5) > 0.98  # hardly anything is edited beyond recognition
    assert np.mean((sims >= 0.7) & (sims < 0.9)) > 0.4  # the mass sits around the threshold
    for op, values in ops.items():
        assert 0.65 < np.median(values) < 0.9, op
    assert any(d.base is not None and "+c" in d.base for d in docs)  # chains: copies of copies


def test_corpus_is_deterministic_for_a_seed(shared_data):
    a = build_corpus(shared_data, seed=3, limit=60)
    assert a == build_corpus(shared_data, seed=3, limit=60)
    assert a != build_corpus(shared_data, seed=4, limit=60)
    assert {d.source for d in build_corpus(shared_data, seed=0)} == {"wikitext2", "shakespeare", "pan"}


def test_extra_originals_from_json_lines(shared_data, tmp_path):
    extra = tmp_path / "docs.jsonl"
    rows = [{"id": "p1", "text": "word " * 60}, {"id": "p2", "text": "too short"}, {"id": "p3", "text": None}]
    extra.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    docs = load_originals(shared_data, random.Random(0), extra)
    assert [d.id for d in docs if d.source == "extra"] == ["extra/p1"]
    extra.write_text('["not", "an", "object"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="docs.jsonl:1"):
        load_originals(shared_data, random.Random(0), extra)


WORDS = [f"w{i}" for i in range(200)]


def test_scores_on_hand_made_clusters():
    a = " ".join(WORDS[:20])
    b = " ".join(WORDS[20:60])
    docs = [
        Doc("A", a, "x"),
        Doc("A2", a.upper().replace(" ", ",  "), "x", "A", "cosmetic@1"),
        Doc("B", b, "x"),
        Doc("B2", " ".join(WORDS[20:59] + ["other"]), "x", "B", "substitute@0.025"),  # 35 of 37 shingles shared
        Doc("C", " ".join(WORDS[100:150]), "x"),
        Doc("D", " ".join(WORDS[150:200]), "x"),
    ]
    truth = ground_truth(docs)
    assert truth.pairs == {("A", "A2"): 1.0, ("B", "B2"): 35 / 37}

    s = score(truth, {"A": "x", "A2": "x", "C": "x", "B": None, "B2": "y"})  # D absent: unique
    assert (s.predicted, s.tp, s.fp, s.fn) == (3, 1, 2, 1)
    assert s.precision == pytest.approx(1 / 3) and s.recall == pytest.approx(1 / 2) and s.f1 == pytest.approx(0.4)
    assert s.recall_bins["=1.00"] == [1, 1] and s.recall_bins["0.90–0.95"] == [0, 1]
    assert s.predicted_bins == {"0.00–0.50": 2, "0.50–0.70": 0, "0.70–0.75": 0, "0.75–0.80": 0, "≥0.80": 1}
    assert (s.closure_true, s.closure_tp, s.clusters, s.largest_cluster) == (2, 1, 1, 3)

    everything = score(truth, {d.id: "all" for d in docs})
    assert (everything.predicted, everything.tp, everything.fn) == (15, 2, 0)
    assert sum(everything.predicted_bins.values()) == 15

    nothing = score(truth, {})
    assert (nothing.predicted, nothing.tp, nothing.precision, nothing.recall) == (0, 0, 1.0, 0.0)

    p = score_pairs(truth, [("A2", "A"), ("A", "A2"), ("B", "C"), ("D", "D")])
    assert (p.predicted, p.tp, p.fp, p.fn) == (2, 1, 1, 1)
    assert p.predicted_bins["0.00–0.50"] == 1 and p.clusters is None

    with pytest.raises(ValueError, match="not in the ground truth"):
        score(truth, {"Z": "x", "A": "x"})


def test_transitive_clusters_cost_pair_precision():
    """O's two copies are each close to O but not to each other: one cluster holds a false positive pair that a
    chain of true pairs links (a transitive one)."""
    base = WORDS[:100]
    left = base[:90] + [f"l{i}" for i in range(10)]
    right = [f"r{i}" for i in range(10)] + base[10:]
    docs = [Doc("O", " ".join(base), "x"), Doc("L", " ".join(left), "x"), Doc("R", " ".join(right), "x")]
    truth = ground_truth(docs)
    assert set(truth.pairs) == {("L", "O"), ("O", "R")}
    s = score(truth, {"O": "c", "L": "c", "R": "c"})
    assert (s.tp, s.fp, s.recall, s.closure_tp, s.closure_precision) == (2, 1, 1.0, 3, 1.0)


def _run(name, docs, truth, *settings):
    clusters, info = METHODS[name](docs, argparse.Namespace(set=list(settings)))
    return score(truth, clusters), info


def test_reference_quality_on_real_text(corpus):
    docs, truth = corpus
    assert len(truth.pairs) > 150
    s, info = _run("reference", docs, truth)
    # floors measured on this corpus (seed 0, 400 originals: P 0.92, R 0.94; seeds 0-5 P 0.85-0.92, R 0.94-0.97)
    assert s.precision > 0.8 and s.recall > 0.9
    # verified edges are all true pairs: a cluster never joins documents that no chain of true pairs links
    assert s.closure_precision == 1.0
    assert s.predicted_bins["0.00–0.50"] == 0
    assert "12×10" in info["settings"]

    wide, _ = _run("reference", docs, truth, "bands=20", "rows=6")  # more candidates, all verified
    assert wide.recall > 0.98 and wide.closure_precision == 1.0

    unverified, info = _run("reference", docs, truth, "verify=false")
    assert "unverified" in info["settings"] and unverified.precision < s.precision


def test_datasketch_on_real_text(corpus):
    docs, truth = corpus
    clusters, info = METHODS["datasketch"](docs, argparse.Namespace(set=[]))
    s, p = score(truth, clusters), score_pairs(truth, info["pairs"])
    # measured: clusters P 0.82 R 0.83, candidate pairs P 0.88 R 0.81 (9×13 bands: half the pairs at 0.8 missed)
    assert s.precision > 0.7 and s.recall > 0.7 and p.precision > 0.75 and p.recall > 0.7
    assert p.predicted <= s.predicted and p.tp <= s.tp  # clusters add the transitive pairs
    assert "9×13" in info["settings"]


def test_cli_build_and_evaluate(shared_data, tmp_path, capsys):
    assert main(["build", "--data", str(shared_data), "--limit", "30", "--out", str(tmp_path)]) == 0
    docs = read_corpus(tmp_path / "corpus.jsonl")
    assert docs == build_corpus(shared_data, seed=0, limit=30)
    row = json.loads((tmp_path / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert set(row) == {"id", "text", "source", "base", "edit"}
    capsys.readouterr()

    args = ["--corpus", str(tmp_path / "corpus.jsonl"), "--method", "reference", "--method", "datasketch"]
    assert main([*args, "--method", "reference:num_perm=64", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["corpus"]["docs"] == len(docs)
    assert [r["method"] for r in report["results"]] == ["reference", "datasketch", "reference"]
    assert "num_perm=64" in report["results"][2]["settings"]
    assert report["results"][1]["pair_scores"]["predicted"] >= 0

    assert main(args) == 0
    table = capsys.readouterr().out
    assert "| reference clusters |" in table and "| datasketch candidate pairs |" in table and "goal" in table

    with pytest.raises(SystemExit):
        main(["--corpus", str(tmp_path / "corpus.jsonl"), "--set", "num_perms=3"])
    with pytest.raises(SystemExit):
        main(["--corpus", str(tmp_path / "corpus.jsonl"), "--method", "minhash"])
