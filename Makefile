# One command each: `make report` (run the pipeline) and `make test` (the whole test suite).
# Both bootstrap .venv from pyproject.toml on a fresh machine (Python 3.11 + pip, no conda).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SAMPLE := data/raw/survey_export.csv
PROCESSED := data/processed/responses.parquet
NBVAL  := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: all install sample data report test lint unit nbtest bench lab check-reports clean-reports clean

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
	$(BIN)/cx clean $(SAMPLE) --out data/processed --accounts data/raw/accounts.csv \
	  --invitations data/raw/invitations.csv --cx-index data/raw/cx_index.csv --prices data/raw/prices.csv

report: $(STAMP) $(SAMPLE)
	$(BIN)/cx run --params config/params.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests notebooks benchmarks

unit: $(STAMP) $(PROCESSED)
	$(BIN)/pytest -q tests

nbtest: $(STAMP) $(PROCESSED)
	$(BIN)/pytest -q $(NBVAL) notebooks/*.ipynb

test: lint unit nbtest

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

lab: $(STAMP) $(PROCESSED)
	$(BIN)/jupyter lab --notebook-dir=.

clean-reports:
	rm -rf reports/*/ reports/index.html reports/latest

clean:
	rm -rf $(VENV) data/processed/* reports/*/ reports/index.html reports/latest

check-reports: $(STAMP)
	$(BIN)/cx report check reports/latest
