"""extract_html with real trafilatura: settings, plain-text form, per-document deduplication, the recall fallback."""

from __future__ import annotations

import dataclasses
import gzip
import inspect
import json

import pytest
import trafilatura
from textsamples import MILL_PARAGRAPHS
from trafilatura.deduplication import LRU_TEST, LRUCache

from curation.config import load
from curation.extract.decode import decode_html
from curation.extract.html_text import ExtractConfig, Extraction, extract_html

CFG = ExtractConfig()

SHARED = MILL_PARAGRAPHS


def article(paragraphs: list[str], title: str = "The Old Mill") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<html><head><title>{title} | Example Site</title></head><body>"
        "<nav><ul><li><a href='/'>Home</a></li><li><a href='/news'>News</a></li><li><a href='/about'>About us</a></li>"
        "</ul></nav>"
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer><p>Copyright 2024 Example Site. All rights reserved. Imprint. Privacy policy.</p></footer>"
        "</body></html>"
    )


PAGE_A = article(
    [
        *SHARED,
        "Visitors who arrive by bicycle can leave their bikes in the courtyard, where a local club offers free "
        "repairs on the first Sunday of every month.",
        "Guided tours start at eleven and at three; they last about an hour and end in the bakery, where the "
        "bread of the day is sold until it runs out.",
    ]
)
PAGE_B = article(
    [
        *SHARED,
        "The museum's collection of threshing machines is the largest in the region and was put together over "
        "three decades by a retired schoolteacher.",
        "In winter the museum closes at four, but the bakery stays open until six and serves hot chocolate made "
        "with milk from the farm across the river.",
    ],
    title="Winter at the Mill",
)


def test_config_validation():
    with pytest.raises(ValueError, match="exclusive"):
        ExtractConfig(favor_precision=True, favor_recall=True)
    with pytest.raises(ValueError, match="timeout_s"):
        ExtractConfig(timeout_s=0)
    with pytest.raises(ValueError, match="max_html_chars"):
        ExtractConfig(max_html_chars=0)
    with pytest.raises(ValueError, match="max_memory_mb"):
        ExtractConfig(max_memory_mb=10)
    with pytest.raises(ValueError, match="fallback_below_chars"):
        ExtractConfig(fallback_below_chars=-1)
    assert ExtractConfig(favor_precision=False, favor_recall=True).favor_recall


def test_config_loads_from_a_dict_and_documents_every_field():
    assert load(ExtractConfig, {"timeout_s": 2.5, "include_tables": False}) == ExtractConfig(
        timeout_s=2.5, include_tables=False
    )
    source = [line.strip() for line in inspect.getsource(ExtractConfig).splitlines()]
    for f in dataclasses.fields(ExtractConfig):
        line = next(i for i, text in enumerate(source) if text.startswith(f"{f.name}: "))
        assert source[line + 1].startswith('"""'), f"{f.name} has no docstring"


def test_article_text_and_title():
    r = extract_html(PAGE_A, "https://example.org/mill", CFG)
    assert (r.status, r.reason, r.detail) == ("ok", None, None)
    assert r.title == "The Old Mill"
    assert r.text.split("\n")[:2] == ["The Old Mill", SHARED[0]]  # one heading or paragraph per line
    assert "Guided tours start at eleven" in r.text
    assert "About us" not in r.text and "Copyright" not in r.text
    assert r.seconds > 0


def test_same_text_as_trafilatura_extract():
    # plain-text form exactly as trafilatura.extract gives it for the same settings
    cfg = ExtractConfig(fallback_below_chars=None)
    for html in (PAGE_A, PAGE_B):
        expected = trafilatura.extract(
            html, favor_precision=True, include_comments=False, include_tables=True, deduplicate=LRUCache(4096)
        )
        assert extract_html(html, None, cfg).text == expected


def test_empty_and_whitespace_input():
    for html in ("", "   \n\t", None):
        r = extract_html(html, None, CFG)
        assert (r.status, r.reason, r.text, r.detail) == ("empty", "extraction_empty", None, "empty input")


def test_bytes_are_a_programming_error():
    with pytest.raises(TypeError, match="decode_html"):
        extract_html(PAGE_A.encode(), None, CFG)


def test_binary_text_is_failed():
    r = extract_html("\x00\x01\x02\x03garbage\x04\x05" * 100, None, CFG)
    assert (r.status, r.reason, r.detail, r.text) == ("failed", "extraction_failed", "binary", None)


def test_page_without_main_text_is_empty_but_keeps_its_title():
    html = "<html><head><title>Nothing here</title></head><body><div></div><script>var a = 1;</script></body></html>"
    r = extract_html(html, None, CFG)
    assert (r.status, r.reason, r.text) == ("empty", "extraction_empty", None)
    assert r.title == "Nothing here"
    assert r.detail


