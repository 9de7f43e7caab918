# compoundeye: `make demo` runs the whole compound on this machine, `make test` checks it.
# Both start with `make setup` (Debian packages, PostgreSQL, .venv), which is quick when done.

VENV    := .venv
BIN     := $(VENV)/bin
PYTEST_ARGS ?=
# Most tests wait on real time (streams, timers, services), so two workers (each with its
# own private services) halve the wall time on two cores; a whole file stays on one worker.
PYTEST_PARALLEL ?= -n 2 --dist loadfile
DEMO_ARGS   ?=
BENCHES     ?= decode motion bus export search ops live record scale
BENCH_ARGS  ?= --json

# Where PostgreSQL refuses postgres@127.0.0.1 without a password, setup keeps a test
# role's URL here; the test fixtures read it from CE_TEST_POSTGRES.
PG_URL_FILE := $(VENV)/ce-test-postgres
export CE_TEST_POSTGRES ?= $(shell cat $(PG_URL_FILE) 2>/dev/null)

.PHONY: setup lint test unit demo bench bench-quick health clean

setup:
	@bash scripts/setup.sh

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy .

# Lint first (fast), then the whole suite; pytest's "no tests ran" (exit 5) fails too.
test: lint
	@status=0; $(BIN)/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	exit $$status

# The suite without the slow tests, for a quick local loop.
unit: setup
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

demo: setup
	$(BIN)/compoundeye demo $(DEMO_ARGS)

bench: setup
	@set -e; for b in $(BENCHES); do $(BIN)/compoundeye bench $$b $(BENCH_ARGS); done

bench-quick: BENCH_ARGS += --quick
bench-quick: bench

health: setup
	$(BIN)/compoundeye health

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache build
