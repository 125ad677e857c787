# The two commands the README opens with. Both create .venv/ on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint clean dagster

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	# torch first and pinned: this is the CPU build; anything that pulls plain
	# `torch` later is then already satisfied.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/reelrank run

# Tests that open homes of their own, run a second time with each home's control store on
# PostgreSQL (tests/postgres.py; the control-store suite itself runs on both in the first pass).
POSTGRES_TESTS := tests/test_generation_credits.py tests/test_generation_requests.py \
	tests/test_generation_worker.py tests/test_inbox.py tests/test_dm_policy.py \
	tests/test_api_dm.py tests/test_erase.py tests/test_home.py

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q
	REELRANK_TEST_CONTROL=postgresql $(BIN)/python -m pytest -q $(POSTGRES_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The Dagster UI on the default home (run from the repo root, where dagster.yaml lives).
dagster: $(STAMP)
	$(BIN)/dagster dev

clean:
	rm -rf $(VENV) .reelrank
