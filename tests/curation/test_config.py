"""Config loading, validation and hashing."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation.config import IngestConfig, SparkConfig, config_hash, load, to_dict
from curation.provenance import RunInfo

REPO = Path(__file__).resolve().parents[2]


def test_documented_config_file_is_the_defaults():
    assert load(IngestConfig, REPO / "conf" / "ingest.yaml") == IngestConfig()


def test_unknown_keys_are_named(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("max_payload_byte: 5\n")
    with pytest.raises(ValueError, match="unknown setting.*max_payload_byte"):
        load(IngestConfig, f)


def test_invalid_values_raise_value_error():
    with pytest.raises(ValueError, match="max_record_bytes"):
        IngestConfig(max_payload_bytes=10, max_record_bytes=5)
    with pytest.raises(ValueError, match="config file not found"):
        load(IngestConfig, "/no/such/file.yaml")


def test_overrides_and_lists_become_tuples(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("html_content_types: [text/html]\nmax_payload_bytes: 100\n")
    cfg = load(IngestConfig, f, max_payload_bytes=200, paths_base=None)
    assert cfg.html_content_types == ("text/html",) and cfg.max_payload_bytes == 200


def test_hash_is_stable_and_sensitive():
    assert config_hash(IngestConfig()) == config_hash(IngestConfig())
    assert config_hash(IngestConfig()) != config_hash(IngestConfig(max_payload_bytes=2**19))
    assert len(config_hash(IngestConfig(), SparkConfig())) == 16
    assert to_dict(IngestConfig())["max_payload_bytes"] == 2**20


def test_commit_metadata_cuts_long_input_lists():
    run = RunInfo(job="ingest", config_hash="abc", config={}, inputs=[f"f{i}" for i in range(500)])
    import json

    meta = json.loads(run.commit_metadata())
    assert meta["inputs_count"] == 500 and len(meta["inputs"]) == 200 and meta["inputs_truncated"]
    assert meta["run_id"].startswith("ingest-") and meta["code_version"]


def test_curate_yaml_documents_the_defaults():
    from curation.curate import CurateConfig

    assert load(CurateConfig, REPO / "conf" / "curate.yaml") == CurateConfig()


def test_nested_sections_and_set_overrides():
    from curation.config import set_path
    from curation.curate import CurateConfig

    settings = set_path({}, "gopher_quality.min_doc_words=30")
    set_path(settings, "langid.keep_languages=[en, de]")
    cfg = load(CurateConfig, settings)
    assert cfg.gopher_quality.min_doc_words == 30 and cfg.langid.keep_languages == ("en", "de")
    assert cfg.c4 == CurateConfig().c4
    with pytest.raises(ValueError, match=r"CurateConfig\.gopher_quality: unknown setting.*min_words"):
        load(CurateConfig, {"gopher_quality": {"min_words": 3}})
    with pytest.raises(ValueError, match="n-gram sizes"):
        load(CurateConfig, {"gopher_repetition": {"top_n_grams": [[5, 0.1]]}})


def test_renamed_setting_is_read_with_one_deprecation_line(caplog):
    """``gopher_quality.max_non_alpha_words_ratio`` was a minimum under a "max" name: it is ``min_alpha_words_ratio``
    now; the old key still works, says so in one line, and may not be given beside the new one."""
    from curation.config import load_settings
    from curation.curate import CurateConfig

    with caplog.at_level("WARNING", logger="lakeforge.config"):
        cfg = load_settings(CurateConfig, None, ["gopher_quality.max_non_alpha_words_ratio=0.5"])
    assert cfg.gopher_quality.min_alpha_words_ratio == 0.5
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "max_non_alpha_words_ratio is deprecated" in lines[0] and "\n" not in lines[0]
    assert (
        load_settings(
            CurateConfig, None, ["gopher_quality.min_alpha_words_ratio=0.4"]
        ).gopher_quality.min_alpha_words_ratio
        == 0.4
    )
    with pytest.raises(ValueError, match="give only min_alpha_words_ratio"):
        load_settings(
            CurateConfig,
            None,
            ["gopher_quality.max_non_alpha_words_ratio=0.5", "gopher_quality.min_alpha_words_ratio=0.4"],
        )
