# One-command set-up: `make test` creates .venv if missing, installs the pinned
# dependencies and the package, and runs the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CUDA machine: make test TF_REQUIREMENT='tensorflow[and-cuda]==2.21.0'
TF_REQUIREMENT ?= tensorflow-cpu==2.21.0
STAMP := $(VENV)/.installed-$(shell echo '$(TF_REQUIREMENT)' | cksum | cut -d' ' -f1)
PYTEST_ARGS ?=

.PHONY: setup test clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	grep -v '^tensorflow-cpu==' requirements.txt > $(VENV)/requirements.resolved.txt
	echo '$(TF_REQUIREMENT)' >> $(VENV)/requirements.resolved.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/requirements.resolved.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
