"""A classifier listed in the curate config: which registered model scores ``documents``, and the rule over its score.

In ``conf/curate.yaml`` (the key is the classifier's name; its columns are ``<name>_score`` and ``<name>_model``)::

    classifiers:
      toxicity: {drop: above}                     # latest version, its operating threshold
      quality: {version: 2, threshold: 0.15, drop: below}

``version`` decides the scores (a signal setting: changing it needs ``lakeforge classify``); ``threshold``, ``drop``
and ``reason`` decide the verdict (``lakeforge filter`` re-applies them in seconds). Before a job builds rules, the
entries are resolved against the ``models`` table (:func:`resolved`): the latest version when none is pinned, the
model's operating threshold when none is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from curation.classify.model import ModelRef
from curation.filters.rules import Rule

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")


@dataclass(frozen=True)
class ClassifierRule:
    """One entry of the curate config's ``classifiers`` section."""

    version: int | None = None
    """Registered version to score with; None: the latest (resolved when the job starts, and recorded)."""
    threshold: float | None = None
    """Score threshold of the drop rule; None: the model's operating threshold (chosen on its validation split)."""
    drop: str = "above"
    """``above``: a score at or above the threshold drops (toxicity); ``below``: a score under it drops (quality)."""
    reason: str | None = None
    """The drop reason; None: ``<name>_high`` (drop above) or ``<name>_low`` (drop below)."""
    model: ModelRef | None = None
    """Filled in by :func:`resolved` from the ``models`` table; not a user setting."""

    def __post_init__(self) -> None:
        if self.version is not None and (
            isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1
        ):
            raise ValueError(f"version must be a positive integer, got {self.version!r}")
        if self.threshold is not None and (
            isinstance(self.threshold, bool)
            or not isinstance(self.threshold, int | float)
            or not 0 <= self.threshold <= 1
        ):
            raise ValueError(f"threshold must be a number between 0 and 1, got {self.threshold!r}")
        if self.drop not in ("above", "below"):
            raise ValueError(f"drop must be 'above' or 'below', got {self.drop!r}")
        if self.reason is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(self.reason)):
            raise ValueError(f"reason must be a plain identifier, got {self.reason!r}")
        if isinstance(self.model, dict):
            model = dict(self.model)
            if model.get("languages") is not None:
                model["languages"] = tuple(model["languages"])
            object.__setattr__(self, "model", ModelRef(**model))


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"classifier name {name!r}: use lower-case letters, digits and underscores, starting with a letter "
            "(it names the columns <name>_score and <name>_model)"
        )
    return name


def build(section: Any) -> dict[str, ClassifierRule]:
    """The ``classifiers`` section (a mapping name → settings, as YAML gives it) as rules by name."""
    from curation.config import load

    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ValueError(f"classifiers must be a mapping of name → settings, got {type(section).__name__}")
    out = {}
    for name, value in section.items():
        check_name(name)
        if isinstance(value, ClassifierRule):
            out[name] = value
        elif value is None or isinstance(value, dict):
            out[name] = load(ClassifierRule, value or {})
        else:
            raise ValueError(f"classifiers.{name}: expected a mapping of settings, got {value!r}")
    return dict(sorted(out.items()))


def reason_of(name: str, rule: ClassifierRule) -> str:
    return rule.reason or f"{name}_{'high' if rule.drop == 'above' else 'low'}"


def score_column(name: str) -> str:
    return f"{name}_score"


def model_column(name: str) -> str:
    return f"{name}_model"


def classifier_rules(classifiers: dict[str, ClassifierRule]) -> list[Rule]:
    """The drop rules, one per classifier, in name order. Every entry must be resolved (a threshold known)."""
    rules = []
    for name, rule in classifiers.items():
        if rule.threshold is None:
            raise ValueError(
                f"classifier {name!r} has no threshold yet: resolve the config against the models table first"
            )
        op = ">=" if rule.drop == "above" else "<"
        rules.append(Rule(score_column(name), op, float(rule.threshold), reason_of(name, rule)))
    return rules


def resolved(name: str, rule: ClassifierRule, ref: ModelRef, operating_threshold: float) -> ClassifierRule:
    """``rule`` with its model, version and threshold filled in from the registry row of the chosen version."""
    if rule.version is not None and rule.version != ref.version:
        raise ValueError(f"classifier {name!r}: asked for version {rule.version}, got {ref.version}")
    threshold = operating_threshold if rule.threshold is None else rule.threshold
    return replace(rule, version=ref.version, threshold=float(threshold), model=ref)
