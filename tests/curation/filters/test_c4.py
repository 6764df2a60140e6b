"""C4 signals (line removal summarized, lorem ipsum, curly bracket, sentences) and rules."""

from __future__ import annotations

import pytest
from textsamples import CHINESE, NAV, PROSE, wikipedia_docs

from curation.filters import C4QualityConfig, Rule, c4_clean_lines, c4_quality_rules, c4_quality_signals, failing
from curation.filters.c4 import C4_QUALITY_SIGNALS

LOREM = PROSE + "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n"
CODE = PROSE + "function show() { return the value of the counter; }\n"


def c4(text, lang="en", cfg=None):
    return failing(c4_quality_rules(cfg), c4_quality_signals(text, lang, cfg))


def test_signals_by_hand():
    text = (
        "Welcome to our site.\n"  # kept, 1 sentence
        "Please enable JavaScript to view this page properly.\n"  # javascript: removed
        "This site uses cookies to improve your experience.\n"  # policy: removed
        "Short line\n"  # 2 words: removed
        "\n"  # blank: not a line at all
        "The first real sentence is here. The second one follows it!\n"  # kept, 2 sentences
        "Is this the third sentence? Yes it is.\n"  # kept, 2 sentences
        "Citation needed here [1] and there [citation needed].\n"  # kept without citations, 1 sentence
    )
    assert c4_quality_signals(text) == {
        "c4_lines_removed_frac": 3 / 7,
        "c4_has_lorem_ipsum": False,
        "c4_has_curly_bracket": False,
        "c4_sentences": 6,
    }
    assert c4_clean_lines(text) == (
        "Welcome to our site.\n"
        "The first real sentence is here. The second one follows it!\n"
        "Is this the third sentence? Yes it is.\n"
        "Citation needed here  and there ."
    )
    # Every check can be switched off (signal-time settings).
    cfg = C4QualityConfig(remove_citations=False, min_words_per_line=None, filter_javascript=False, filter_policy=False)
    assert c4_quality_signals(text, cfg=cfg)["c4_lines_removed_frac"] == 0.0
    assert c4_clean_lines(text, cfg=cfg).endswith("[1] and there [citation needed].")


def test_lorem_and_curly_only_count_on_lines_that_survive_the_checks_before_them():
    assert c4_quality_signals(LOREM)["c4_has_lorem_ipsum"] is True
    assert c4_quality_signals(PROSE + "LOREM IPSUM\n")["c4_has_lorem_ipsum"] is False  # 2 words: line removed first
    assert c4_quality_signals(CODE)["c4_has_curly_bracket"] is True
    assert c4_quality_signals(PROSE + "var x = {a: 1} in javascript code\n")["c4_has_curly_bracket"] is False
    assert c4_quality_signals(PROSE + "{}\n")["c4_has_curly_bracket"] is False  # no words: removed first
    # Lorem ipsum is checked before javascript, so it still counts on a javascript line.
    assert c4_quality_signals(PROSE + "lorem ipsum javascript placeholder\n")["c4_has_lorem_ipsum"] is True


def test_long_words_and_terminal_punctuation():
    long_line = "see " + "x" * 1001 + " here now"
    assert c4_clean_lines(PROSE + long_line) == c4_clean_lines(PROSE)
    assert c4_clean_lines(PROSE + "see " + "x" * 1000 + " here now").endswith("x here now")
    text = 'A line that ends well.\nA line with no end\nA trailing ellipsis line...\nA quoted line of "text"'
    assert c4_quality_signals(text)["c4_lines_removed_frac"] == 0.0  # the rule is off by default, as in FineWeb
    on = C4QualityConfig(filter_no_terminal_punct=True)
    assert c4_clean_lines(text, cfg=on) == 'A line that ends well.\nA quoted line of "text"'
    assert c4_quality_signals(text, cfg=on)["c4_lines_removed_frac"] == 2 / 4


def test_empty_none_non_english_and_types():
    assert c4_quality_signals("") == {
        "c4_lines_removed_frac": None,
        "c4_has_lorem_ipsum": False,
        "c4_has_curly_bracket": False,
        "c4_sentences": 0,
    }
    assert c4("") == ["c4_too_few_sentences"]
    assert c4_quality_signals(None) == dict.fromkeys(C4_QUALITY_SIGNALS)
    assert c4(None) == []
    assert c4_clean_lines("") == ""
    # Chinese: words per line count characters, sentences end at 。！？ without a following space.
    zh = c4_quality_signals(CHINESE, "zh")
    assert zh["c4_lines_removed_frac"] == 0.0 and zh["c4_sentences"] == 5
    assert c4(CHINESE, "zh") == []
    assert c4_quality_signals("北京是首都。", "zh")["c4_sentences"] == 1
    for text, lang in [(PROSE, "en"), (NAV, "en"), (LOREM, "en"), (CHINESE, "zh"), ("", "en"), (None, "en")]:
        signals = c4_quality_signals(text, lang)
        assert signals.keys() == C4_QUALITY_SIGNALS.keys()
        assert all(v is None or type(v) is C4_QUALITY_SIGNALS[k] for k, v in signals.items())


TRIPS = {"c4_lorem_ipsum": LOREM, "c4_curly_bracket": CODE, "c4_too_few_sentences": NAV}


def test_rules():
    rules = c4_quality_rules()
    assert rules == [
        Rule("c4_has_lorem_ipsum", "==", True, "c4_lorem_ipsum"),
        Rule("c4_has_curly_bracket", "==", True, "c4_curly_bracket"),
        Rule("c4_sentences", "<", 5, "c4_too_few_sentences"),
    ]
    assert [r.reason for r in rules] == list(TRIPS)
    assert {r.signal for r in rules} <= C4_QUALITY_SIGNALS.keys()
    cfg = C4QualityConfig(filter_lorem_ipsum=False, filter_curly_bracket=False, min_num_sentences=None)
    assert c4_quality_rules(cfg) == []
    assert c4_quality_rules(C4QualityConfig(min_num_sentences=3))[-1].threshold == 3


@pytest.mark.parametrize("reason", list(TRIPS))
def test_rule_trips(reason):
    assert reason in c4(TRIPS[reason])


@pytest.mark.parametrize("rule", c4_quality_rules(), ids=lambda r: r.reason)
def test_rule_passes_on_prose(rule):
    assert not rule.failed(c4_quality_signals(PROSE))
    assert not rule.failed(c4_quality_signals(CHINESE, "zh"))


def test_boilerplate():
    signals = c4_quality_signals(NAV)
    # Only "© 2024 Example Corp. All rights reserved." has 3 words or more; "Corp." does not end a sentence.
    assert signals["c4_lines_removed_frac"] == 9 / 10 and signals["c4_sentences"] == 1
    assert c4_clean_lines(NAV) == "© 2024 Example Corp. All rights reserved."
    assert c4(PROSE) == []


def test_wikipedia_paragraphs_pass_c4(shared_data):
    for doc in wikipedia_docs(shared_data):
        assert c4(doc) == [], doc[:200]
        assert c4_quality_signals(doc)["c4_sentences"] >= 5
