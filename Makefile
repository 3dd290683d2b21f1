# The two commands a new user needs: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The pinned sfp CLI (tasks/sfp/npm) in a project-local, git-ignored prefix; run by the sfp operations.
NODE_PREFIX := .local/node
SFP_STAMP := $(NODE_PREFIX)/.installed

.PHONY: run test lint format bench install clean update

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

$(SFP_STAMP): tasks/sfp/npm/package.json tasks/sfp/npm/package-lock.json
	mkdir -p $(NODE_PREFIX)
	cp tasks/sfp/npm/package.json tasks/sfp/npm/package-lock.json $(NODE_PREFIX)/
	cd $(NODE_PREFIX) && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(SFP_STAMP)

install: $(STAMP) $(SFP_STAMP)

run: $(STAMP) $(SFP_STAMP)
	$(PY) -m workers up

test: $(STAMP) $(SFP_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	$(PY) manage.py makemigrations --check --dry-run

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

# Graceful update of a deployment: drain → restart on the new image → resume (deploy/update.sh).
# DEPLOY=compose (default) or k8s; DRAIN_TIMEOUT=seconds (default 600).
DEPLOY ?= compose
update:
	deploy/update.sh $(DEPLOY)

clean:
	rm -rf $(VENV) .local .pytest_cache .mypy_cache .ruff_cache
