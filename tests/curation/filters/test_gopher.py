"""Gopher quality and repetition signals and rules, on inline text and on real Wikipedia paragraphs."""

from __future__ import annotations

import pytest
from textsamples import CHINESE, NAV, PROSE, SPAM, wikipedia_docs

from curation.filters import (
    GopherQualityConfig,
    GopherRepetitionConfig,
    Rule,
    failing,
    gopher_quality_rules,
    gopher_quality_signals,
    gopher_repetition_rules,
    gopher_repetition_signals,
)
from curation.filters.gopher import GOPHER_QUALITY_SIGNALS, gopher_repetition_signal_types

CHANT = "buy cheap watches " * 40
GERMAN = (
    "Die Stadt liegt an einem langsamen, braunen Fluss. Im neunzehnten Jahrhundert war sie für ihre Papiermühlen "
    "bekannt, die Wasser aus dem Fluss und Kraft aus einer Reihe kleiner Dämme bezogen."
)


def quality(text, lang="en", cfg=None):
    return failing(gopher_quality_rules(cfg), gopher_quality_signals(text, lang, cfg))


def repetition(text, lang="en", cfg=None):
    return failing(gopher_repetition_rules(cfg), gopher_repetition_signals(text, lang, cfg))


# ---- quality: hand-computed signals --------------------------------------------------------------------------------


def test_quality_signals_by_hand():
    text = "# Title\n- one two...\n\n- three four\nThe cat and 42 dogs…"
    # words: Title one two three four The cat and 42 dogs (10); characters 5+3+3+5+4+3+3+3+2+4 = 35
    # lines (non-blank): "# Title", "- one two...", "- three four", "The cat and 42 dogs…"
    assert gopher_quality_signals(text) == {
        "gopher_word_count": 10,
        "gopher_avg_word_length": 3.5,
        "gopher_hash_word_ratio": 1 / 10,
        "gopher_ellipsis_word_ratio": 2 / 10,  # "..." and "…"
        "gopher_bullet_lines_ratio": 2 / 4,
        "gopher_ellipsis_lines_ratio": 2 / 4,
        "gopher_alpha_words_ratio": 9 / 10,  # "42" has no letter
        "gopher_stop_words": 2,  # "the" (from "The") and "and"
    }


def test_quality_signals_empty_none_and_types():
    empty = gopher_quality_signals("")
    assert empty["gopher_word_count"] == 0 and empty["gopher_stop_words"] == 0
    assert all(empty[k] is None for k in GOPHER_QUALITY_SIGNALS if k not in ("gopher_word_count", "gopher_stop_words"))
    assert quality("") == ["gopher_short_doc", "gopher_too_few_stop_words"]
    assert gopher_quality_signals(None) == dict.fromkeys(GOPHER_QUALITY_SIGNALS)
    assert quality(None) == []
    for text, lang in [(PROSE, "en"), (NAV, "en"), (SPAM, "en"), (CHINESE, "zh"), ("", "en"), (None, "en")]:
        signals = gopher_quality_signals(text, lang)
        assert signals.keys() == GOPHER_QUALITY_SIGNALS.keys()
        assert all(v is None or type(v) is GOPHER_QUALITY_SIGNALS[k] for k, v in signals.items())


def test_quality_non_english():
    zh = gopher_quality_signals(CHINESE, "zh")
    assert zh["gopher_word_count"] == 113  # one word per Han character (punctuation excluded)
    assert zh["gopher_avg_word_length"] is None  # meaningless for a character unit
    assert zh["gopher_stop_words"] is None  # English only
    assert zh["gopher_alpha_words_ratio"] == 1.0
    assert quality(CHINESE, "zh") == []
    assert quality(CHINESE, "zh-Hans") == []
    de = gopher_quality_signals(GERMAN, "de")
    assert de["gopher_stop_words"] is None and de["gopher_avg_word_length"] > 4
    assert gopher_quality_signals(GERMAN, None)["gopher_stop_words"] is None
    # Read as English, the same German text lacks English stop words.
    assert "gopher_too_few_stop_words" in quality(GERMAN * 3, "en")
    assert quality(GERMAN * 3, "de") == []


# ---- quality: every rule trips on some text, and ordinary prose passes all of them --------------------------------

