"""Word-list toxicity signal and rules: inline texts over small hand-written lists, then the real LDNOOBW lists and
the Davidson et al. (2017) labelled tweets."""

from __future__ import annotations

import csv
import pickle

import pytest

from curation.filters import (
    Rule,
    ToxicityConfig,
    WordLists,
    failing,
    toxicity_rules,
    toxicity_signals,
)
from curation.filters.toxicity import TOXICITY_SIGNALS, compile_terms, fold, wordlists_for

EN = "Ass\nasshole\nblue waffle\ng-spot\nbloody'ell\n🖕\n\nASS\n"  # a duplicate, a blank line, mixed case
JA = "セックス\nsm\nネオ・ナチ\n"
ZH = "干x娘\n13.\n"
DE = "scheiße\n"


@pytest.fixture
def lists_dir(tmp_path):
    folder = tmp_path / "ldnoobw"
    folder.mkdir()
    for name, text in {"en": EN, "ja": JA, "zh": ZH, "de": DE, "README.md": "ass\n", "LICENSE": "ass\n"}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def lists(lists_dir):
    return WordLists.from_dir(lists_dir)


def count(lists, text, lang="en"):
    return toxicity_signals(text, lang, lists)["toxic_word_count"]


# --------------------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------------------


def test_from_dir_reads_language_files_only(lists_dir, lists):
    assert lists.languages == ["de", "en", "ja", "zh"]  # README.md and LICENSE are not lists
    assert lists.terms("en") == ["Ass", "asshole", "blue waffle", "g-spot", "bloody'ell", "🖕"]
    assert WordLists.from_dir(lists_dir, ["EN", "ja"]).languages == ["en", "ja"]
    with pytest.raises(FileNotFoundError):
        WordLists.from_dir(lists_dir, ["en", "fr"])
    with pytest.raises(FileNotFoundError):
        WordLists.from_dir(lists_dir / "missing")


def test_lists_compile_lazily_once_and_pickle_without_patterns(lists):
    assert lists._patterns == {}
    first = lists.pattern("en")
    assert lists.pattern("en") is first
    assert list(lists._patterns) == ["en"]
    clone = pickle.loads(pickle.dumps(lists))
    assert clone._patterns == {}
    assert count(clone, "you ass") == 1


def test_loaded_lists_travel_without_their_folder(lists_dir, lists):
    """What the driver ships to executors on other machines: the terms themselves, so the folder is never opened."""
    shipped = pickle.dumps(lists.loaded())
    for f in lists_dir.iterdir():
        f.unlink()
    lists_dir.rmdir()
    clone = pickle.loads(shipped)
    assert clone.languages == ["de", "en", "ja", "zh"]
    assert count(clone, "you ass, asshole") == 2 and count(clone, "scheiße", "de") == 1
    with pytest.raises(FileNotFoundError):
        count(pickle.loads(pickle.dumps(lists)), "you ass")  # unloaded lists read their files on first use


def test_wordlists_for_config(lists_dir):
    assert wordlists_for(ToxicityConfig()) is None
    cfg = ToxicityConfig(wordlist_dir=str(lists_dir), languages=("en",))
    assert wordlists_for(cfg) is wordlists_for(cfg)  # one instance per process
    assert wordlists_for(cfg).languages == ["en"]
    with pytest.raises(ValueError):
        ToxicityConfig(languages="en")


def test_language_codes_are_normalised(lists):
    for lang in ("en", "EN", "en-US", "en_GB", "eng"):
        assert toxicity_signals("you ass", lang, lists)["toxic_wordlist_lang"] == "en", lang
    for lang in ("ja", "ja-JP", "jpn"):
        assert toxicity_signals("セックス", lang, lists)["toxic_wordlist_lang"] == "ja", lang
    assert toxicity_signals("干X娘", "zh-Hans", lists)["toxic_wordlist_lang"] == "zh"
    assert toxicity_signals("干X娘", "cmn_Hani", lists)["toxic_word_count"] == 1


# --------------------------------------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------------------------------------


def test_word_boundaries(lists):
    assert count(lists, "a class assistant, classy bass and mass passes") == 0
    assert count(lists, "éass assé aßass ass2 2ass") == 0  # accented letters and digits continue a word
    assert count(lists, 'ass. (ass) ass-hat ass\'s ass’s "ass"') == 6  # punctuation ends one
    assert count(lists, "asshole assholes") == 1


