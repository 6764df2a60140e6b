"""``curation.pipeline`` without Spark: pipeline.yaml parse errors, the stage plan, stage keys (what changes them
and what does not) and the skip / run / resume decision."""

from __future__ import annotations

import os

import pytest

from curation.pipeline import (
    STAGE_ORDER,
    PipelineError,
    StageRecord,
    content_of,
    decide,
    missing_files,
    parse,
    render_command,
    settings_hash,
    stage_key,
    stage_kind,
    stop_after,
)

FULL = {
    "name": "demo",
    "inputs": {"warc": ["a.warc.gz"], "text": [{"name": "wiki", "paths": ["w.txt"], "split": "wikitext"}]},
    "curate": {"config": "conf/curate.yaml", "set": ["a.b=1"]},
    "dedup": {"config": "conf/dedup.yaml"},
    "classifiers": ["conf/classifiers/toxicity.yaml", "conf/classifiers/quality.yaml"],
    "classify": {"set": ["classifiers.toxicity.drop=above"]},
    "tokenize": [{"name": "web_en", "where": "language = 'en'"}],
    "mixture": "conf/mixture.yaml",
    "train": {"config": "conf/train.yaml", "set": ["schedule.train_iters=20"]},
}


def _with(**changes) -> dict:
    return {k: v for k, v in (FULL | changes).items() if v is not None}


# ------------------------------------------------------------------------------------------------ parse
def test_a_full_pipeline_plans_every_stage_in_the_fixed_order():
    cfg = parse(FULL, "p.yaml")
    names = [n for n, _ in cfg.stages()]
    assert names == [
        "curate", "import_text:wiki", "dedup", "train_classifier:toxicity", "train_classifier:quality", "classify",
        "tokenize:web_en", "mix", "train",
    ]  # fmt: skip
    kinds = [stage_kind(n) for n in names]
    assert sorted(set(kinds), key=STAGE_ORDER.index) == list(dict.fromkeys(kinds))  # never out of order
    assert cfg.curate.set == ("a.b=1",) and cfg.train.dp == 1 and cfg.text[0].split == "wikitext"


def test_dedup_false_leaves_it_out_and_a_string_is_a_config_file():
    cfg = parse(_with(dedup=False, curate="c.yaml"), "p.yaml")
    assert "dedup" not in [n for n, _ in cfg.stages()]
    assert cfg.curate.config == "c.yaml" and cfg.curate.set == ()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (["not", "a", "mapping"], "p.yaml: expected a mapping"),
        (_with(stages=[]), "unknown key(s) stages"),
        (_with(name="two words"), "name: give the pipeline a name"),
        (_with(name=None), "name: give the pipeline a name"),
        (_with(inputs={"warc": ["a"], "html": []}), "inputs: unknown key(s) html"),
        (_with(inputs={"warc": {"a": 1}}), "inputs.warc: expected a list of strings"),
        (_with(inputs={"text": [{"paths": ["x.txt"]}]}), "inputs.text[0]: name is required"),
        (_with(inputs={"text": [{"name": "w"}]}), "inputs.text[0].paths: required"),
        (_with(inputs={"text": [{"name": "w", "paths": ["a"]}, {"name": "w", "paths": ["b"]}]}), "repeated: import"),
        (_with(curate={"config": "c.yaml", "sets": []}), "curate: unknown key(s) sets"),
        (_with(tokenize=[{"where": "x"}]), "tokenize[0]: name is required"),
        (_with(mixture=None), "train needs a mixture"),
        ({"name": "empty", "dedup": False}, "nothing to run"),
    ],
)
def test_parse_errors_name_the_key_and_what_to_do(data, message):
    with pytest.raises(PipelineError) as err:
        parse(data, "p.yaml")
    assert message in str(err.value) and str(err.value).startswith("p.yaml")


def test_missing_files_are_listed_with_their_key_urls_and_globs_are_not(tmp_path):
    (tmp_path / "here.warc.gz").write_bytes(b"x")
    data = _with(
        inputs={"warc": [str(tmp_path / "here.warc.gz"), str(tmp_path / "gone.warc.gz"), "s3://b/k", "x/*.warc"]},
        curate={"config": str(tmp_path / "nope.yaml")},
    )
    cfg = parse({k: v for k, v in data.items() if k not in ("classifiers", "tokenize", "mixture", "train")}, "p.yaml")
    missing = missing_files(cfg)
    assert any("inputs.warc[1]" in m and "gone.warc.gz" in m for m in missing), missing
    assert any("curate.config" in m for m in missing)
    assert not any("here.warc.gz" in m or "s3://" in m or "*" in m for m in missing)


