# Set-up is automatic: every target creates or reuses .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= results
PYTEST_ARGS ?=

.PHONY: run test theory docs bench bench-small clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,real,docs]'
	touch $(STAMP)

# The main job on the embedded toy model.
run: $(STAMP)
	$(BIN)/steerbounds reproduce --model toy --out $(OUT)/toy

# Every statement of docs/theory.md derived, then checked numerically on random and adversarial instances.
theory: $(STAMP)
	$(BIN)/steerbounds derive
	$(BIN)/steerbounds check-theory

# The whole test suite (HYPOTHESIS_PROFILE=thorough under CI).
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

# The documentation site, built offline into site/ with warnings as errors (docs/api: the API reference).
docs: $(STAMP)
	$(BIN)/mkdocs build --strict

# Sweep benchmark (benchmarks/sweep.py): ours against transformers with forward hooks, GPT-2 small shape.
# Writes $(OUT)/bench/sweep.json; bench-small is the one-minute smoke configuration.
bench: $(STAMP)
	$(BIN)/python benchmarks/sweep.py --out $(OUT)/bench/sweep.json

bench-small: $(STAMP)
	$(BIN)/python benchmarks/sweep.py --small --out $(OUT)/bench/sweep-small.json

clean:
	rm -rf $(VENV) build site *.egg-info
