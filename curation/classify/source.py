"""Where a classifier's labelled examples come from, and the whole training config (pure dataclasses).

Two kinds of input (exactly one):

* a labelled file (CSV/TSV with a header, JSON Lines, or Parquet): ``text_column`` and ``label_column`` name its
  columns; ``positive_values`` are the label values of the positive class, ``negative_values`` those of the negative
  one (None: every other value);
* two SQL queries over the lakehouse, DCLM-style: every row ``positive_sql`` returns is positive, every row of
  ``negative_sql`` negative. Each returns a ``text`` column, and optionally ``group`` (rows of one group share a
  split, e.g. the chunks of one document; default ``doc_id`` when selected) and ``trainable``. Lakehouse tables named
  in the queries are read at one pinned version (the latest unless ``table_versions`` says otherwise), recorded with
  the model.

``train_where`` (a SQL condition over the input's columns) keeps rows out of *fitting* only (e.g. where annotators
disagreed); validation and test keep every row, so the reported figures are over the data as labelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from curation.classify.rules import check_name
from curation.classify.train import ClassifierSettings


@dataclass(frozen=True)
class TrainingInput:
    labels: str | None = None
    """A labelled file: .csv, .tsv, .jsonl / .json / .ndjson, or .parquet."""
    text_column: str = "text"
    label_column: str = "label"
    positive_values: tuple[str, ...] = ()
    """Label values (compared as text) of the positive class."""
    negative_values: tuple[str, ...] | None = None
    """Label values of the negative class; None: every other non-empty value."""
    positive_sql: str | None = None
    negative_sql: str | None = None
    table_versions: dict[str, int] = field(default_factory=dict)
    """SQL input: lakehouse table → version to read (default: each table's latest)."""
    train_where: str | None = None
    """SQL condition over the input's columns: rows fitted on. Validation and test keep every row."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "positive_values", tuple(str(v) for v in self.positive_values or ()))
        if self.negative_values is not None:
            object.__setattr__(self, "negative_values", tuple(str(v) for v in self.negative_values))
        sql = self.positive_sql is not None or self.negative_sql is not None
        if (self.labels is not None) == sql:
            raise ValueError(
                "training input: give either a labelled file (labels) or both positive_sql and negative_sql"
            )
        if sql and not (self.positive_sql and self.negative_sql):
            raise ValueError("training input: positive_sql and negative_sql go together")
        if self.labels is not None:
            if not self.positive_values:
                raise ValueError("training input: positive_values must name the label value(s) of the positive class")
            overlap = set(self.positive_values) & set(self.negative_values or ())
            if overlap:
                raise ValueError(f"training input: {sorted(overlap)} are both positive and negative values")
        for table, version in (self.table_versions or {}).items():
            if isinstance(version, bool) or not isinstance(version, int) or version < 0:
                raise ValueError(f"table_versions.{table}: expected a version number, got {version!r}")

    @property
    def kind(self) -> str:
        return "file" if self.labels is not None else "sql"

    def label_of(self, value: object) -> bool | None:
        """A label value → True (positive), False (negative), None (no usable label)."""
        if value is None or str(value).strip() == "":
            return None
        text = str(value).strip()
        if text in self.positive_values:
            return True
        if self.negative_values is None or text in self.negative_values:
            return False
        return None


@dataclass(frozen=True)
class TrainClassifierConfig:
    """``lakeforge train-classifier --config``: the classifier's name, its examples and its settings."""

    name: str = ""
    input: TrainingInput | dict | None = None
    model: ClassifierSettings = field(default_factory=ClassifierSettings)

    def __post_init__(self) -> None:
        from curation.config import load

        check_name(self.name)
        if isinstance(self.input, dict):
            object.__setattr__(self, "input", load(TrainingInput, self.input))
        if self.input is None:
            raise ValueError("training input: give a labelled file (input.labels) or input.positive_sql/negative_sql")
