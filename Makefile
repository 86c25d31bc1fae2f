# Two commands: `make train` (the default run) and `make test` (the suite).
# Both build the virtual environment first when it is missing or out of date.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_DATASETS_OFFLINE ?= 1
export HF_HUB_OFFLINE ?= 1

.PHONY: venv train test leaderboard bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

train: $(STAMP)
	$(PY) train.py

test: $(STAMP)
	$(PY) -m pytest --durations=15

leaderboard: $(STAMP)
	$(PY) -m leaderboard

bench: $(STAMP)
	$(PY) -m benchmarks --json benchmarks/latest.json

clean:
	rm -rf $(VENV) outputs multirun checkpoints
