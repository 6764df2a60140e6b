"""The classifier library on inline text: normalization, metrics, the split, determinism, scoring rules."""

from __future__ import annotations

import ctypes
import itertools
import random

import pytest

from curation.classify import metrics
from curation.classify.model import ModelRef, Scorer, file_sha256
from curation.classify.rules import ClassifierRule, build, classifier_rules, reason_of, resolved
from curation.classify.source import TrainClassifierConfig, TrainingInput
from curation.classify.text import chunk_words, normalize
from curation.classify.train import (
    ClassifierSettings,
    FastTextSettings,
    SplitSettings,
    evaluate,
    fit,
    prepare,
    split_of,
    training_hash,
)
from curation.config import load_settings
from curation.curate import CurateConfig, stage_rules, verdict


def test_normalize_is_one_line_of_tokens():
    text = "RT @Some_User: Sooooo GOOD!!! see https://t.co/xYz &amp; #Winning\n\nnext  line"
    assert normalize(text) == "rt xxuser : soo good ! ! see xxurl & #winning next line"
    assert normalize(None) == "" and normalize("   \n ") == ""
    assert normalize("Ｆｕｌｌ ｗｉｄｔｈ") == "full width"  # NFKC
    assert normalize("don't stop") == "don't stop"
    assert normalize("abcdef", max_chars=3) == "abc"
    assert normalize("mail me@example.com") == "mail me@example . com"  # not a mention: @ inside a word


def test_chunk_words():
    assert chunk_words("a b c d e", 2) == ["a b", "c d", "e"]
    assert chunk_words("", 3) == []
    with pytest.raises(ValueError):
        chunk_words("a", 0)


