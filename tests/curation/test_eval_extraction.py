"""eval.extraction: the scoring on inline pages, and the quality bar on trafilatura's real benchmark."""

from __future__ import annotations

import dataclasses
import gzip
import json

import pytest
from textsamples import MILL_PARAGRAPHS

from curation.extract import ExtractConfig
from eval.extraction import count_fragments, evaluate, format_table, main

PARAGRAPHS = MILL_PARAGRAPHS
PAGE = (
    "<html><head><title>The Old Mill</title></head><body><nav><ul><li><a href='/'>Home page</a></li>"
    "<li><a href='/contact'>Contact and directions</a></li></ul></nav><article><h1>The Old Mill</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</article><footer>Copyright 2024 Example Site. Imprint and privacy policy.</footer></body></html>"
)


def test_count_fragments():
    text = "The mill   was built\nin 1843.\nOpening hours: 10-16."
    assert count_fragments(["mill was built in 1843", "bakery"], ["Opening hours", "Imprint"], text) == (1, 1, 1, 1)
    assert count_fragments(["a", "b"], ["c"], None) == (0, 0, 2, 1)
    assert count_fragments(["a"], ["c"], "") == (0, 0, 1, 1)


@pytest.fixture
def small_benchmark(tmp_path):
    """Two pages on disk (one gzipped in cache/, one plain in eval/) and one the JSON names but that is missing."""
    (tmp_path / "cache").mkdir()
    (tmp_path / "eval").mkdir()
    (tmp_path / "cache" / "mill.html.gz").write_bytes(gzip.compress(PAGE.encode("utf-8")))
    latin1 = PAGE.replace("mill", "mïll").replace("<head>", "<head><meta charset='iso-8859-1'>")
    (tmp_path / "eval" / "mill-latin1.html").write_bytes(latin1.encode("latin-1"))
    item = {"with": [PARAGRAPHS[0][:60], PARAGRAPHS[2][-50:]], "without": ["Contact and directions", "Copyright 2024"]}
    data = {
        "https://example.org/mill": {"file": "mill.html", **item},
        "https://example.org/latin1": {
            "file": "mill-latin1.html",
            "with": [p.replace("mill", "mïll") for p in item["with"]],
            "without": item["without"],
        },
        "https://example.org/gone": {"file": "gone.html", **item},
    }
    (tmp_path / "evaldata.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path


def test_missing_pages_are_skipped_and_counted(small_benchmark):
    report = evaluate(small_benchmark, systems=("lakeforge", "trafilatura"))
    assert report.pages == 2
    assert report.missing == ["gone.html"]
    lakeforge = report.scores["lakeforge"]
    assert (lakeforge.pages, lakeforge.tp, lakeforge.fn, lakeforge.fp, lakeforge.tn) == (2, 4, 0, 0, 4)
    assert (lakeforge.precision, lakeforge.recall, lakeforge.f1, lakeforge.accuracy) == (1.0, 1.0, 1.0, 1.0)
    assert report.scores["trafilatura"].pages == 2
    table = format_table(report)
    assert "lakeforge" in table and "1 page(s) named in evaldata.json missing" in table


def test_limit_and_unknown_systems(small_benchmark):
    assert evaluate(small_benchmark, limit=1, systems=("trafilatura",)).pages == 1
    with pytest.raises(ValueError, match="unknown system"):
        evaluate(small_benchmark, systems=("boilerpipe",))


def test_main_json(small_benchmark, capsys):
    assert main(["--data-dir", str(small_benchmark), "--json", "--systems", "lakeforge"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pages"] == 2 and report["missing"] == ["gone.html"]
    assert report["scores"]["lakeforge"]["f1"] == 1.0
    assert report["config"]["favor_precision"] is True


def test_lakeforge_is_not_worse_than_trafilatura_defaults(shared_data):
    """The whole benchmark (990 pages): subsets are too small for the bar, the F1 gap is ~0.001 and random halves
    of the set flip it. The time limit is raised to 10 s: on a loaded shared machine the default 1 s can cut the
    largest (1.4 MB) pages, which would measure the machine, not the extraction settings."""
    data_dir = shared_data / "extraction" / "trafilatura_eval"
    if not (data_dir / "evaldata.json").is_file():
        pytest.skip(f"{data_dir} holds no evaldata.json")
    cfg = dataclasses.replace(ExtractConfig(), timeout_s=10.0)
    report = evaluate(data_dir, cfg=cfg, systems=("lakeforge", "trafilatura"), concurrent=True)
    print(format_table(report))
    ours, theirs = report.scores["lakeforge"], report.scores["trafilatura"]
    assert report.pages + len(report.missing) == 990
    assert report.pages >= 980
    assert ours.timeouts == 0 and ours.failures == 0
    assert ours.f1 >= theirs.f1
    assert ours.precision >= theirs.precision
    assert ours.accuracy >= theirs.accuracy
