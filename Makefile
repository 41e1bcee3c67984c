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
	$(BIN)/python -m sbrlib.pipeline.cli data --dataset $(DATASET)

# checks DATASET, PROFILE, SESSION_MODE, FROM and the profile first and prints the time plan; then
# runs the notebooks into outputs/runs/<time>-<dataset>-<mode>-<profile>/ (outputs/latest: the last
# completed run; outputs/current: the run in progress; outputs/last-failed: the last failed one)
run-all: venv
	@$(BIN)/python -m sbrlib.pipeline.run --dataset "$(DATASET)" --profile "$(PROFILE)" --session-mode "$(SESSION_MODE)" --from "$(FROM)"

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

# A longer hyperparameter search (notebook 03) for GRU4Rec, SASRec and the baselines of one split:
#   make tune DATASET=ml-100k [SESSION_MODE=gap] [TUNE_MINUTES=60]
# The studies go to results/<split>/tuning.sqlite3 (outside run folders); running it again adds
# trials to them; later `make run-all` runs of the same split reuse them when their identity (search
# space, data, objective) matches (notebook 03, REUSE_STUDY; a study made differently is refused).
TUNE_MINUTES ?= 60
TUNE_MODELS ?= gru4rec sasrec item-knn sr v-sknn
_comma := ,
_space := $(subst ,, )
.PHONY: tune
tune: venv
	@mkdir -p outputs/tune
	SBR_RUN_DIR= $(BIN)/papermill --cwd notebooks -p DATASET $(DATASET) -p SESSION_MODE $(SESSION_MODE) \
	  -p DATA_DIR "$${SBR_DATA_DIR:-}" --progress-bar notebooks/02_preprocessing.ipynb \
	  outputs/tune/02_preprocessing-$(DATASET)-$(SESSION_MODE).ipynb
	SBR_RUN_DIR= $(BIN)/papermill --cwd notebooks -p DATASET $(DATASET) -p SESSION_MODE $(SESSION_MODE) \
	  -p DATA_DIR "$${SBR_DATA_DIR:-}" -p TUNE_MINUTES $(TUNE_MINUTES) -y "TUNE_TRIALS: null" -p REUSE_STUDY False \
	  -y "MODELS: [$(subst $(_space),$(_comma),$(strip $(TUNE_MODELS)))]" \
	  --progress-bar notebooks/03_tuning.ipynb outputs/tune/03_tuning-$(DATASET)-$(SESSION_MODE).ipynb
	@echo "studies: results/$(DATASET)-$(SESSION_MODE)/tuning.sqlite3; executed notebook: outputs/tune/03_tuning-$(DATASET)-$(SESSION_MODE).ipynb"

# make report [RUN=outputs/runs/<run-id>]: (re)build <run>/report/index.html from an existing run
# (executed notebooks and results); without RUN, the latest run under outputs/runs.
.PHONY: report
report: venv
	$(BIN)/python -m sbrlib.pipeline.html_report $(RUN)
