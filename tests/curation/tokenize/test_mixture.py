"""Mixture YAML parsing and pinning (pure: no Spark, no megatron)."""

from __future__ import annotations

import pytest

from curation.tokenize import mixture as mx


def _set(name, tokens, shards=(1,), sha="tok-a", set_id=None, docs=1000):
    total = sum(shards)
    per = [tokens * s // total for s in shards]
    per[-1] += tokens - sum(per)
    return mx.ShardSet(
        shard_set_id=set_id or f"id-{name}",
        name=name,
        content_hash=f"c-{name}",
        source_table="documents",
        source_version=3,
        filter=None,
        tokenizer_sha256=sha,
        vocab_size=50257,
        eod_id=50256,
        dtype="uint16",
        documents=10,
        tokens=tokens,
        prefixes=tuple(f"/t/{name}/shard-{i:05d}" for i in range(len(shards))),
        shard_tokens=tuple(per),
        shard_documents=tuple(docs for _ in shards),
    )


DOC = {
    "name": "m1",
    "seq_length": 128,
    "tokens": 1_000_000,
    "split": "90,5,5",
    "tokenizer": "tok",
    "components": {
        "web": {"weight": 3, "table": "documents", "where": "language = 'en'", "version": 2},
        "books": {"weight": 1, "shards": "books_v1", "max_epochs": 10},
    },
}


def test_parse_keeps_order_and_settings():
    m = mx.parse(DOC)
    assert [c.name for c in m.components] == ["web", "books"]
    assert m.components[0].kind == "table" and m.components[1].kind == "shards"
    assert m.components[0].version == 2 and m.components[0].where == "language = 'en'"
    assert m.train_fraction == pytest.approx(0.9)
    assert m.spec()["components"]["books"] == {"weight": 1.0, "shards": "books_v1", "max_epochs": 10.0}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"colour": 1}, "unknown keys"),
        ({"name": "bad name!"}, "name"),
        ({"components": {}}, "non-empty mapping"),
        ({"components": {"a": {"weight": 0, "shards": "x"}}}, "weight must be a positive number"),
        ({"components": {"a": {"weight": "1", "shards": "x"}}}, "weight must be a positive number"),
        ({"components": {"a": {"weight": 1}}}, "exactly one of table, shards"),
        ({"components": {"a": {"weight": 1, "table": "documents", "shards": "x"}}}, "exactly one of"),
        ({"components": {"a": {"weight": 1, "shards": "x", "where": "1=1"}}}, "apply to a table component only"),
        ({"components": {"a": {"weight": 1, "shards": "x", "epochs": 2}}}, "unknown keys"),
        ({"split": "90,10"}, "split"),
        ({"split": "0,1,1"}, "train > 0"),
        ({"seq_length": 0}, "seq_length"),
        ({"tokenizer": None}, "need a tokenizer"),
    ],
)
def test_parse_rejects_with_the_key_named(patch, message):
    with pytest.raises(ValueError, match=message):
        mx.parse(DOC | patch)


