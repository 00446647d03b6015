# One command each: `make report` (run the pipeline) and `make test` (the whole test suite).
# Both bootstrap .venv on a fresh machine (Python 3.11, 3.12 or 3.13 + pip, no conda) from
# requirements.lock: every package, transitive ones included, at one version with its hashes.
# Another Python: `make clean; PYTHON=python3.13 make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock
SPARK_LOCK := requirements-spark.lock
# What `make lock` resolves: the project with its dev and explore extras, and the build backend
# (pyproject.toml [build-system] requires; installed from the lock, so no unpinned build step).
LOCK_IN := pyproject.toml --extra dev --extra explore
BUILD_REQ := setuptools>=70.1
UV_VERSION := 0.13.9
SAMPLE := data/raw/survey_export.csv
PROCESSED := data/processed/responses.parquet
NBVAL  := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
# The tests run on their own generated sample under build/test-data (CX_DATA_DIR), never on data/.
TEST_DATA := $(CURDIR)/build/test-data
TEST_ENV  := CX_DATA_DIR=$(TEST_DATA)
TEST_PROCESSED := $(TEST_DATA)/processed/responses.parquet
CLEAN_SAMPLE = cx clean data/raw/survey_export.csv --out data/processed --accounts data/raw/accounts.csv \
	  --invitations data/raw/invitations.csv --cx-index data/raw/cx_index.csv --prices data/raw/prices.csv \
	  --exclusions data/raw/exclusions.csv --follow-ups data/raw/follow_ups.csv --concessions data/raw/concessions.csv

.PHONY: all install install-spark lock kernel hooks fresh-check sample data test-data report test lint unit nbtest \
        bench bench-large test-spark-cluster lab check-reports clean-reports clean

all: report

install: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@$(BIN)/python -c 'import sys; print("installed .venv from $(LOCK) on Python", sys.version.split()[0])'
	@touch $(STAMP)

# Refresh requirements.lock after changing pyproject.toml (one resolution for every supported
# Python and platform, hashes of every file; uv is only needed here, not for installing).
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv==$(UV_VERSION)
	echo '$(BUILD_REQ)' | $(BIN)/uv pip compile $(LOCK_IN) - --universal --python-version 3.11 \
	  --generate-hashes --custom-compile-command 'make lock' --quiet -o $(LOCK)
	$(BIN)/uv pip compile pyproject.toml --extra spark -c $(LOCK) --universal \
	  --python-version 3.11 --generate-hashes --custom-compile-command 'make lock' --quiet \
	  -o $(SPARK_LOCK)

# Apache Spark (the optional `spark` extra, ~450 MB) from requirements-spark.lock, for the Spark
# engine and its test; needs Java 17+ (Debian: openjdk-17-jre-headless).
install-spark: $(STAMP) $(SPARK_LOCK)
	$(BIN)/python -m pip install -q --require-hashes --no-build-isolation -r $(SPARK_LOCK)

# A Jupyter kernel named after the project, so JupyterLab, VS Code and JupyterHub started
# elsewhere can pick this .venv.
kernel: $(STAMP)
	$(BIN)/python -m ipykernel install --user --name cx-workspace --display-name "CX workspace (.venv)"

# Git hooks from .pre-commit-config.yaml (ruff, notebook output stripping, whitespace).
hooks: $(STAMP)
	$(BIN)/pre-commit install

# Clone HEAD into a temporary folder, bootstrap it with $(PYTHON), run make report and make test,
# print the wall times (tools/fresh-check.sh).
fresh-check:
	PYTHON=$(PYTHON) tools/fresh-check.sh

sample: $(SAMPLE)
$(SAMPLE): | $(STAMP)
	$(BIN)/cx sample --out data/raw

data: $(PROCESSED)
$(PROCESSED): $(SAMPLE) config/survey.yaml | $(STAMP)
	$(BIN)/$(CLEAN_SAMPLE)

test-data: $(TEST_PROCESSED)
$(TEST_PROCESSED): config/survey.yaml $(wildcard src/helpers/sample/*.py) | $(STAMP)
	$(TEST_ENV) $(BIN)/cx sample --out data/raw
	$(TEST_ENV) $(BIN)/$(CLEAN_SAMPLE)

report: $(STAMP) $(SAMPLE)
	$(BIN)/cx run --params config/params.yaml

lint: $(STAMP)
	$(BIN)/ruff check src tests notebooks benchmarks tools
	$(BIN)/mypy

unit: $(STAMP) $(TEST_PROCESSED)
	$(TEST_ENV) $(BIN)/pytest -q -n auto --dist loadgroup tests

nbtest: $(STAMP) $(TEST_PROCESSED)
	$(TEST_ENV) $(BIN)/pytest -q $(NBVAL) notebooks/*.ipynb notebooks/exploratory/*.ipynb

test: lint unit nbtest

# A Spark standalone master and worker as separate processes, the queries and one whole `cx run`
# against them (minutes; needs `make install-spark` and Java 17+): not part of `make test`.
test-spark-cluster: $(STAMP) $(TEST_PROCESSED)
	$(TEST_ENV) CX_SPARK_CLUSTER=1 CX_REQUIRE_SPARK=1 $(BIN)/pytest -q tests/test_spark_cluster.py

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# The scaling steps at 10M, the whole pipeline on 20M responses and the report's aggregate tables
# (with the personas' subsample) on 100M out of core (hours on 2 cores, making the samples
# included; ~35 GB of disk under build/bench-data).
bench-large: $(STAMP)
	$(BIN)/python benchmarks/bench_scaling.py --rows 100000,1000000,10000000 --pipeline 1000000,20000000 \
	    --outofcore 100000000 --outofcore-steps 02

# JupyterLab on the project's folder with the kernel "CX workspace (.venv)" registered and offered.
# Options pass through: make lab ARGS="--no-browser --port 8899" (headless: open the printed URL
# with its token). Jupyter refuses to start as root without --allow-root, so it is added when
# `id -u` is 0 (containers). The sample is cleaned only when data/processed has no responses
# yet: existing processed data is never replaced behind your back.
LAB_AS_ROOT = $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)
lab: kernel $(if $(wildcard $(PROCESSED)),,$(PROCESSED))
	$(BIN)/jupyter lab --notebook-dir=. $(LAB_AS_ROOT) $(ARGS)

clean-reports:
	rm -rf reports/*/ reports/index.html reports/latest

clean:
	rm -rf $(VENV) build data/processed/* reports/*/ reports/index.html reports/latest

check-reports: $(STAMP)
	$(BIN)/cx report check reports/latest
