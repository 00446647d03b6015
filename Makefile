# One command each: `make report` (run the pipeline) and `make test` (the whole test suite).
# Both bootstrap .venv from pyproject.toml on a fresh machine (Python 3.11 + pip, no conda).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE := data/raw/survey_export.csv
PROCESSED := data/processed/responses.parquet
NBVAL  := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
# The tests run on their own generated sample under build/test-data (CX_DATA_DIR), never on data/.
TEST_DATA := $(CURDIR)/build/test-data
TEST_ENV  := CX_DATA_DIR=$(TEST_DATA)
TEST_PROCESSED := $(TEST_DATA)/processed/responses.parquet
CLEAN_SAMPLE = cx clean data/raw/survey_export.csv --out data/processed --accounts data/raw/accounts.csv \
	  --invitations data/raw/invitations.csv --cx-index data/raw/cx_index.csv --prices data/raw/prices.csv

.PHONY: all install sample data test-data report test lint unit nbtest bench lab check-reports clean-reports clean

all: report

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

sample: $(SAMPLE)
$(SAMPLE): | $(STAMP)
	$(BIN)/cx sample --out data/raw

data: $(PROCESSED)
$(PROCESSED): $(SAMPLE) config/survey.yaml | $(STAMP)
	$(BIN)/$(CLEAN_SAMPLE)

test-data: $(TEST_PROCESSED)
$(TEST_PROCESSED): config/survey.yaml src/helpers/sample/program.py | $(STAMP)
	$(TEST_ENV) $(BIN)/cx sample --out data/raw
	$(TEST_ENV) $(BIN)/$(CLEAN_SAMPLE)

report: $(STAMP) $(SAMPLE)
	$(BIN)/cx run --params config/params.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests notebooks benchmarks

unit: $(STAMP) $(TEST_PROCESSED)
	$(TEST_ENV) $(BIN)/pytest -q tests

nbtest: $(STAMP) $(TEST_PROCESSED)
	$(TEST_ENV) $(BIN)/pytest -q $(NBVAL) notebooks/*.ipynb

test: lint unit nbtest

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

lab: $(STAMP) $(PROCESSED)
	$(BIN)/jupyter lab --notebook-dir=.

clean-reports:
	rm -rf reports/*/ reports/index.html reports/latest

clean:
	rm -rf $(VENV) build data/processed/* reports/*/ reports/index.html reports/latest

check-reports: $(STAMP)
	$(BIN)/cx report check reports/latest
