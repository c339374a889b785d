# Aftercare: `make run` to try it, `make test` to check it. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test bench install install-dev migrate demo lint format clean translations

run: export TRACKER_BASE_URL ?= http://$(HOST):$(PORT)
run: migrate
	@$(FLASK) tracker demo
	@echo
	@echo "Aftercare is running at http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	@echo "Open one of the patient links above in your browser; staff sign in at http://$(HOST):$(PORT)/signin"
	@TRACKER_SCHEDULER=1 $(FLASK) run --host $(HOST) --port $(PORT)

test: install-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m tracker.bench $(BENCH_ARGS)

# What the app needs to run; the tests and tools (requirements-dev.txt) go on top for `make test`.
install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

migrate: install
	@$(FLASK) db upgrade

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# The message template from the code; merge it into each catalogue (tracker/translations/).
translations: install-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --no-location -o instance/messages.pot .
	$(BIN)/pybabel update -i instance/messages.pot -d tracker/translations --no-fuzzy-matching
