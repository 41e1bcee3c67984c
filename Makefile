# sbrlib – session-based recommendation on MovieLens.
#   make run-all  [DATASET=ml-1m|ml-100k|synthetic|synthetic-tiny] [PROFILE=full|smoke] [SESSION_MODE=gap|user] [FROM=04]
#   make test | bench | data | lint | clean
# Every target creates .venv and installs requirements when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATASET ?= ml-1m
PROFILE ?= full
SESSION_MODE ?= gap
FROM ?=
export SBR_DATA_DIR
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: venv run-all test test-fast bench data jupyter lint strip clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $@

data: venv
	$(BIN)/python -m sbrlib.cli data --dataset $(DATASET)

# checks DATASET, PROFILE, SESSION_MODE, FROM and the profile first; then runs the notebooks into
# outputs/runs/<time>-<dataset>-<mode>-<profile>/ (outputs/latest points at the newest run)
run-all: venv
	@$(BIN)/python -m sbrlib.run --dataset "$(DATASET)" --profile "$(PROFILE)" --session-mode "$(SESSION_MODE)" --from "$(FROM)"

test: venv
	$(BIN)/python -m pytest -q

test-fast: venv
	$(BIN)/python -m pytest -q -m "not slow"

bench: venv
	$(BIN)/python benchmarks/run_all.py --dataset $(if $(filter ml-1m,$(DATASET)),synthetic,$(DATASET))

jupyter: venv
	$(BIN)/jupyter lab notebooks/

lint: venv
	$(BIN)/ruff check sbrlib tests benchmarks

strip: venv
	$(BIN)/nbstripout notebooks/*.ipynb

clean:
	rm -rf outputs results models .pytest_cache .hypothesis