def test_stop_after_keeps_the_stages_up_to_it():
    cfg = stop_after(parse(FULL, "p.yaml"), "train_classifier:toxicity")
    assert [n for n, _ in cfg.stages()] == ["curate", "import_text:wiki", "dedup", "train_classifier:toxicity"]
    with pytest.raises(PipelineError, match="nosuch: no such stage; stages: curate, import_text:wiki"):
        stop_after(parse(FULL, "p.yaml"), "nosuch")


# ------------------------------------------------------------------------------------------------ stage keys
def test_stage_key_is_the_same_as_ever():
    # Lakehouses skip stages by these keys: a change here reruns every stage of every existing pipeline.
    assert stage_key("dedup", "0123456789abcdef", {"documents": 3}) == (
        "a69ed335608cc361a596505eade63b3614f649a81db94f68a9316448bb370e50"
    )


def test_stage_key_changes_with_the_stage_a_setting_or_an_input_and_nothing_else():
    h = settings_hash({"minhash": {"num_perm": 128, "threshold": 0.8}})
    key = stage_key("dedup", h, {"documents": 3, "where": None})
    # the same settings written in another order, the same inputs in another order: the same key
    assert settings_hash({"minhash": {"threshold": 0.8, "num_perm": 128}}) == h
    assert stage_key("dedup", h, {"where": None, "documents": 3}) == key
    # one setting, one input version, the stage name: another key
    assert stage_key("dedup", settings_hash({"minhash": {"num_perm": 128, "threshold": 0.7}}), {"documents": 3}) != key
    assert stage_key("dedup", h, {"documents": 4, "where": None}) != key
    assert stage_key("classify", h, {"documents": 3, "where": None}) != key


def test_an_input_file_keys_by_its_content_not_its_timestamp(tmp_path):
    f = tmp_path / "corpus" / "a.txt"
    f.parent.mkdir()
    f.write_text("one\n")
    (tmp_path / "corpus" / "b.txt").write_text("two\n")
    cache: dict = {}
    files = content_of([str(tmp_path / "corpus")], cache)
    assert [os.path.basename(x["path"]) for x in files] == ["a.txt", "b.txt"]  # a folder is walked, sorted
    key = stage_key("import_text:c", "h", {"files": files})

    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))  # touched, same bytes: same key
    assert stage_key("import_text:c", "h", {"files": content_of([str(tmp_path / "corpus")], cache)}) == key
    f.write_text("one!\n")  # new bytes (and size): another key, with or without the cache
    assert stage_key("import_text:c", "h", {"files": content_of([str(tmp_path / "corpus")], cache)}) != key
    assert stage_key("import_text:c", "h", {"files": content_of([str(tmp_path / "corpus")])}) != key
    assert content_of(["https://example.org/x.warc.gz"]) == [{"path": "https://example.org/x.warc.gz", "sha256": None}]


# ------------------------------------------------------------------------------------------------ decide
def _rec(status: str, outputs=None) -> StageRecord:
    return StageRecord(status, "pipeline-1", outputs or {"documents": 4}, "h", "job-1")


@pytest.mark.parametrize(
    ("status", "exist", "action"),
    [
        ("succeeded", True, "skip"),
        ("skipped", True, "skip"),  # a skip of a skip: still the producer's outputs
        ("succeeded", False, "run"),  # finished, but its outputs are gone (a deleted blend, a vacuumed table)
        ("running", True, "resume"),  # killed: no end row
        ("failed", True, "resume"),
    ],
)
def test_decide(status, exist, action):
    rec = _rec(status)
    seen = []

    def outputs_exist(outputs):
        seen.append(outputs)
        return exist

    got, record = decide("k", {"k": rec}, outputs_exist)
    assert got == action and record is rec
    assert seen == ([rec.outputs] if status in ("succeeded", "skipped") else [])  # only finished outputs are checked


def test_a_key_never_seen_runs():
    assert decide("new", {"old": _rec("succeeded")}, lambda o: True) == ("run", None)


# ------------------------------------------------------------------------------------------------ commands
def test_commands_quote_only_what_needs_it():
    cmd = render_command(
        "tokenize",
        ["--name", "web_en", "--where", "language = 'en'", "--set", "a.b=1", "--set", "classifiers={}", "-i", "a b$"],
    )
    assert cmd == (
        "lakeforge tokenize --name web_en --where \"language = 'en'\" --set a.b=1 --set \"classifiers={}\" -i 'a b$'"
    )


def test_every_stage_kind_has_a_stage_class_in_order():
    from curation.spark.pipeline import STAGES

    assert tuple(STAGES) == STAGE_ORDER
    for kind, cls in STAGES.items():
        assert cls.kind == kind and cls.outputs and cls.job
