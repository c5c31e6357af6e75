# mlplatform: set up, deploy, test.  `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

STACK ?= dev
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip --disable-pip-version-check
# Local file state backend: no Pulumi account needed. State and the generated
# passphrase that encrypts its secrets stay in .pulumi-state/ (git-ignored).
STATE_DIR := $(CURDIR)/.pulumi-state
export PULUMI_BACKEND_URL ?= file://$(STATE_DIR)
export PULUMI_CONFIG_PASSPHRASE_FILE ?= $(STATE_DIR)/passphrase
export PULUMI_SKIP_UPDATE_CHECK := true

.PHONY: help setup venv lock up preview down outputs stack test lint bench e2e e2e-down check-tools \
	status backup restore rotate doctor
OPS := $(PY) -m ops
BACKUP_DIR ?= backups
WHAT ?= all

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# A changed lock rebuilds the venv from scratch: pip keeps an installed version that a new lock moved.
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt images/airflow/requirements.txt
	$(PYTHON) -m venv --clear $(VENV)
	$(PIP) install -q -c constraints.txt -r requirements-dev.txt
	$(PIP) check
	touch $@

venv: $(VENV)/.installed

setup: venv ## Create .venv with the program's and the tests' dependencies (pinned)

lock: venv ## Re-resolve constraints.txt, the complete lock, after editing constraints.in or a requirement file
	$(PY) -m tools.lock
	@echo "Set up. Next: 'make up' to deploy the $(STACK) stack, 'make test' to run the tests."

check-tools:
	@command -v pulumi >/dev/null || { echo "Pulumi CLI not found. Install it: curl -fsSL https://get.pulumi.com | sh  (then open a new shell)"; exit 1; }
	@command -v docker >/dev/null || { echo "Docker not found. Install Docker Engine (Debian/Ubuntu: apt-get install docker.io) or Docker Desktop."; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "Docker is installed but the daemon is not reachable: start it (systemctl start docker) and check you may use it (docker info)."; exit 1; }

stack: check-tools venv
	@mkdir -p $(STATE_DIR) && chmod 700 $(STATE_DIR)
	@[ -s $(PULUMI_CONFIG_PASSPHRASE_FILE) ] || { umask 077; $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(32))' > $(PULUMI_CONFIG_PASSPHRASE_FILE); }
	@pulumi stack select --create $(STACK) --non-interactive >/dev/null

up: stack ## Deploy STACK (default dev), then check the services work together (one line each, smoke DAG)
	pulumi up --yes --stack $(STACK)
	@echo; $(OPS) status --stack $(STACK)
	@echo "Credentials: make outputs STACK=$(STACK)"

status: stack ## One line per service of STACK, and the smoke DAG
	$(OPS) status --stack $(STACK)

doctor: stack ## Check STACK (running or about to be deployed) and name the fix for each problem
	$(OPS) doctor --stack $(STACK)

backup: stack ## Back up STACK into backups/<stack>-<time>/ (PASSPHRASE_FILE=f also keeps the credentials, encrypted)
	$(OPS) backup --stack $(STACK) --out $(BACKUP_DIR) $(if $(PASSPHRASE_FILE),--include-secrets $(PASSPHRASE_FILE))

restore: stack ## Restore BACKUP=<folder> onto STACK's fresh volumes, then deploy (after `make down`)
	@[ -n "$(BACKUP)" ] || { echo "BACKUP=<folder from make backup> is required"; exit 2; }
	$(OPS) restore --stack $(STACK) --backup $(BACKUP)
	$(MAKE) up STACK=$(STACK)

rotate: stack ## Rotate STACK's generated secrets (WHAT=all or some of database,logins,airflow_keys,redis,fernet)
	$(OPS) rotate --stack $(STACK) --what "$(WHAT)"

preview: stack ## Show what `make up` would change
	pulumi preview --diff --stack $(STACK)

outputs: stack ## Print endpoints and (secret) credentials of STACK
	pulumi stack output endpoints --stack $(STACK) --json
	pulumi stack output credentials --show-secrets --stack $(STACK) --json

down: stack ## Destroy STACK's containers (data volumes are retained; protected in prod)
	pulumi destroy --yes --stack $(STACK)

test: venv ## Run the whole test suite
	$(PY) -m pytest -q tests --ignore=tests/e2e

lint: venv ## Check style (ruff) and types (mypy; strict for components/, config/ and ops/)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: venv ## Print speed figures (program evaluation under mocks, DAG parse and run)
	$(PY) -m bench.program_bench
	$(PY) -m bench.dags_bench

e2e: venv ## Run the dev and prod shapes for real on the local Docker engine: checks, figures, drills
	mkdir -p build && date +%s > build/.e2e-started
	bash e2e/engine.sh
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	$(PY) e2e/base_images.py
	PYTHONPATH=$(CURDIR) $(PY) -m pytest -q -s -p no:randomly tests/e2e

e2e-down: venv ## Remove everything `make e2e` created (containers, networks, volumes, state; never anything unlabelled)
	PYTHONPATH=$(CURDIR) $(PY) e2e/realise.py down