QUALITY_TRIPS = {
    "gopher_short_doc": "Too short to be a document of the kind we want.",
    "gopher_long_doc": "the cat " * 50_001,
    "gopher_below_avg_word_length": "I am a big fan of it and so is he. " * 10,
    "gopher_above_avg_word_length": "Internationalization characteristically overcomplicates incomprehensible "
    "bureaucratic administrative responsibilities. " * 10,
    "gopher_too_many_hashes": PROSE + " ".join(f"#tag{i}" for i in range(20)),
    "gopher_too_many_ellipsis": " ".join(["and then..."] * 30) + " " + PROSE,
    "gopher_too_many_bullets": "\n".join(f"- item number {i} of the list with all the details" for i in range(20)),
    "gopher_too_many_end_ellipsis": "\n".join(f"Read more about the town and the river in part {i}…" for i in range(9))
    + "\n"
    + PROSE,
    "gopher_below_alpha_threshold": "The counts of the year: " + " ".join(str(i) for i in range(100)),
    "gopher_too_few_stop_words": "Cats chase mice. Dogs chase cats. Birds watch everything quietly. " * 10,
}


def test_quality_rules_and_reasons():
    rules = gopher_quality_rules()
    assert [r.reason for r in rules] == list(QUALITY_TRIPS)
    assert rules[0] == Rule("gopher_word_count", "<", 50, "gopher_short_doc")
    assert Rule("gopher_alpha_words_ratio", "<", 0.8, "gopher_below_alpha_threshold") in rules
    assert {r.signal for r in rules} <= GOPHER_QUALITY_SIGNALS.keys()
    cfg = GopherQualityConfig(min_doc_words=10, max_doc_words=None, min_stop_words=None)
    reasons = [r.reason for r in gopher_quality_rules(cfg)]
    assert "gopher_long_doc" not in reasons and "gopher_too_few_stop_words" not in reasons
    assert gopher_quality_rules(cfg)[0].threshold == 10


@pytest.mark.parametrize("reason", list(QUALITY_TRIPS))
def test_quality_rule_trips(reason):
    assert reason in quality(QUALITY_TRIPS[reason])


@pytest.mark.parametrize("rule", gopher_quality_rules(), ids=lambda r: r.reason)
def test_quality_rule_passes_on_prose(rule):
    assert not rule.failed(gopher_quality_signals(PROSE))
    assert not rule.failed(gopher_quality_signals(CHINESE, "zh"))


def test_quality_prose_and_boilerplate():
    assert quality(PROSE) == []
    assert quality(NAV) == ["gopher_short_doc", "gopher_too_few_stop_words"]


def test_quality_custom_stop_words_are_signal_time():
    cfg = GopherQualityConfig(stop_words=("cats", "dogs"), min_stop_words=2)
    assert gopher_quality_signals("Cats and dogs.", cfg=cfg)["gopher_stop_words"] == 2
    assert gopher_quality_signals("Cats and dogs.")["gopher_stop_words"] == 1


# ---- repetition: hand-computed signals -----------------------------------------------------------------------------


def test_repetition_signals_by_hand():
    text = "aa bb\naa bb\n\ncc dd\n\ncc dd"  # 25 characters
    cfg = GopherRepetitionConfig(top_n_grams=((2, 0.2), (3, 0.18)), dup_n_grams=((2, 0.1), (3, 0.1)))
    assert gopher_repetition_signals(text, cfg=cfg) == {
        # paragraphs: "aa bb\naa bb", "cc dd", "cc dd" -> one repeat of 5 characters
        "gopher_dup_para_frac": 1 / 3,
        "gopher_dup_para_char_frac": 5 / 25,
        # lines: aa bb, aa bb, cc dd, cc dd -> two repeats of 5 characters
        "gopher_dup_line_frac": 2 / 4,
        "gopher_dup_line_char_frac": 10 / 25,
        # 2-grams: (aa bb)x2 (bb aa) (bb cc) (cc dd)x2 (dd cc): the first most frequent is "aa bb", 5 chars, twice
        "gopher_top_2gram_frac": 10 / 25,
        # no 3-gram occurs twice
        "gopher_top_3gram_frac": 0.0,
        # greedy scan, n=2: (aa bb) (bb aa) [aa bb]+4 skip 2, (cc dd) (dd cc) [cc dd]+4 -> 8 word characters
        "gopher_dup_2gram_frac": 8 / 25,
        "gopher_dup_3gram_frac": 0.0,
    }


