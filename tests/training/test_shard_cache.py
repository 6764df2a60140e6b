"""training.shard_cache on real shards (GPT-2 tokens of tinyshakespeare) and the real S3-compatible server: a blend
whose shards are in object storage is staged into a local cache once, checked against the recorded sha256, not
downloaded again, never left with a damaged file; concurrent stagers download once; ``export_megatron`` writes a
``--data-path`` list that Megatron-Core's own builder reads back as the same samples."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from curation.storage import StoreError, open_store, sha256_file
from curation.tokenize.indexed import read_documents
from training.shard_cache import data_path, export_megatron, remote_prefixes, stage_blend

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _tokens(blend: dict) -> list[list[int]]:
    return [d.tolist() for p in blend["blend"]["prefixes"] for d in read_documents(p)]


@pytest.mark.objectstore
def test_stage_downloads_checks_and_is_resumable(s3_blend, local_blend, s3_settings, tmp_path):
    assert len(remote_prefixes(s3_blend)) == 2
    staged, report = stage_blend(s3_blend, tmp_path / "cache", s3_settings, source="s3a://x/blend.json")
    assert report.files == 4 and report.downloaded == 4 and report.present == 0
    assert report.downloaded_bytes == sum(f["bytes"] for c in s3_blend["components"] for f in c["files"])
    assert not remote_prefixes(staged) and all(
        p.startswith(str(tmp_path / "cache")) for p in staged["blend"]["prefixes"]
    )
    # the same blend: the same mixture_id, components, shard sets and weights; only where the files are changed
    assert staged["mixture_id"] == s3_blend["mixture_id"] == local_blend["mixture_id"]
    assert [c["shard_set_id"] for c in staged["components"]] == [c["shard_set_id"] for c in s3_blend["components"]]
    assert staged["blend"]["weights"] == s3_blend["blend"]["weights"]
    assert json.loads(Path(report.blend_path).read_text()) == staged
    for c in staged["components"]:
        for f in c["files"]:
            assert sha256_file(f["path"]) == f["sha256"]
    assert _tokens(staged) == _tokens(local_blend)

    again, second = stage_blend(s3_blend, tmp_path / "cache", s3_settings, source="s3a://x/blend.json")
    assert (second.downloaded, second.present) == (0, 4) and again == staged

    # resumable: a file lost from the cache (or a wrong one in its place) is fetched again, the others are not
    Path(staged["blend"]["prefixes"][0] + ".bin").unlink()
    Path(staged["blend"]["prefixes"][1] + ".idx").write_bytes(b"not an index")
    _, third = stage_blend(s3_blend, tmp_path / "cache", s3_settings)
    assert third.downloaded == 2 and third.present == 2
    assert sorted(third.downloads) == sorted(
        [s3_blend["blend"]["prefixes"][0] + ".bin", s3_blend["blend"]["prefixes"][1] + ".idx"]
    )
    assert _tokens(staged) == _tokens(local_blend)


@pytest.mark.objectstore
def test_a_damaged_object_is_one_line_naming_it_and_never_cached(s3_blend, s3_settings, tmp_path):
    target = s3_blend["blend"]["prefixes"][1] + ".bin"
    store = open_store(target, s3_settings)
    data = bytearray(store.read_bytes(target))
    data[100] ^= 0xFF  # one flipped byte, same size
    store.write_bytes(target, bytes(data))
    with pytest.raises(StoreError) as e:
        stage_blend(s3_blend, tmp_path / "cache", s3_settings)
    assert e.value.reason == "bad_checksum"
    message = str(e.value)
    assert "\n" not in message and target in message and "does not match" in message
    assert not [p for p in (tmp_path / "cache").rglob("*.part")]
    assert not (tmp_path / "cache" / "test-plays_b" / "shard-00000-0123abcd.bin").exists()
    assert not (tmp_path / "cache" / "blends").exists()  # no staged blend for a failed stage


def _stage_in_process(blend, cache, settings, queue):
    _, report = stage_blend(blend, cache, settings)
    queue.put((report.downloaded, report.present, report.blend_path))


@pytest.mark.objectstore
def test_concurrent_stagers_on_one_node_download_once(s3_blend, s3_settings, tmp_path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_stage_in_process, args=(s3_blend, tmp_path / "cache", s3_settings, queue)) for _ in range(3)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sum(r[0] for r in results) == 4  # every file downloaded exactly once across the three processes
    assert sorted(r[1] for r in results) == [0, 4, 4]
    assert len({r[2] for r in results}) == 1


def _megatron_from_list(words: list[str], split: str, blend: dict, samples):
    """What pretrain_gpt.py does with --data-path/--split: get_blend_from_list, then BlendedMegatronDatasetBuilder."""
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset
    from megatron.core.datasets.utils import get_blend_from_list

    from training.data import dataset_config

    config = replace(dataset_config(blend), blend=get_blend_from_list(words), split=split)
    return BlendedMegatronDatasetBuilder(GPTDataset, list(samples), lambda: True, config).build()


def test_export_is_a_data_path_megatron_reads_as_the_same_samples(local_blend, tmp_path):
    from training.data import build_datasets

    out = tmp_path / "export"
    result = export_megatron(local_blend, out)
    assert result["prefixes"] == 2 and result["files"] == 4 and result["copied"] == 4
    words = (out / "data-path.txt").read_text().split()
    split = (out / "split.txt").read_text().strip()
    assert split == local_blend["split"]
    prefixes, weights = words[1::2], [float(w) for w in words[0::2]]
    assert weights == local_blend["blend"]["weights"]
    assert all(Path(p).parent.parent == out for p in prefixes)  # DIR/<component>/<shard>
    for c, p in zip(local_blend["components"], prefixes, strict=True):
        assert Path(p).parent.name == c["name"]
        for s, f in zip((".bin", ".idx"), c["files"], strict=True):
            assert sha256_file(p + s) == f["sha256"]
    args = (out / "megatron-args.txt").read_text().split()
    assert args[: 1 + len(words)] == ["--data-path", *words] and args[args.index("--split") + 1] == split
    exported = json.loads((out / "blend.json").read_text())
    assert data_path(exported) == words and exported["mixture_id"] == local_blend["mixture_id"]

    ours = build_datasets(local_blend, (300, 20, 20))
    theirs = _megatron_from_list(words, split, local_blend, (300, 20, 20))
    for a, b in zip(ours, theirs, strict=True):
        assert len(a) == len(b)
        for i in (0, 1, 17, len(a) - 1):
            assert np.array_equal(a[i]["tokens"].numpy(), b[i]["tokens"].numpy())
            assert a.dataset_index[i] == b.dataset_index[i]

    again = export_megatron(local_blend, out)  # exporting again finds the checked files there
    assert again["copied"] == 0 and again["present"] == 4


@pytest.mark.objectstore
def test_export_from_object_storage_checks_every_file(s3_blend, local_blend, s3_settings, tmp_path):
    result = export_megatron(s3_blend, tmp_path / "export", s3_settings)
    assert result["copied"] == 4
    words = (tmp_path / "export" / "data-path.txt").read_text().split()
    exported = {"blend": {"prefixes": words[1::2]}}
    assert _tokens(exported) == _tokens(local_blend)
    shutil.rmtree(tmp_path / "export")
    target = s3_blend["blend"]["prefixes"][0] + ".idx"
    open_store(target, s3_settings).write_bytes(target, b"MMIDIDX\x00\x00 truncated")
    with pytest.raises(StoreError, match="does not match"):
        export_megatron(s3_blend, tmp_path / "export", s3_settings)
