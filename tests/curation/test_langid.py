"""Language ID with the real lid.176 model: predictions on inline sentences, input preparation, config validation, the
rules in Python and the shape of their SQL (the SQL itself runs on Spark in the curate-stage tests)."""

from __future__ import annotations

import pickle

import pytest

from curation.config import load
from curation.filters import Rule, any_failed_sql, failing, failing_sql
from curation.langid import (
    LANGID_SIGNALS,
    LangIdConfig,
    LanguageIdentifier,
    LanguageKeptRule,
    LanguageScoreRule,
    langid_rules,
    langid_signals,
    model_file,
    prepare,
)

SENTENCES = {
    "fr": "Le gouvernement a annoncé mardi une nouvelle réforme des retraites, qui sera débattue à l'Assemblée.",
    "de": "Die Bundesregierung hat am Dienstag ein neues Gesetz zur Förderung erneuerbarer Energien beschlossen.",
    "en": "The committee will publish its final report on the state of the public libraries next spring.",
    "ja": "昨日は友達と一緒に京都の古いお寺を訪れて、美味しい抹茶を飲みました。",
    "ru": "Вчера вечером мы долго гуляли по набережной и разговаривали о будущем нашего города.",
}


@pytest.fixture(scope="module")
def lid():
    return LanguageIdentifier()


# --------------------------------------------------------------------------------------------------------------------
# Model and predictions
# --------------------------------------------------------------------------------------------------------------------


def test_default_model_is_lid176_from_the_wheel(lid):
    path = model_file()
    assert path.name == "lid.176.ftz" and path.is_file()
    assert len(lid.labels) == 176 and {"en", "fr", "de", "ja", "ru", "no", "sh"} <= set(lid.labels)


def test_missing_model_file_is_a_clear_error(tmp_path):
    missing = tmp_path / "nope.bin"
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        model_file(LangIdConfig(model_path=str(missing)))
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        LanguageIdentifier(LangIdConfig(model_path=str(missing))).predict(["some text"])


def test_sentences_are_identified_with_confident_scores(lid):
    predictions = lid.predict(list(SENTENCES.values()))
    assert [lang for lang, _ in predictions] == list(SENTENCES)
    for lang, score in predictions:
        assert isinstance(score, float) and 0.8 <= score <= 1.0, (lang, score)


def test_short_ambiguous_text_scores_low(lid):
    # A single English-looking word is identified, but without confidence: the low-score rule exists for this.
    lang, score = lid.predict(["hello"])[0]
    assert lang == "en" and score < 0.65


def test_batch_equals_one_by_one(lid):
    texts = [*SENTENCES.values(), "hello", None, "ok", "Ein Satz.\nUnd noch einer auf Deutsch."]
    assert lid.predict(texts) == [lid.predict([text])[0] for text in texts]


def test_none_empty_and_whitespace_get_no_language(lid):
    assert lid.predict([None, "", "   ", "\n\t\n", float("nan")]) == [(None, None)] * 5  # NaN: pandas' missing
    assert lid.predict([]) == []
    with pytest.raises(TypeError):
        lid.predict("a single string")  # would otherwise be read as a sequence of characters


def test_newlines_do_not_break_prediction(lid):
    # fastText refuses "\n" in its input; prepared text is one line, and the verdict is the same as with spaces.
    text = SENTENCES["de"].replace(" ", "\n")
    assert lid.predict([text]) == lid.predict([SENTENCES["de"]])


def test_lone_surrogate_does_not_crash(lid):
    lang, score = lid.predict([SENTENCES["fr"][:40] + "\ud800" + SENTENCES["fr"][40:]])[0]
    assert lang == "fr" and score > 0.5


def test_only_the_first_max_chars_are_read():
    cfg = LangIdConfig(max_chars=200)
    text = SENTENCES["en"] * 3 + " " + SENTENCES["ru"] * 20
    assert LanguageIdentifier(cfg).predict([text])[0][0] == "en"  # the Russian tail is never read
    assert LanguageIdentifier().predict([text])[0][0] == "ru"  # with the default 10,000 it is


def test_prepare():
    assert prepare("a\nb\t c\u2028d", 100) == "a b c d"
    assert prepare(" \n ", 100) is None and prepare(None, 100) is None and prepare("", 100) is None
    assert prepare("alpha beta gamma", 12) == "alpha beta"  # cut inside "gamma": back to the space
    assert prepare("alpha beta gamma", 11) == "alpha beta"  # cut right before "gamma": nothing partial to drop
    assert prepare("日本語の文章です", 4) == "日本語の"  # no space nearby: cut exactly
    assert prepare("x\ud800y", 10) == "x?y"


def test_pickles_config_only_and_loads_once(lid):
    lid.predict(["warm up"])
    state = lid.__getstate__()
    assert state == {"cfg": lid.cfg}
    clone = pickle.loads(pickle.dumps(lid))
    assert clone.cfg == lid.cfg and len(pickle.dumps(lid)) < 1000
    assert clone.model is lid.model  # same process, same path: one loaded model
    assert clone.predict([SENTENCES["fr"]]) == lid.predict([SENTENCES["fr"]])


def test_signals():
    assert langid_signals("fr", 0.9) == {"language": "fr", "language_score": 0.9}
    assert langid_signals(None, None) == {"language": None, "language_score": None}
    assert set(LANGID_SIGNALS) == set(langid_signals(None, None))


# --------------------------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------------------------