def _brute_auc(scores, truth):
    pos = [s for s, t in zip(scores, truth, strict=True) if t]
    neg = [s for s, t in zip(scores, truth, strict=True) if not t]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_metrics_against_hand_counts():
    scores = [0.9, 0.8, 0.7, 0.4, 0.3, 0.2]
    truth = [True, True, False, True, False, False]
    m = metrics.at_threshold(scores, truth, 0.5, ("toxic", "clean"))
    assert m["confusion"] == {"tp": 2, "fp": 1, "fn": 1, "tn": 2}
    assert m["classes"]["toxic"]["precision"] == pytest.approx(2 / 3)
    assert m["classes"]["toxic"]["recall"] == pytest.approx(2 / 3)
    assert m["classes"]["clean"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx(2 / 3)
    rng = random.Random(1)
    for _ in range(20):
        s = [round(rng.random(), 1) for _ in range(30)]  # ties on purpose
        t = [rng.random() < 0.4 for _ in range(30)]
        if len(set(t)) == 2:
            assert metrics.roc_auc(s, t) == pytest.approx(_brute_auc(s, t))
    assert metrics.roc_auc([0.1, 0.2], [True, True]) is None


def test_threshold_targets():
    scores = [0.95, 0.9, 0.85, 0.6, 0.55, 0.3, 0.2, 0.1]
    truth = [True, True, True, False, True, False, False, False]
    rows = metrics.sweep(scores, truth)
    # 0.31 … 0.55 give the same (best) predictions: the tie goes to the threshold nearest 0.5.
    assert metrics.choose_threshold(rows, metrics.Target.parse("macro_f1")) == 0.5
    # Precision 1.0 needs a threshold above 0.6: the most recall there is 3/4.
    t = metrics.choose_threshold(rows, metrics.Target.parse("precision>=1.0"))
    assert 0.6 < t <= 0.85
    assert metrics.choose_threshold(rows, metrics.Target.parse("recall>=1")) <= 0.55
    for bad in ("accuracy", "precision", "precision>=2", "f1>=0.5"):
        with pytest.raises(ValueError):
            metrics.Target.parse(bad)


def _rows(n=2000, seed=0):
    """A toy task: 'good' texts mention sunshine words, 'bad' ones storm words."""
    rng = random.Random(seed)
    good = ["sunny", "bright", "warm", "lovely", "calm"]
    bad = ["storm", "thunder", "cold", "grim", "dark"]
    filler = ["the", "day", "was", "very", "and", "then", "we", "went", "home"]
    rows = []
    for i in range(n):
        pos = i % 2 == 0
        words = rng.sample(filler, 5) + rng.sample(good if pos else bad, 2)
        rng.shuffle(words)
        rows.append((" ".join(words), pos, None, True))
    return rows


SMALL = ClassifierSettings(
    positive_label="good", negative_label="bad", fasttext=FastTextSettings(epoch=5, dim=10, bucket=1000)
)


def test_split_is_by_group_and_independent_of_order():
    rows = _rows()
    a = prepare(rows, SMALL)
    b = prepare(list(reversed(rows)), SMALL)
    assert [(e.text, e.split) for e in a.examples] == [(e.text, e.split) for e in b.examples]
    assert training_hash(a, SMALL) == training_hash(b, SMALL)
    counts = a.counts()
    assert counts["rows_in"] == 2000 and sum(counts["test"].values()) > 10 and sum(counts["validation"].values()) > 10
    # Identical texts always share a split; another split seed moves examples.
    assert split_of("same text", SMALL.split) == split_of("same text", SMALL.split)
    other = ClassifierSettings(**{**SMALL.__dict__, "split": SplitSettings(seed=7)})
    assert {e.text: e.split for e in prepare(rows, other).examples} != {e.text: e.split for e in a.examples}


def test_rejected_rows_are_counted_and_chunks_share_a_split():
    rows = [("", True, None, True), (None, False, None, True), ("text", None, None, True)]
    rows += [(" ".join(f"w{i}" for i in range(25)), True, "doc-1", True)]
    settings = ClassifierSettings(chunk_words=10)
    ds = prepare(rows, settings)
    assert ds.rejected == {"empty_text": 2, "no_label": 1}
    assert len(ds.examples) == 3 and len({e.split for e in ds.examples}) == 1


def _tweets(shared_data, n=None):
    """The first ``n`` Davidson tweets as raw rows (toxic = classes 0 and 1)."""
    import csv

    with open(shared_data / "toxicity" / "davidson" / "labeled_data.csv", encoding="utf-8") as f:
        rows = list(itertools.islice(csv.DictReader(f), n))
    return [(r["tweet"], r["class"] in ("0", "1"), None, True) for r in rows]


TWEETS = ClassifierSettings(
    positive_label="toxic",
    negative_label="clean",
    fasttext=FastTextSettings(lr=0.2, epoch=10, dim=50, word_ngrams=2, minn=3, maxn=6, bucket=100_000),
)


def _dirty_the_heap():
    """Leave freed heap memory full of 0xff bytes (a NaN as float32), the size of the models' matrices."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = []
    for size in (4 << 20, 16 << 20, 26 << 20, 30 << 20):
        p = libc.malloc(size)
        ctypes.memset(p, 0xFF, size)
        blocks.append(p)
    for p in blocks:
        libc.free(p)


def test_training_is_deterministic_and_learns(tmp_path, shared_data):
    ds = prepare(_tweets(shared_data), TWEETS)
    paths = []
    for i in range(3):
        model = fit(ds, TWEETS, tmp_path)
        paths.append(tmp_path / f"m{i}.bin")
        model.save_model(str(paths[-1]))
        del model
        _dirty_the_heap()
    # fastText leaves most of its single-thread input matrix uninitialised: without zeroed allocations the runs after
    # the first read the NaN bytes left above and give other models or "Encountered NaN".
    assert len({file_sha256(p) for p in paths}) == 1
    model = fit(ds, TWEETS, tmp_path)
    ev = evaluate(model, ds, TWEETS)
    assert ev["test"]["macro_f1"] > 0.8 and ev["test"]["roc_auc"] > 0.9
    assert set(ev["test"]["classes"]) == {"toxic", "clean"}


def test_scorer_rules(tmp_path, shared_data):
    ds = prepare(_tweets(shared_data), TWEETS)
    path = tmp_path / "m.bin"
    fit(ds, TWEETS, tmp_path).save_model(str(path))
    ref = ModelRef("tox", 1, str(path), file_sha256(path), "toxic", languages=("en",))
    scorer = Scorer(ref)
    texts = ["you stupid bitch", "the yankees won the game today", None, "", "you stupid bitch"]
    out = scorer.scores(texts, ["en", "en", "en", "en", "de"])
    assert out[0] > 0.5 > out[1] and out[2:] == [None, None, None]
    assert scorer.scores(["you stupid bitch"], ["en"])[0] == out[0]  # stable
    with pytest.raises(ValueError, match="sha256"):
        Scorer(ModelRef("tox", 1, str(path), "0" * 64, "toxic"))
    with pytest.raises(ValueError, match="no label"):
        Scorer(ModelRef("tox", 1, str(path), ref.sha256, "hq"))
    with pytest.raises(ValueError, match="normalization"):
        Scorer(ModelRef("tox", 1, str(path), ref.sha256, "toxic", normalization="other-v0"))


def test_fit_needs_both_classes(tmp_path):
    ds = prepare([(f"only good {i}", True, None, True) for i in range(50)], SMALL)
    with pytest.raises(ValueError, match="only positive"):
        fit(ds, SMALL, tmp_path)


def test_curate_config_classifiers_and_their_rules():
    cfg = load_settings(
        CurateConfig,
        None,
        ["classifiers.toxicity.drop=above", "classifiers.quality.threshold=0.2", "classifiers.quality.drop=below"],
    )
    assert list(cfg.classifiers) == ["quality", "toxicity"]
    with pytest.raises(ValueError, match="resolve"):
        stage_rules(cfg)  # the toxicity threshold comes from the model
    ref = ModelRef("toxicity", 3, "/m.bin", "a" * 64, "toxic")
    tox = resolved("toxicity", cfg.classifiers["toxicity"], ref, 0.61)
    assert tox.version == 3 and tox.threshold == 0.61 and tox.model.model_id == "toxicity@v3"
    qual = resolved("quality", cfg.classifiers["quality"], ModelRef("quality", 1, "/q.bin", "b" * 64, "hq"), 0.5)
    assert qual.threshold == 0.2  # the config's threshold wins over the model's
    rules = classifier_rules({"quality": qual, "toxicity": tox})
    assert [(r.signal, r.op, r.threshold, r.reason) for r in rules] == [
        ("quality_score", "<", 0.2, "quality_low"),
        ("toxicity_score", ">=", 0.61, "toxicity_high"),
    ]
    full = CurateConfig(classifiers={"quality": qual, "toxicity": tox})
    assert verdict({"toxicity_score": 0.7, "quality_score": 0.1}, full) == ["quality_low", "toxicity_high"]
    assert verdict({"toxicity_score": None, "quality_score": None}, full) == []  # null never fails
    with pytest.raises(ValueError, match="version 2"):
        resolved("toxicity", ClassifierRule(version=2), ref, 0.5)
    assert reason_of("x", ClassifierRule(drop="below", reason="custom")) == "custom"


@pytest.mark.parametrize(
    "section, message",
    [
        ({"Bad-Name": {}}, "classifier name"),
        ({"tox": {"drop": "sideways"}}, "drop"),
        ({"tox": {"threshold": 1.5}}, "threshold"),
        ({"tox": {"version": 0}}, "version"),
        ({"tox": {"colour": 1}}, "unknown setting"),
        ({"language": {}}, "collide"),
        ([1, 2], "mapping"),
    ],
)
def test_bad_classifier_sections(section, message):
    with pytest.raises(ValueError, match=message):
        CurateConfig(classifiers=section) if message == "collide" else build(section)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "tox", "input": {"labels": "x.csv"}}, "positive_values"),
        ({"name": "tox", "input": {"labels": "x.csv", "positive_values": [1], "positive_sql": "SELECT"}}, "either"),
        ({"name": "tox", "input": {"positive_sql": "SELECT 1"}}, "go together"),
        ({"name": "tox", "input": {"labels": "x.csv", "positive_values": [1], "negative_values": [1]}}, "both"),
        ({"name": "tox"}, "training input"),
        ({"name": "Tox!", "input": {"labels": "x.csv", "positive_values": [1]}}, "classifier name"),
        ({"name": "tox", "input": {"labels": "x", "positive_values": [1]}, "model": {"target": "auc"}}, "target"),
        (
            {"name": "tox", "input": {"labels": "x", "positive_values": [1]}, "model": {"fasttext": {"epoch": 0}}},
            "epoch",
        ),
        (
            {
                "name": "tox",
                "input": {"labels": "x", "positive_values": [1]},
                "model": {"split": {"test": 0.9, "validation": 0.2}},
            },
            "sum below",
        ),
    ],
)
def test_bad_training_configs(data, message):
    from curation.config import load

    with pytest.raises(ValueError, match=message):
        load(TrainClassifierConfig, data)


def test_label_values():
    inp = TrainingInput(labels="x.csv", positive_values=(0, 1))
    assert [inp.label_of(v) for v in ("0", 1, "2", None, " ")] == [True, True, False, None, None]
    inp = TrainingInput(labels="x.csv", positive_values=("yes",), negative_values=("no",))
    assert [inp.label_of(v) for v in ("yes", "no", "maybe")] == [True, False, None]
