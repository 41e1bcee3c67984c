# sbrlib – session-based recommendation on MovieLens.
#   make run-all  [DATASET=ml-1m|ml-100k|synthetic|synthetic-tiny] [PROFILE=full|smoke] [SESSION_MODE=gap|user]
#   make test | bench | data | lint | clean
# Every target creates .venv and installs requirements when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATASET ?= ml-1m
PROFILE ?= full
SESSION_MODE ?= gap
OUTPUTS := outputs/$(DATASET)
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
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

run-all: venv data
	@mkdir -p $(OUTPUTS)
	@for nb in $(NOTEBOOKS); do \
	  name=$$(basename $$nb); \
	  echo "=== $$name ($(DATASET), profile $(PROFILE))"; \
	  $(BIN)/papermill --cwd notebooks -f params/$(PROFILE).yaml -p DATASET $(DATASET) -p SESSION_MODE $(SESSION_MODE) \
	    -p DATA_DIR "$${SBR_DATA_DIR:-}" --progress-bar $$nb $(OUTPUTS)/$$name \
	    || { echo "*** FAILED: $$nb (executed copy with the error: $(OUTPUTS)/$$name)"; exit 1; }; \
	done
	@$(BIN)/python -m sbrlib.cli summary --dataset $(DATASET)-$(SESSION_MODE)

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

# make report [RUN=outputs/runs/<run-id>]: (re)build <run>/report/index.html from an existing run
# (executed notebooks and results); without RUN, the latest run under outputs/runs.
.PHONY: report
report: venv
	$(BIN)/python -m sbrlib.report $(RUN)