def test_repetition_details():
    # n-grams compare as word tuples: ("ab", "c") and ("a", "bc") are different (datatrove's "".join collides).
    cfg = GopherRepetitionConfig(top_n_grams=(), dup_n_grams=((2, 0.1),))
    assert gopher_repetition_signals("ab c a bc", cfg=cfg)["gopher_dup_2gram_frac"] == 0.0
    # No separator counted between characters of a language written without spaces: 你好 ×2 = 4 of 4 characters.
    cfg = GopherRepetitionConfig(top_n_grams=((2, 0.2),), dup_n_grams=())
    assert gopher_repetition_signals("你好你好", "zh", cfg)["gopher_top_2gram_frac"] == 1.0
    # One space between words of the n-gram otherwise: "ab cd" ×2 = 10 of 11 characters.
    assert gopher_repetition_signals("ab cd ab cd", "en", cfg)["gopher_top_2gram_frac"] == 10 / 11
    # Fewer words than n, or nothing repeated: 0.0, not a failure.
    assert gopher_repetition_signals("hello world", cfg=cfg)["gopher_top_2gram_frac"] == 0.0
    assert gopher_repetition_signals("Just one line.")["gopher_dup_10gram_frac"] == 0.0


def test_repetition_empty_none_and_types():
    types = gopher_repetition_signal_types()
    assert list(types) == [
        "gopher_dup_para_frac",
        "gopher_dup_para_char_frac",
        "gopher_dup_line_frac",
        "gopher_dup_line_char_frac",
        "gopher_top_2gram_frac",
        "gopher_top_3gram_frac",
        "gopher_top_4gram_frac",
        *(f"gopher_dup_{n}gram_frac" for n in range(5, 11)),
    ]
    assert gopher_repetition_signals("") == dict.fromkeys(types)
    assert gopher_repetition_signals(None) == dict.fromkeys(types)
    assert repetition("") == [] and repetition(None) == []
    for text, lang in [(PROSE, "en"), (NAV, "en"), (SPAM, "en"), (CHINESE, "zh")]:
        signals = gopher_repetition_signals(text, lang)
        assert signals.keys() == types.keys()
        assert all(v is None or type(v) is float for v in signals.values())
    with pytest.raises(ValueError, match="distinct positive"):
        GopherRepetitionConfig(top_n_grams=((2, 0.2), (2, 0.1)))


# ---- repetition: every rule trips on some text, and ordinary prose passes all of them -----------------------------

REPETITION_TRIPS = {
    "gopher_dup_para_frac": SPAM,
    "gopher_dup_para_char_frac": SPAM,
    "gopher_dup_line_frac": SPAM,
    "gopher_dup_line_char_frac": SPAM,
    "gopher_top_2_gram": CHANT,
    "gopher_top_3_gram": CHANT,
    "gopher_top_4_gram": CHANT,
    **{f"gopher_duplicated_{n}_n_grams": CHANT for n in range(5, 11)},
}


def test_repetition_rules_and_reasons():
    rules = gopher_repetition_rules()
    assert [r.reason for r in rules] == list(REPETITION_TRIPS)
    assert all(r.op == ">" for r in rules)
    assert {r.signal for r in rules} <= gopher_repetition_signal_types().keys()
    assert Rule("gopher_top_3gram_frac", ">", 0.18, "gopher_top_3_gram") in rules
    assert Rule("gopher_dup_10gram_frac", ">", 0.10, "gopher_duplicated_10_n_grams") in rules
    cfg = GopherRepetitionConfig(dup_para_frac=None, top_n_grams=((5, 0.5),), dup_n_grams=())
    assert [r.reason for r in gopher_repetition_rules(cfg)] == [
        "gopher_dup_para_char_frac",
        "gopher_dup_line_frac",
        "gopher_dup_line_char_frac",
        "gopher_top_5_gram",
    ]


@pytest.mark.parametrize("reason", list(REPETITION_TRIPS))
def test_repetition_rule_trips(reason):
    assert reason in repetition(REPETITION_TRIPS[reason])


@pytest.mark.parametrize("rule", gopher_repetition_rules(), ids=lambda r: r.reason)
def test_repetition_rule_passes_on_prose(rule):
    assert not rule.failed(gopher_repetition_signals(PROSE))
    assert not rule.failed(gopher_repetition_signals(CHINESE, "zh"))


def test_repetition_boilerplate():
    assert repetition(PROSE) == []
    # Two navigation lines repeat (2 of 10 lines, 12 of 132 characters): under both thresholds.
    signals = gopher_repetition_signals(NAV)
    assert signals["gopher_dup_line_frac"] == 2 / 10 and signals["gopher_dup_line_char_frac"] == 12 / len(NAV)
    assert repetition(NAV) == []


# ---- real text -----------------------------------------------------------------------------------------------------


def test_wikipedia_paragraphs_pass_gopher(shared_data):
    for doc in wikipedia_docs(shared_data):
        assert quality(doc) == [], doc[:200]
        assert repetition(doc) == [], doc[:200]
