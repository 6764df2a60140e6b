"""FineWeb quality signals (line punctuation, short lines, duplicated line characters, newlines) and rules."""

from __future__ import annotations

import pytest
from textsamples import CHINESE, NAV, PROSE, SPAM, wikipedia_docs

from curation.filters import FineWebQualityConfig, Rule, failing, fineweb_quality_rules, fineweb_quality_signals
from curation.filters.fineweb import FINEWEB_QUALITY_SIGNALS

# Long lines without terminal punctuation (a table of contents, a title list, ...).
UNPUNCTUATED = "\n".join(f"Chapter {i}: the long road from the village to the sea and back" for i in range(12))
# A two-words-per-line list of long lines: many newlines per word, nothing else wrong.
LIST = "\n".join(f"Internationalization characteristically{i}." for i in range(20))


def fineweb(text, lang="en", cfg=None):
    return failing(fineweb_quality_rules(cfg), fineweb_quality_signals(text, lang, cfg))


def test_signals_by_hand():
    text = "First line ends here.\nshort\n\nFirst line ends here.\nAnother line without an end"
    # lines: "First line ends here." (21), "short" (5), "First line ends here." (21), "Another line without an end" (27)
    # characters other than \n: 78 - 4 = 74; words: 4 + 1 + 4 + 5 = 14; newlines: 4
    assert fineweb_quality_signals(text) == {
        "fineweb_line_count": 4,
        "fineweb_line_punct_ratio": 2 / 4,
        "fineweb_short_line_ratio": 4 / 4,
        "fineweb_char_dup_ratio": 21 / 74,
        "fineweb_newline_ratio": 4 / 14,
    }
    assert fineweb_quality_signals(text, cfg=FineWebQualityConfig(short_line_length=20))[
        "fineweb_short_line_ratio"
    ] == (1 / 4)


def test_terminal_punctuation():
    def punct(text):
        return fineweb_quality_signals(text)["fineweb_line_punct_ratio"]

    assert punct("one.\ntwo?\nthree!\nfour。\nfive؟") == 1.0
    # As in datatrove: a closing quote, an ellipsis character, a colon do not end a line; trailing spaces are stripped.
    assert punct('one."\ntwo…\nthree:\nfour') == 0.0
    assert punct("one.   \n") == 1.0


def test_empty_none_non_english_and_types():
    assert fineweb_quality_signals("") == {"fineweb_line_count": 0} | dict.fromkeys(
        ["fineweb_line_punct_ratio", "fineweb_short_line_ratio", "fineweb_char_dup_ratio", "fineweb_newline_ratio"]
    )
    assert fineweb("") == ["fineweb_empty"]
    assert fineweb(" \n\n \t") == ["fineweb_empty"]
    assert fineweb_quality_signals(None) == dict.fromkeys(FINEWEB_QUALITY_SIGNALS)
    assert fineweb(None) == []
    # Lines but no words: the newline ratio is undefined (datatrove divides by zero).
    assert fineweb_quality_signals("---\n***")["fineweb_newline_ratio"] is None
    zh = fineweb_quality_signals(CHINESE, "zh")
    assert zh == {
        "fineweb_line_count": 1,
        "fineweb_line_punct_ratio": 1.0,
        "fineweb_short_line_ratio": 0.0,
        "fineweb_char_dup_ratio": 0.0,
        "fineweb_newline_ratio": 0.0,
    }
    for text, lang in [(PROSE, "en"), (NAV, "en"), (SPAM, "en"), (CHINESE, "zh"), ("", "en"), (None, "en")]:
        signals = fineweb_quality_signals(text, lang)
        assert signals.keys() == FINEWEB_QUALITY_SIGNALS.keys()
        assert all(v is None or type(v) is FINEWEB_QUALITY_SIGNALS[k] for k, v in signals.items())


TRIPS = {
    "fineweb_empty": "",
    "fineweb_line_punct_ratio": UNPUNCTUATED,
    "fineweb_short_line_ratio": NAV,
    "fineweb_char_dup_ratio": SPAM,
    "fineweb_list_ratio": LIST,
}


def test_rules():
    rules = fineweb_quality_rules()
    assert rules == [
        Rule("fineweb_line_count", "<", 1, "fineweb_empty"),
        Rule("fineweb_line_punct_ratio", "<", 0.12, "fineweb_line_punct_ratio"),
        Rule("fineweb_short_line_ratio", ">", 0.67, "fineweb_short_line_ratio"),
        Rule("fineweb_char_dup_ratio", ">", 0.01, "fineweb_char_dup_ratio"),
        Rule("fineweb_newline_ratio", ">", 0.3, "fineweb_list_ratio"),
    ]
    assert [r.reason for r in rules] == list(TRIPS)
    assert {r.signal for r in rules} <= FINEWEB_QUALITY_SIGNALS.keys()
    cfg = FineWebQualityConfig(drop_empty=False, line_punct_thr=None, char_duplicates_ratio=0.05)
    assert [r.reason for r in fineweb_quality_rules(cfg)] == [
        "fineweb_short_line_ratio",
        "fineweb_char_dup_ratio",
        "fineweb_list_ratio",
    ]
    assert fineweb_quality_rules(cfg)[1].threshold == 0.05


@pytest.mark.parametrize("reason", list(TRIPS))
def test_rule_trips(reason):
    assert reason in fineweb(TRIPS[reason])


def test_trips_are_specific():
    assert fineweb(UNPUNCTUATED) == ["fineweb_line_punct_ratio"]
    assert fineweb(LIST) == ["fineweb_list_ratio"]
    assert fineweb(SPAM) == ["fineweb_char_dup_ratio"]
    assert fineweb(NAV) == [
        "fineweb_line_punct_ratio",
        "fineweb_short_line_ratio",
        "fineweb_char_dup_ratio",
        "fineweb_list_ratio",
    ]


@pytest.mark.parametrize("rule", fineweb_quality_rules(), ids=lambda r: r.reason)
def test_rule_passes_on_prose(rule):
    assert not rule.failed(fineweb_quality_signals(PROSE))
    assert not rule.failed(fineweb_quality_signals(CHINESE, "zh"))


def test_wikipedia_paragraphs_pass_fineweb(shared_data):
    for doc in wikipedia_docs(shared_data):
        assert fineweb(doc) == [], doc[:200]