def test_case_insensitive_and_longest_first(lists):
    assert count(lists, "ASS AsS aSs") == 3
    assert lists.find("What an ASSHOLE", "en") == ["asshole"]  # the longer term, not "ass" + nothing
    assert count(lists, "SCHEISSE, Scheiße, scheisse", "de") == 3  # full case folding: ß ~ ss
    assert count(lists, "Scheißegal", "de") == 0


def test_multi_word_phrases_match_across_whitespace(lists):
    for text in ("blue waffle", "Blue  Waffle", "blue\nwaffle", "blue \n\t  waffle", "BLUE\r\nWAFFLE"):
        assert count(lists, text) == 1, repr(text)
    for text in ("bluewaffle", "blue waffles", "blue-waffle", "true blue, waffle"):
        assert count(lists, text) == 0, repr(text)


def test_hyphens_apostrophes_and_symbols(lists):
    assert count(lists, "g-spot G‐spot g‑spot") == 3  # hyphen-minus, U+2010, U+2011
    assert count(lists, "gspot g spot") == 0
    assert count(lists, "bloody'ell, bloody’ell") == 2
    assert count(lists, "🖕 x🖕y") == 2  # a symbol edge needs no word boundary


def test_counts_and_fraction_by_hand(lists):
    text = "That ass is an asshole, a real blue\nwaffle!"
    # words: That ass is an asshole a real blue waffle = 9; matches: ass, asshole, blue waffle = 3
    assert toxicity_signals(text, "en", lists) == {
        "toxic_word_count": 3,
        "toxic_word_fraction": pytest.approx(3 / 9),
        "toxic_wordlist_lang": "en",
    }
    assert toxicity_signals("A perfectly clean sentence.", "en", lists)["toxic_word_count"] == 0
    assert toxicity_signals("", "en", lists) == {
        "toxic_word_count": 0,
        "toxic_word_fraction": 0.0,
        "toxic_wordlist_lang": "en",
    }
    assert toxicity_signals("🖕 !!!", "en", lists)["toxic_word_fraction"] == 0.0  # a match, but no words


def test_no_space_languages_match_substrings(lists):
    # ja: every character is a word, so これはセックスです has 9 words and one match
    signals = toxicity_signals("これはセックスです", "ja", lists)
    assert signals["toxic_word_count"] == 1
    assert signals["toxic_word_fraction"] == pytest.approx(1 / 9)
    assert count(lists, "セックスセックス、ネオ・ナチ", "ja") == 3
    # Latin terms in a no-space list still need Latin boundaries: not inside SMTP, but between kana
    assert count(lists, "SMTPサーバー", "ja") == 0
    assert count(lists, "smです、SMプレイ", "ja") == 2
    assert count(lists, "2013. 年 13.", "zh") == 1
    assert count(lists, "干X娘干x娘", "zh") == 2


def test_missing_inputs_give_none(lists):
    nothing = dict.fromkeys(TOXICITY_SIGNALS)
    assert toxicity_signals("you ass", "fr", lists) == nothing  # no French list
    assert toxicity_signals("you ass", None, lists) == nothing
    assert toxicity_signals("you ass", "", lists) == nothing
    assert toxicity_signals(None, "en", lists) == nothing
    assert toxicity_signals("you ass", "en", None) == nothing
    assert toxicity_signals("you ass", "en", lists, ToxicityConfig(languages=("de",))) == nothing
    assert toxicity_signals("you ass", "en", lists, ToxicityConfig(languages=("EN",)))["toxic_word_count"] == 1
    assert failing(toxicity_rules(ToxicityConfig(max_toxic_fraction=0.0)), nothing) == []


def test_signal_types(lists):
    signals = toxicity_signals("you ass", "en", lists)
    assert set(signals) == set(TOXICITY_SIGNALS)
    for name, value in signals.items():
        assert isinstance(value, TOXICITY_SIGNALS[name]), name


def test_compile_terms_edge_cases():
    assert compile_terms([], "en") is None
    assert compile_terms(["", "  "], "en") is None
    pattern = compile_terms(["ass", "asshole", "ass hat"], "en")
    assert pattern.findall(fold("ASS HAT, asshole, ass")) == ["ass hat", "asshole", "ass"]


# --------------------------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------------------------


