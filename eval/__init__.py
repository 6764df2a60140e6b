"""Evaluations of the curation steps on real, labelled data (run as ``python -m eval.<name>``)."""
