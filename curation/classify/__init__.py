"""Trainable fastText classifiers (toxicity, quality, any named one): pure row logic, no pyspark.

``text``     the one normalization applied at training and at scoring time
``metrics``  per-class precision/recall/F1, macro-F1, threshold sweeps, the operating threshold, ROC AUC
``train``    settings, examples, the deterministic train/validation/test split, fastText training and evaluation
``model``    a trained model loaded once per process, scoring text in batches
``rules``    a classifier listed in the curate config: its score column, threshold and drop reason

The Spark side (reading labelled files or SQL into examples, the ``models`` registry, scoring ``documents``) lives in
:mod:`curation.spark.classify`.
"""