def test_config_defaults_and_normalisation():
    cfg = LangIdConfig()
    assert cfg.min_score == 0.65 and cfg.min_score_by_language == () and cfg.keep_languages is None
    cfg = LangIdConfig(min_score_by_language={"hr": 0.4, "bs": 0.3}, keep_languages=["en", "fr"])
    assert cfg.min_score_by_language == (("bs", 0.3), ("hr", 0.4))  # sorted pairs: hashable, order-free
    assert cfg.keep_languages == ("en", "fr")
    assert hash(cfg) == hash(
        LangIdConfig(min_score_by_language=[("hr", 0.4), ("bs", 0.3)], keep_languages=("en", "fr"))
    )
    assert cfg.min_score_for("hr") == 0.4 and cfg.min_score_for("fr") == 0.65 and cfg.min_score_for(None) == 0.65


def test_config_loads_from_yaml(tmp_path):
    path = tmp_path / "langid.yaml"
    path.write_text("min_score: 0.5\nmin_score_by_language:\n  hr: 0.3\n  sr: 0.35\nkeep_languages: [hr, sr, bs]\n")
    cfg = load(LangIdConfig, path)
    assert cfg == LangIdConfig(
        min_score=0.5, min_score_by_language={"sr": 0.35, "hr": 0.3}, keep_languages=("hr", "sr", "bs")
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_score": 1.5},
        {"min_score": -0.1},
        {"min_score": "0.5"},
        {"min_score_by_language": {"fr": 2}},
        {"min_score_by_language": {"fr'; DROP TABLE pages; --": 0.5}},
        {"min_score_by_language": "fr"},
        {"min_score_by_language": [("fr", 0.5), ("fr", 0.6)]},
        {"keep_languages": "en"},
        {"keep_languages": ()},
        {"keep_languages": ("en", "e'n")},
        {"max_chars": 0},
        {"max_chars": 1.5},
    ],
)
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        LangIdConfig(**kwargs)


# --------------------------------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------------------------------


def test_default_rules():
    rules = langid_rules()
    assert [r.reason for r in rules] == ["language_low_score"]
    assert failing(rules, {"language": "en", "language_score": 0.5}) == ["language_low_score"]
    assert failing(rules, {"language": "en", "language_score": 0.65}) == []  # at the minimum passes
    assert failing(rules, {"language": None, "language_score": None}) == []
    assert failing(rules, {"language": "en", "language_score": float("nan")}) == []
    assert failing(rules, {}) == []


def test_per_language_minimum_and_kept_languages():
    cfg = LangIdConfig(min_score=0.65, min_score_by_language={"hr": 0.4}, keep_languages=("hr", "en"))
    rules = langid_rules(cfg)
    assert [r.reason for r in rules] == ["language_low_score", "language_not_kept"]
    assert failing(rules, {"language": "hr", "language_score": 0.5}) == []  # its own, lower minimum
    assert failing(rules, {"language": "en", "language_score": 0.5}) == ["language_low_score"]
    assert failing(rules, {"language": "sr", "language_score": 0.5}) == ["language_low_score", "language_not_kept"]
    assert failing(rules, {"language": "sr", "language_score": 0.99}) == ["language_not_kept"]
    assert failing(rules, {"language": None, "language_score": None}) == []
    # A score without a language (not produced by predict, but possible in hand-made rows) gets the default minimum.
    assert failing(rules, {"language": None, "language_score": 0.5}) == ["language_low_score"]


def test_rules_mix_with_plain_rules_from_predictions(lid):
    rules = [*langid_rules(LangIdConfig(keep_languages=("en",))), Rule("n", "<", 3, "too_short")]
    verdicts = [
        failing(rules, {**langid_signals(lang, score), "n": 5})
        for lang, score in lid.predict([SENTENCES["en"], SENTENCES["fr"], "hello", None])
    ]
    assert verdicts == [[], ["language_not_kept"], ["language_low_score"], []]


def test_sql_shape():
    score_rule, kept_rule = langid_rules(
        LangIdConfig(min_score=0.7, min_score_by_language={"hr": 0.4, "bs": 0.3}, keep_languages=("hr", "bs"))
    )
    assert score_rule.sql() == (
        "coalesce(language_score < CASE language WHEN 'bs' THEN 0.3 WHEN 'hr' THEN 0.4 ELSE 0.7 END, false)"
    )
    assert score_rule.sql("s.language_score") == (
        "coalesce(s.language_score < CASE s.language WHEN 'bs' THEN 0.3 WHEN 'hr' THEN 0.4 ELSE 0.7 END, false)"
    )
    assert kept_rule.sql() == "coalesce(language NOT IN ('hr', 'bs'), false)"
    assert kept_rule.sql("s.lang") == "coalesce(s.lang NOT IN ('hr', 'bs'), false)"
    assert langid_rules()[0].sql() == "coalesce(language_score < 0.65, false)"  # no CASE without overrides
    with pytest.raises(ValueError):
        score_rule.sql("language_score; DROP TABLE pages")
    assert failing_sql([score_rule, kept_rule]) == (
        f"filter(array(CASE WHEN {score_rule.sql()} THEN 'language_low_score' END, "
        f"CASE WHEN {kept_rule.sql()} THEN 'language_not_kept' END), r -> r IS NOT NULL)"
    )
    assert any_failed_sql([score_rule, kept_rule]) == f"({score_rule.sql()} OR {kept_rule.sql()})"


def test_rule_classes_validate():
    with pytest.raises(ValueError):
        LanguageScoreRule(1.2)
    with pytest.raises(ValueError):
        LanguageKeptRule(())
    with pytest.raises(ValueError):
        LanguageKeptRule("en")
    assert LanguageScoreRule(0.5, {"fr": 0.2}).by_language == (("fr", 0.2),)
