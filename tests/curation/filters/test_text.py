"""Shared tokenization of the quality signals: words, lines, paragraphs, sentences, languages."""

from __future__ import annotations

import pytest

from curation.filters.text import (
    base_lang,
    duplicates,
    ends_with_terminal_punctuation,
    lines,
    no_space,
    paragraphs,
    sentences,
    words,
)


def test_words_space_delimited():
    text = "Don't stop—the café's 3.14 l’homme, naïve x_y #tag ... C++"
    assert words(text) == ["Don't", "stop", "the", "café's", "3", "14", "l’homme", "naïve", "x", "y", "tag", "C"]
    assert words("Hello wörld, Ελληνικά русский 한국어 text", "ko") == [
        "Hello",
        "wörld",
        "Ελληνικά",
        "русский",
        "한국어",
        "text",
    ]
    assert words("") == [] and words(" \n\t ... !!") == []


def test_words_without_spaces_are_characters():
    assert words("今天天气很好。我们去iPhone 2024商店吧！", "zh") == [
        *"今天天气很好我们去",
        "iPhone",
        "2024",
        *"商店吧",
    ]
    assert words("東京は日本の首都です。", "ja") == list("東京は日本の首都です")
    # A combining vowel sign stays with its consonant: ง่ = ง + U+0E48.
    assert words("ไทยง่าย", "th") == ["ไ", "ท", "ย", "ง\u0e48", "า", "ย"]
    # The same Chinese text with a space-delimited language is one long "word" per clause.
    assert words("今天天气很好。我们去商店吧！", "en") == ["今天天气很好", "我们去商店吧"]


@pytest.mark.parametrize(
    ("lang", "base", "spaceless"),
    [
        ("en", "en", False),
        ("EN-us", "en", False),
        ("zh-Hans", "zh", True),
        ("zh_CN", "zh", True),
        ("cmn_Hani", "zh", True),
        ("jpn", "ja", True),
        ("th", "th", True),
        ("ko", "ko", False),
        (None, None, False),
        ("", None, False),
    ],
)
def test_languages(lang, base, spaceless):
    assert base_lang(lang) == base
    assert no_space(lang) is spaceless


def test_lines_and_paragraphs():
    text = "  first line \n\nsecond\r\nthird\u2028fourth\n \t \n\n\nlast  "
    assert lines(text) == ["first line", "second", "third", "fourth", "last"]
    assert paragraphs(text) == ["first line", "second\nthird\nfourth", "last"]
    assert lines("") == [] and paragraphs("") == [] and paragraphs(" \n \n") == []


def test_sentences():
    text = (
        'Dr. Smith went to Washington. He met J. R. R. Tolkien, e.g. the author. It was fun! Really? "Yes." '
        "And then... more. 3.14 is pi. ..."
    )
    assert sentences(text) == [
        "Dr. Smith went to Washington.",
        "He met J. R. R. Tolkien, e.g. the author.",
        "It was fun!",
        "Really?",
        '"Yes."',
        "And then... more.",
        "3.14 is pi.",
    ]
    assert sentences("北京是首都。我们去商店吧！好吗？") == ["北京是首都。", "我们去商店吧！", "好吗？"]
    assert sentences("No terminal punctuation at all") == ["No terminal punctuation at all"]
    assert sentences("") == [] and sentences(" ... !! ") == []


def test_terminal_punctuation_and_duplicates():
    assert all(map(ends_with_terminal_punctuation, ["a.", "b?", "c!", "d。", "e؟", "f।"]))
    assert not any(map(ends_with_terminal_punctuation, ['a."', "b…", "c,", "d:", "e", ""]))
    # (repeats after the first occurrence, their characters)
    assert duplicates(["ab", "c", "ab", "ab", "c"]) == (3, 5)
    assert duplicates([]) == (0, 0)
