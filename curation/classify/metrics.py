"""Binary classifier metrics over scores: per-class precision/recall/F1, macro-F1, a threshold sweep, the operating
threshold chosen for a target, and ROC AUC. Pure numpy.

A document is predicted positive when its score (the model's probability of the positive label) is ``>=`` the
threshold. Every function takes ``scores`` and ``truth`` (True = positive) as equal-length sequences.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SWEEP = tuple(round(0.01 * i, 2) for i in range(1, 100))
"""Thresholds the sweep evaluates: 0.01 … 0.99."""

_TARGET = re.compile(r"(?P<kind>macro_f1|f1|precision|recall)(?:>=(?P<floor>0?\.\d+|1(?:\.0*)?))?\Z")


@dataclass(frozen=True)
class Target:
    """How the operating threshold is chosen on the validation split.

    ``macro_f1`` / ``f1``: the threshold with the highest macro-F1 / positive-class F1. ``precision>=P``: the highest
    positive-class recall among thresholds whose precision is at least P (a drop rule that must rarely be wrong).
    ``recall>=R``: the highest precision among thresholds whose recall is at least R. Ties go to the threshold
    nearest 0.5.
    """

    kind: str
    floor: float | None = None

    @classmethod
    def parse(cls, text: str) -> Target:
        m = _TARGET.match(str(text).replace(" ", ""))
        if not m or (m["kind"] in ("precision", "recall")) != (m["floor"] is not None):
            raise ValueError(
                f"threshold target {text!r}: use macro_f1, f1, precision>=P or recall>=R (P, R between 0 and 1)"
            )
        return cls(m["kind"], None if m["floor"] is None else float(m["floor"]))

    def __str__(self) -> str:
        return self.kind if self.floor is None else f"{self.kind}>={self.floor:g}"


def _arrays(scores: Sequence[float], truth: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(truth, dtype=bool)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores and truth must be 1-D and of equal length, got {s.shape} and {y.shape}")
    return s, y


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": tp + fn}


def at_threshold(
    scores: Sequence[float], truth: Sequence[bool], threshold: float, labels: tuple[str, str] = ("positive", "negative")
) -> dict:
    """Per-class precision/recall/F1/support, macro-F1, accuracy and the confusion counts at ``threshold``.
    ``labels``: (positive, negative) class names used as keys."""
    s, y = _arrays(scores, truth)
    pred = s >= threshold
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
    pos, neg = _prf(tp, fp, fn), _prf(tn, fn, fp)
    return {
        "threshold": float(threshold),
        "classes": {labels[0]: pos, labels[1]: neg},
        "macro_f1": (pos["f1"] + neg["f1"]) / 2,
        "accuracy": (tp + tn) / len(s) if len(s) else 0.0,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
    }


def sweep(scores: Sequence[float], truth: Sequence[bool], thresholds: Sequence[float] = SWEEP) -> list[dict]:
    """Positive-class precision/recall/F1 and macro-F1 at each threshold."""
    out = []
    for t in thresholds:
        m = at_threshold(scores, truth, t)
        pos = m["classes"]["positive"]
        out.append(
            {
                "threshold": float(t),
                "precision": pos["precision"],
                "recall": pos["recall"],
                "f1": pos["f1"],
                "macro_f1": m["macro_f1"],
            }
        )
    return out


def choose_threshold(rows: list[dict], target: Target) -> float:
    """The operating threshold for ``target`` from :func:`sweep` rows (computed on the validation split)."""
    if not rows:
        raise ValueError("no sweep rows to choose a threshold from")
    if target.kind in ("macro_f1", "f1"):
        candidates = rows
        key = target.kind
    elif target.kind == "precision":
        candidates = [r for r in rows if r["precision"] >= target.floor and r["recall"] > 0]
        key = "recall"
    else:
        candidates = [r for r in rows if r["recall"] >= target.floor]
        key = "precision"
    if not candidates:
        raise ValueError(f"no threshold reaches {target} on the validation split")
    best = max(r[key] for r in candidates)
    ties = [r for r in candidates if r[key] >= best - 1e-12]
    return min(ties, key=lambda r: (abs(r["threshold"] - 0.5), r["threshold"]))["threshold"]


def roc_auc(scores: Sequence[float], truth: Sequence[bool]) -> float | None:
    """Area under the ROC curve: the probability that a random positive scores above a random negative (ties count
    half). None when one class is absent."""
    s, y = _arrays(scores, truth)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):  # average ranks over ties
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def format_classes(m: dict, title: str = "") -> str:
    """An :func:`at_threshold` result as a small aligned table."""
    lines = [title] if title else []
    lines.append(f"  {'class':<12} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}")
    for name, c in m["classes"].items():
        lines.append(f"  {name:<12} {c['precision']:>9.4f} {c['recall']:>9.4f} {c['f1']:>9.4f} {c['support']:>8,}")
    lines.append(f"  {'macro-F1':<12} {'':>9} {'':>9} {m['macro_f1']:>9.4f}   threshold {m['threshold']:.2f}")
    return "\n".join(lines)
