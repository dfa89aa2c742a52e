# Everything sets itself up: the first `make demo` or `make test` creates .venv and installs bridgeline.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-long test-floors lock image lint typecheck bench clean fresh-demo

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "bridgeline needs Python 3.11 or newer on PATH"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bridgeline demo $(ARGS)

fresh-demo: $(STAMP)
	$(BIN)/bridgeline demo --fresh $(ARGS)

# `make test` is the whole suite but its longest tests (marked `long`: the chaos kill rounds and a
# person driving the running demo through its pages), which `make test-long` runs; CI runs both.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m "not long" $(ARGS)

test-long: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m long $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The whole suite again, in a venv of its own with every runtime dependency at the floor
# pyproject.toml declares (uv's lowest-direct resolution; scripts/floors.py refuses a floor that
# does not install as declared). The test tools resolve as usual beside them.
FLOORS := .venv-floors
$(FLOORS)/.installed-stamp: pyproject.toml scripts/floors.py $(STAMP)
	rm -rf $(FLOORS)
	$(PYTHON) -m venv $(FLOORS)
	$(BIN)/python scripts/floors.py $(FLOORS)/bin/python $(FLOORS)/floors.txt
	$(BIN)/uv pip install --quiet --python $(FLOORS)/bin/python -c $(FLOORS)/floors.txt -e '.[test]'
	@touch $@

# The part of the suite that stands in for the whole here: all of `make test` except the two tests
# that install bridgeline elsewhere (a fresh venv from the wheel, the image from the lock), which
# do not use this venv's versions at all.
FLOORS_SKIP := --ignore=tests/ops/test_install.py --ignore=tests/ops/test_image.py
test-floors: $(FLOORS)/.installed-stamp
	$(FLOORS)/bin/python -m pytest -n 2 -q -m "not long" $(FLOORS_SKIP) $(ARGS)

# The exact, hashed versions the image installs: the runtime dependencies (requirements.lock) and
# the build backend that makes the wheel (requirements-build.lock).
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock"
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) --upgrade -o requirements.lock
	$(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires'], sep='\n')" \
		| $(BIN)/uv pip compile - $(LOCK_FLAGS) --upgrade -o requirements-build.lock

# The container image, with buildah, podman or docker (whichever is found first); buildah and
# podman write Docker's format, which keeps the HEALTHCHECK. IMAGE_ARGS adds options, for example
# IMAGE_ARGS='--build-arg BASE_IMAGE=my-registry/python:3.12-slim'.
IMAGE ?= bridgeline
IMAGE_BUILDER ?= $(shell for b in buildah podman docker; do command -v $$b >/dev/null 2>&1 && { echo $$b; break; }; done)
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
image:
	@test -n "$(IMAGE_BUILDER)" || { echo "make image needs buildah, podman or docker"; exit 1; }
	$(IMAGE_BUILDER) build $(if $(filter buildah podman,$(notdir $(IMAGE_BUILDER))),--format docker) \
		-t $(IMAGE):$(VERSION) --build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$(shell git rev-parse HEAD 2>/dev/null || echo unknown) $(IMAGE_ARGS) .

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) $(FLOORS) .pytest_cache .demo build dist