def test_load_reads_yaml_and_reports_bad_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        mx.load(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        mx.load(bad)
    good = tmp_path / "m.yaml"
    good.write_text("name: m\ncomponents:\n  a: {weight: 1, shards: s}\n")
    assert mx.load(good).components[0].shards == "s"


def test_pin_spreads_each_weight_over_its_shards_by_tokens():
    m = mx.parse(DOC)
    blend = mx.pin(m, {"web": _set("web", 600_000, shards=(1, 2, 3)), "books": _set("books", 50_000)})
    assert blend.prefixes == [f"/t/web/shard-{i:05d}" for i in range(3)] + ["/t/books/shard-00000"]
    assert blend.weights == pytest.approx([0.75 / 6, 0.75 * 2 / 6, 0.75 * 3 / 6, 0.25])
    assert sum(blend.weights) == pytest.approx(1.0)
    assert blend.prefix_component == ["web", "web", "web", "books"]
    # epochs: budget × weight / training tokens (train share of the split)
    web, books = blend.pinned
    assert web.epochs == pytest.approx(1_000_000 * 0.75 / (600_000 * 0.9))
    assert books.epochs == pytest.approx(1_000_000 * 0.25 / (50_000 * 0.9))  # 5.6 < max_epochs 10: no warning
    assert blend.warnings == ()


def test_pin_warns_when_a_weight_implies_too_many_epochs():
    m = mx.parse(DOC | {"max_epochs": 1})
    blend = mx.pin(m, {"web": _set("web", 100_000), "books": _set("books", 10_000)})
    assert len(blend.warnings) == 2
    assert "component web" in blend.warnings[0] and "more than max_epochs 1" in blend.warnings[0]
    assert "more than max_epochs 10" in blend.warnings[1]  # the component's own limit wins


def test_pin_without_budget_has_no_epochs():
    doc = dict(DOC)
    doc.pop("tokens")
    blend = mx.pin(mx.parse(doc), {"web": _set("web", 100), "books": _set("books", 100)})
    assert [p.epochs for p in blend.pinned] == [None, None] and blend.warnings == ()


def test_pin_refuses_mixed_tokenizers_missing_and_empty_sets():
    m = mx.parse(DOC)
    with pytest.raises(ValueError, match="different tokenizers"):
        mx.pin(m, {"web": _set("web", 100), "books": _set("books", 100, sha="tok-b")})
    with pytest.raises(ValueError, match="without a shard set"):
        mx.pin(m, {"web": _set("web", 100)})
    with pytest.raises(ValueError, match="holds no tokens"):
        mx.pin(m, {"web": _set("web", 100), "books": _set("books", 0)})


def test_mixture_id_is_stable_and_follows_what_training_reads():
    m = mx.parse(DOC)
    sets = {"web": _set("web", 600_000), "books": _set("books", 50_000)}
    a = mx.pin(m, sets)
    assert a.mixture_id == mx.pin(mx.parse(DOC), dict(sets)).mixture_id
    doc = a.to_json()
    assert doc["blend"] == {"prefixes": a.prefixes, "weights": a.weights}
    assert doc["tokenizer"] == {"sha256": "tok-a", "vocab_size": 50257, "eod_id": 50256, "path": "tok"}
    assert [c["shard_set_id"] for c in doc["components"]] == ["id-web", "id-books"]
    assert mx.blend_id(doc | {"mixture_id": "x"}) == a.mixture_id  # the id never hashes itself
    changed = [
        mx.pin(mx.parse(DOC | {"seq_length": 256}), sets),
        mx.pin(m, sets | {"web": _set("web", 600_000, set_id="id-web-v2")}),
        mx.pin(mx.parse(DOC | {"seed": 7}), sets),
        mx.pin(mx.parse(DOC | {"components": DOC["components"] | {"books": {"weight": 2, "shards": "b"}}}), sets),
    ]
    assert len({a.mixture_id, *(b.mixture_id for b in changed)}) == 5


@pytest.mark.parametrize(
    ("documents", "split", "expected"),
    [
        (1000, "98,1,1", [980, 10, 10]),
        (31, "98,1,1", [30, 1, 0]),
        (31, "90,5,5", [28, 1, 2]),
        (10, "100,0,0", [10, None, None]),
        (7, "1,1,1", [2, 3, 2]),
    ],
)
def test_split_documents_follows_megatrons_rounding(documents, split, expected):
    assert mx.split_documents(documents, split) == expected


def test_split_documents_equals_megatron_core():
    core = pytest.importorskip("megatron.core.datasets.blended_megatron_dataset_config")
    for split in ("98,1,1", "90,5,5", "969,30,1", "1,1,1", "80,20,0"):
        parts = [float(x) for x in split.split(",")]
        matrix = core.convert_split_vector_to_split_matrix([p / sum(parts) for p in parts])
        for n in (1, 7, 31, 100, 12345):
            want = [None if m is None else int(round(m[1] * n)) - int(round(m[0] * n)) for m in matrix]
            assert mx.split_documents(n, split) == want, (split, n)


def test_pin_refuses_a_shard_with_an_empty_split():
    m = mx.parse(DOC | {"split": "98,1,1"})
    with pytest.raises(ValueError, match="none of them in the test split"):
        mx.pin(m, {"web": _set("web", 100, docs=31), "books": _set("books", 100)})
    assert mx.pin(mx.parse(DOC | {"split": "90,5,5"}), {"web": _set("web", 100, docs=31), "books": _set("books", 100)})