def test_long_html_is_cut_before_parsing():
    late = "This sentence sits far down the page, after a great deal of markup, and must not be extracted."
    padding = "<div class='x'><span>.</span></div>" * 200
    html = article(SHARED).replace("</article>", f"{padding}<p>{late}</p></article>")
    assert late in extract_html(html, None, CFG).text
    cut = extract_html(html, None, ExtractConfig(max_html_chars=html.index(padding) + 100))
    assert cut.status == "ok" and SHARED[0] in cut.text and late not in cut.text


def test_exact_same_output_after_other_documents():
    """Deduplication is per document: B's segments, seen before, never remove anything from A."""
    alone = dataclasses.replace(extract_html(PAGE_A, None, CFG), seconds=0.0)
    for _ in range(3):
        assert all(p in extract_html(PAGE_B, None, CFG).text for p in SHARED)
    assert dataclasses.replace(extract_html(PAGE_A, None, CFG), seconds=0.0) == alone
    assert all(p in alone.text for p in SHARED)


def test_same_page_five_times_is_identical_and_non_empty():
    texts = [extract_html(PAGE_A, None, CFG).text for _ in range(5)]
    assert texts[0] and all(t == texts[0] for t in texts)


def test_trafilatura_global_dedup_would_depend_on_history():
    """The hazard the per-document cache avoids: with trafilatura's process-wide cache, text disappears."""
    LRU_TEST.clear()
    try:
        texts = [trafilatura.extract(PAGE_A, favor_precision=True, deduplicate=True) for _ in range(5)]
        assert texts[0] and texts[-1] != texts[0]
    finally:
        LRU_TEST.clear()
    # and the per-document cache leaves the global one alone
    extract_html(PAGE_A, None, CFG)
    assert not LRU_TEST.cache


def test_deduplication_within_a_document():
    repeated = "This announcement is repeated on the page many times because the template includes it in every block."
    others = [
        *SHARED,
        *(f"Distinct paragraph {i} about something else entirely, long enough to be kept." for i in range(4)),
    ]
    html = article([p for other in others for p in (other, repeated)])  # not adjacent: trafilatura merges those
    without = extract_html(html, None, ExtractConfig(deduplicate=False)).text
    with_dedup = extract_html(html, None, CFG).text
    assert without.count(repeated) == len(others)
    assert 0 < with_dedup.count(repeated) < len(others)
    assert all(other in with_dedup for other in others)


# -- real pages from trafilatura's benchmark


@pytest.fixture(scope="module")
def eval_pages(shared_data):
    folder = shared_data / "extraction" / "trafilatura_eval"
    if not (folder / "evaldata.json").is_file():
        pytest.skip(f"{folder} holds no evaldata.json")
    data = json.loads((folder / "evaldata.json").read_text())
    pages = {}
    for url, item in list(data.items())[:25]:
        for sub in ("cache", "eval"):
            path = folder / sub / f"{item['file']}.gz"
            if path.is_file():
                pages[item["file"]] = (url, decode_html(gzip.decompress(path.read_bytes())).text)
    return folder, pages


def test_real_pages_do_not_depend_on_order(eval_pages):
    _, pages = eval_pages
    forward = {name: extract_html(html, url, CFG) for name, (url, html) in pages.items()}
    backward = {name: extract_html(html, url, CFG) for name, (url, html) in reversed(pages.items())}
    assert len(forward) >= 20
    assert sum(r.status == "ok" for r in forward.values()) >= 20
    for name in pages:
        assert (forward[name].text, forward[name].title) == (backward[name].text, backward[name].title), name


def _page(folder, name):
    for sub in ("cache", "eval"):
        path = folder / sub / f"{name}.gz"
        if path.is_file():
            return decode_html(gzip.decompress(path.read_bytes())).text
    pytest.skip(f"{name} is not in the benchmark folder")


@pytest.mark.parametrize("name", ["eluniversal.com-senador.html", "security.googleblog.com.protection.html"])
def test_recall_fallback_on_pages_precision_leaves_empty(eval_pages, name):
    folder, _ = eval_pages
    html = _page(folder, name)
    precise = extract_html(html, None, ExtractConfig(fallback_below_chars=None))
    fallback = extract_html(html, None, CFG)
    balanced = extract_html(html, None, ExtractConfig(favor_precision=False))
    assert len(precise.text or "") < CFG.fallback_below_chars
    assert fallback.status == "ok" and fallback.text == balanced.text
    assert len(fallback.text) > 1000


def test_no_fallback_for_pages_with_enough_precise_text():
    precise = extract_html(PAGE_A, None, ExtractConfig(fallback_below_chars=None))
    assert len(precise.text) >= CFG.fallback_below_chars
    assert extract_html(PAGE_A, None, CFG).text == precise.text


def test_extraction_is_a_plain_record():
    r = extract_html(PAGE_A, None, CFG)
    assert isinstance(r, Extraction)
    assert set(dataclasses.asdict(r)) == {"title", "text", "status", "reason", "detail", "seconds"}
