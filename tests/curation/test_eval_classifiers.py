"""eval.classifiers on the real Davidson tweets: the goals, and both baselines beaten on the same split."""

from __future__ import annotations

from curation.classify.source import TrainClassifierConfig
from curation.config import load, read_settings
from eval.classifiers import REPO, toxicity_table


def test_toxicity_goals_and_baselines(shared_data):
    data = read_settings(REPO / "conf" / "classifiers" / "toxicity.yaml")
    data["input"]["labels"] = str(shared_data / "toxicity" / "davidson" / "labeled_data.csv")
    table = toxicity_table(load(TrainClassifierConfig, data), shared_data / "toxicity" / "ldnoobw")
    rows = table["rows"]
    ours = rows["lakeforge fastText"]
    assert ours["classes"]["toxic"]["f1"] >= 0.97 and ours["macro_f1"] >= 0.92
    for baseline in ("fastText untuned (argmax)", "LDNOOBW word list (count > 0)"):
        assert rows[baseline]["macro_f1"] < ours["macro_f1"] - 0.03, baseline
    assert table["test_examples"] == sum(ours["classes"][c]["support"] for c in ("toxic", "clean"))
