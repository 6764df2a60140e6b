"""The curate pipeline as pure row logic, on inline pages: real trafilatura (in its sandbox), real fastText."""

from __future__ import annotations

import pytest
from textsamples import PROSE

from curation.config import load
from curation.curate import STAGES, CurateConfig, Curator, reason_stages, stage_rules, verdict
from schemas import DOCUMENTS

ARTICLE = (
    "<html><head><title>Millbrook</title></head><body><nav>Home | News | Contact</nav><article>"
    + "".join(f"<p>{para}</p>" for para in PROSE.split("\n\n"))
    + "</article></body></html>"
).encode()
GERMAN = (
    "<html><body><article><p>Der Gemeinderat hat am Dienstag über den Haushalt für das kommende Jahr beraten. Die "
    "Mitglieder waren sich nach langer Diskussion einig, dass die Bibliothek und die Schulen mehr Geld bekommen "
    "sollen.</p><p>Im Frühjahr soll außerdem die alte Brücke am Fluss erneuert werden, die seit vielen Jahren nur "
    "noch für Fußgänger geöffnet ist. Die Arbeiten dauern voraussichtlich bis zum Herbst.</p><p>Der Bürgermeister "
    "dankte allen Beteiligten für ihre Geduld und kündigte eine Versammlung im Rathaus an, bei der die Bürger ihre "
    "Fragen stellen können.</p></article></body></html>"
).encode()


def page(n: int, body: bytes, url: str | None = None, charset: str | None = None) -> dict:
    return {
        "doc_id": f"d{n}",
        "url": url or f"https://example.org/{n}",
        "source_file": "inline",
        "payload": body,
        "charset": charset,
    }


@pytest.fixture(scope="module")
def curator():
    cfg = load(CurateConfig, {"url_filter": {"banned_words": ["casino"]}})
    cur = Curator(cfg, "run-1")
    yield cur
    cur.close()


def test_rows_have_every_column_and_a_verdict(curator):
    rows = curator.process(
        [
            page(1, ARTICLE),
            page(2, GERMAN, charset="utf-8"),
            page(3, bytes(range(256)) * 50),
            page(4, ARTICLE, url="https://best-casino.example.com/x"),
            page(5, b""),
        ]
    )
    assert [set(r) for r in rows] == [set(DOCUMENTS.names)] * 5
    en, de, binary, casino, empty = rows
    assert en["title"] == "Millbrook" and "library" in en["text"] and en["language"] == "en"
    assert en["drop_reasons"] == [] and en["drop_reason"] is None and en["run_id"] == "run-1"
    assert de["language"] == "de" and de["gopher_stop_words"] is None  # the English stop-word rule skips German
    assert de["drop_reason"] is None
    assert binary["extraction_error"] == "binary_content" and binary["text"] is None
    assert binary["drop_reason"] == "binary_content" and binary["gopher_word_count"] is None
    # The URL filter comes first, but the page is still extracted and scored: thresholds stay re-appliable.
    assert casino["drop_reason"] == "url_blocklist" and casino["url_block_match"] == "word:casino"
    assert casino["text"] == en["text"] and casino["gopher_word_count"] == en["gopher_word_count"]
    assert empty["drop_reason"] == "empty_payload"
    seconds, docs = curator.take_timings()
    assert set(seconds) == set(STAGES) and docs["decode"] == 5 and docs["extract"] == 3


def test_verdict_order_follows_the_pipeline():
    cfg = CurateConfig()
    row = dict.fromkeys(DOCUMENTS.names)
    row |= {"extraction_error": "extraction_timeout", "url_blocked": True}
    assert verdict(row, cfg) == ["url_blocklist", "extraction_timeout"]
    row |= {"extraction_error": "undecodable"}
    assert verdict(row, cfg) == ["undecodable", "url_blocklist"]
    row = dict.fromkeys(DOCUMENTS.names) | {"language": "en", "language_score": 0.3, "gopher_word_count": 10}
    assert verdict(row, cfg) == ["language_low_score", "gopher_short_doc"]


def test_every_reason_has_a_stage():
    cfg = load(CurateConfig, {"langid": {"keep_languages": ["en"]}, "toxicity": {"max_toxic_fraction": 0.1}})
    stages = reason_stages(cfg)
    for stage, rules in stage_rules(cfg):
        for rule in rules:
            assert stages[rule.reason] == stage
    assert stages["extraction_timeout"] == "extract" and stages["binary_content"] == "decode"
