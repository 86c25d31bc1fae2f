# Two commands: `make train` (the default run) and `make test` (the suite).
# Both build the virtual environment first when it is missing or out of date.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_DATASETS_OFFLINE ?= 1
export HF_HUB_OFFLINE ?= 1
# pytest-xdist workers for `make test`: one per core (the suite is mostly single-threaded runs)
TEST_WORKERS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: venv train test leaderboard cpu-track cpu-track-stream-0 cpu-track-stream-1 bench clean

venv: $(STAMP)

# uv installs in seconds where pip takes minutes; it is handed the index and find-links
# settings pip would use (pip config and PIP_* variables), and pip is the fallback.
# --compile-bytecode: uv writes no .pyc by default (pip does), and where PYTHONDONTWRITEBYTECODE is set
# none is ever cached, so every process (a run, a sweep, each test worker) would compile torch's and
# Lightning's sources again on import: 18-21 s instead of 6-7 s here, with two sweeps running.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	if $(PY) -m pip install -q uv 2>/dev/null; then \
	    UV_FIND_LINKS="$$($(PY) -m pip config get global.find-links 2>/dev/null || echo "$${PIP_FIND_LINKS:-}")" \
	    UV_EXTRA_INDEX_URL="$$($(PY) -m pip config get global.extra-index-url 2>/dev/null || echo "$${PIP_EXTRA_INDEX_URL:-}")" \
	    UV_INDEX_STRATEGY=unsafe-best-match \
	    $(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -c constraints.txt -e '.[dev]'; \
	else \
	    $(PY) -m pip install -q -c constraints.txt -e '.[dev]'; \
	fi
	touch $(STAMP)

train: $(STAMP)
	$(PY) train.py

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -n $(TEST_WORKERS) --durations=15

leaderboard: $(STAMP)
	$(PY) -m leaderboard

# The whole cpu track, each curve's reference sweep (<curve>_lr) before the curve; idempotent, so a
# stopped run continues where it was when started again. Every declared run decides from the records
# whether it is needed (common/lr_rules.py); some wait on runs not made yet (a rate beyond an end of
# the grid, the other rates where the chosen one failed), and those can belong to the other sweep of
# the pair (a reference candidate waits for the curve to settle the value below it), so each curve
# runs rounds of both sweeps until a round adds no record (at most SWEEP_PASSES). Two streams, one job
# of one thread each (the 2-core machine's two jobs): stream 0 takes the 1st, 3rd, 5th ... curve of
# CPU_TRACK, stream 1 the others. A curve's runs wait on each other, so within a curve one job at a
# time; the streams never share a curve. A round that adds no record of its curve (records are named
# <task>-<model>-...) ends the curve. The order balances the streams' job time as python -m
# benchmarks.track_cost projects it (mqar_state, the dearest curve, goes to the stream without mqar:
# 55 h and 60 h from scratch, where putting it last left 72 h and 43 h; projected with its dense
# recurrences, since left to the MQAR curve: mqar_state.yaml).
CPU_TRACK := copy word_problem word_problem_neg selective_copy mqar teacher smnist mqar_state sfmnist
SWEEP_PASSES ?= 8
RESULTS := leaderboard/results

cpu-track: $(STAMP)
	$(MAKE) -j2 cpu-track-stream-0 cpu-track-stream-1
	$(PY) -m leaderboard

cpu-track-stream-0 cpu-track-stream-1: $(STAMP)
	@for curve in $$(echo $(CPU_TRACK) | tr ' ' '\n' | awk 'NR % 2 == ($(@:cpu-track-stream-%=%) + 1) % 2'); do \
	    prefix=$$(echo $$curve | sed 's/_state$$//; s/_neg$$/-mamba/')-; \
	    for pass in $$(seq $(SWEEP_PASSES)); do \
	        before=$$(ls $(RESULTS) | grep -c "^$$prefix"); \
	        $(PY) train.py -m experiment=leaderboard/$${curve}_lr hydra.launcher.n_jobs=1 || exit 1; \
	        $(PY) train.py -m experiment=leaderboard/$$curve hydra.launcher.n_jobs=1 || exit 1; \
	        [ "$$(ls $(RESULTS) | grep -c "^$$prefix")" = "$$before" ] && break; \
	    done; \
	done

bench: $(STAMP)
	$(PY) -m benchmarks --json benchmarks/latest.json

clean:
	rm -rf $(VENV) outputs multirun checkpoints