def test_rules():
    assert toxicity_rules() == [Rule("toxic_word_count", ">", 0, "toxic_words")]
    assert toxicity_rules(ToxicityConfig(max_toxic_words=None)) == []
    assert toxicity_rules(ToxicityConfig(max_toxic_fraction=0.05)) == [
        Rule("toxic_word_count", ">", 0, "toxic_words"),
        Rule("toxic_word_fraction", ">", 0.05, "toxic_words_fraction"),
    ]


def test_rules_trip_and_pass_at_thresholds(lists):
    def reasons(text, cfg):
        return failing(toxicity_rules(cfg), toxicity_signals(text, "en", lists, cfg))

    c4 = ToxicityConfig()
    assert reasons("A perfectly clean sentence.", c4) == []
    assert reasons("one ass here", c4) == ["toxic_words"]
    lenient = ToxicityConfig(max_toxic_words=1, max_toxic_fraction=0.25)
    assert reasons("one ass here, four words", lenient) == []  # 1 match (not > 1), 1/5 words (not > 0.25)
    assert reasons("ass one two three", lenient) == []  # fraction exactly 0.25: passes
    assert reasons("ass ass and more words here now too", lenient) == ["toxic_words"]  # 2 matches, 2/8 words
    assert reasons("ass two three", lenient) == ["toxic_words_fraction"]  # 1/3
    assert reasons("ass ass", lenient) == ["toxic_words", "toxic_words_fraction"]
    assert reasons("you ass", ToxicityConfig(max_toxic_words=None)) == []


# --------------------------------------------------------------------------------------------------------------------
# Real data
# --------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ldnoobw(shared_data):
    path = shared_data / "toxicity" / "ldnoobw"
    if not (path / "en").is_file():
        pytest.skip(f"../shared/data is absent or incomplete: {path} is missing")
    return WordLists.from_dir(path)


def test_every_real_list_loads_and_compiles(ldnoobw):
    assert {"en", "de", "fr", "ja", "zh", "th", "ru", "ar", "ko"} <= set(ldnoobw.languages)
    assert not {"LICENSE", "README.md", "USERS.md"} & set(ldnoobw.languages)
    for name in ldnoobw.languages:
        terms = ldnoobw.terms(name)
        assert terms, name
        pattern = ldnoobw.pattern(name)
        assert pattern is not None, name
        for term in terms:  # each term, alone, is matched whole
            match = pattern.match(fold(term))
            assert match is not None and match.group() == fold(term), (name, term)


def test_real_lists_leave_clean_text_alone(ldnoobw):
    assert count(ldnoobw, "The class assistant passed the glass to her classmates in Sussex.") == 0
    assert count(ldnoobw, "2013年，北京的经济增长了13%。", "zh-Hans") == 0


def test_davidson_tweets(shared_data, ldnoobw):
    path = shared_data / "toxicity" / "davidson" / "labeled_data.csv"
    if not path.is_file():
        pytest.skip(f"../shared/data is absent or incomplete: {path} is missing")
    with path.open(encoding="utf-8", newline="") as f:
        rows = [(int(row["class"]), row["tweet"]) for row in csv.DictReader(f)]
    assert len(rows) == 19_825
    flagged = {0: 0, 1: 0, 2: 0}
    total = {0: 0, 1: 0, 2: 0}
    for label, tweet in rows:
        total[label] += 1
        flagged[label] += toxicity_signals(tweet, "en", ldnoobw)["toxic_word_count"] > 0
    toxic_rate = (flagged[0] + flagged[1]) / (total[0] + total[1])
    clean_rate = flagged[2] / total[2]
    true_pos, false_pos = flagged[0] + flagged[1], flagged[2]
    precision = true_pos / (true_pos + false_pos)
    recall = toxic_rate
    f1 = 2 * precision * recall / (precision + recall)
    print(
        f"\nDavidson, LDNOOBW en, count > 0: flagged {toxic_rate:.3f} of hate+offensive "
        f"({flagged[0] + flagged[1]}/{total[0] + total[1]}), {clean_rate:.3f} of neither ({flagged[2]}/{total[2]}); "
        f"per class: hate {flagged[0] / total[0]:.3f}, offensive {flagged[1] / total[1]:.3f}, "
        f"neither {clean_rate:.3f}; precision {precision:.3f} recall {recall:.3f} F1 {f1:.3f}"
    )
    assert toxic_rate > clean_rate + 0.3
    assert flagged[1] / total[1] > 0.3
