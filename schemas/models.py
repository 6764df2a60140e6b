"""``models``: the registry of trained classifiers, one row per (name, version).

A new training run of a name with other examples or settings is a new version; the same examples and settings again
are the same model (``training_hash``) and add nothing. The model file lives under ``<lakehouse>/models/<name>/`` and
is named by its version and content hash; ``sha256`` is checked every time it is loaded. The nested records
(training source, settings, split counts, metrics) are JSON text: one row says exactly how the model was made and how
good it is.
"""

from schemas.base import Field, TableSchema

MODELS = TableSchema(
    name="models",
    doc="Trained classifiers by name and version: the model file and its hash, what it was trained on (file or SQL "
    "with table versions), its settings, its split and its metrics (validation sweep, operating threshold, test).",
    key=("name", "version"),
    fields=(
        Field("name", "string", False, "Classifier name (its documents columns are <name>_score, <name>_model)"),
        Field("version", "long", False, "1, 2, …: one per distinct training run of this name"),
        Field("model_id", "string", False, "name@vN: what documents.<name>_model records"),
        Field("kind", "string", False, "Model family: fasttext"),
        Field("path", "string", False, "The model file"),
        Field("sha256", "string", False, "sha256 of the model file"),
        Field("size_bytes", "long", False, "Size of the model file"),
        Field("positive_label", "string", False, "The class the score is the probability of (e.g. toxic, hq)"),
        Field("negative_label", "string", False, "The other class"),
        Field("languages", "array<string>", True, "Languages the model scores (others get a null score); null: any"),
        Field("normalization", "string", False, "Text normalization version, the same at training and scoring"),
        Field("max_chars", "long", False, "Characters of a text the model reads"),
        Field("training_hash", "string", False, "Hash of the examples, their split and the settings"),
        Field(
            "source",
            "string",
            False,
            "Training data as JSON: a labelled file (path, sha256, columns, label map) "
            "or positive/negative SQL with the table versions read",
        ),
        Field("settings", "string", False, "Training settings as JSON (fastText hyperparameters, split, target)"),
        Field("split_counts", "string", False, "Examples per split and class, and rows rejected with reasons (JSON)"),
        Field("metrics", "string", False, "Validation sweep, operating threshold, validation and test figures (JSON)"),
        Field("threshold", "double", False, "Operating threshold chosen on the validation split for the target"),
        Field("target", "string", False, "How the threshold was chosen: macro_f1, f1, precision>=P, recall>=R"),
        Field("test_macro_f1", "double", True, "Macro-F1 on the held-out test split at the operating threshold"),
        Field("test_positive_f1", "double", True, "Positive-class F1 on the test split at the operating threshold"),
        Field("test_roc_auc", "double", True, "ROC AUC on the test split"),
        Field("train_seconds", "double", True, "Seconds fastText trained"),
        Field("run_id", "string", False, "The train-classifier run"),
        Field("code_version", "string", False, "lakeforge code version"),
        Field("config_hash", "string", False, "Hash of the resolved training config"),
        Field("created_at", "timestamp", False, "When it was registered"),
    ),
)
