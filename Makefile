# WebSocket Rooms & Broadcasting — every target is a thin wrapper around `python -m grader`.
# The first run creates .venv and installs the pinned dependencies; later runs reuse it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
DEV_STAMP := $(STAMP)-dev
GRADER := $(PY) -m grader

# Optional arguments, passed on only when given.
EX_ARG   = $(if $(EX),--exercise $(EX))
SUB_ARG  = $(if $(SUBMISSION),--submission "$(SUBMISSION)")
PORT    ?= 8000
JSON_ARG = $(if $(JSON),--json "$(JSON)")
# Grading someone else's work runs it in a bubblewrap sandbox; NO_SANDBOX=1 opts out.
SANDBOX_ARG = $(if $(NO_SANDBOX),--no-sandbox)

.DEFAULT_GOAL := help
.PHONY: help setup system-packages sandbox check watch hint lesson serve verify grade compare doctor dist gradescope bench test lint clean

help: ## list the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  options: EX=<exercise id>  SUBMISSION=<folder or .py file>  JSON=<results.json>"
	@echo "           NO_SANDBOX=1 (grade without bubblewrap where it cannot work; see make doctor)"

setup: $(STAMP) ## create .venv and install the pinned dependencies

$(STAMP): pyproject.toml
	@$(MAKE) -s system-packages SYSTEM_PACKAGES=redis-server:redis-server
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version)). Try: make PYTHON=python3.12"; exit 1; }
	@echo "Setting up .venv (first run only)…"
	@rm -rf $(VENV) && $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

# What only the kit's developers need (ruff, xdist, playwright, matplotlib).
$(DEV_STAMP): $(STAMP)
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

check: $(STAMP) $(if $(SUBMISSION),sandbox) ## grade your work (EX=<id> for one exercise, SUBMISSION=… for someone else's)
	@$(GRADER) check $(EX_ARG) $(SUB_ARG) $(JSON_ARG) $(if $(SUBMISSION),$(SANDBOX_ARG))

watch: $(STAMP) ## re-check the exercise you are on every time you save
	@$(GRADER) watch $(EX_ARG)

hint: $(STAMP) ## show the next hint for the exercise you are on (EX=<id> for another)
	@$(GRADER) hint $(EX_ARG)

lesson: $(STAMP) ## read the lesson for the exercise you are on (EX=<id> for another)
	@$(GRADER) lesson $(EX_ARG)

serve: $(STAMP) ## run your app with auto-reload and a chat page at / [PORT=8000]
	@$(GRADER) serve $(EX_ARG) $(SUB_ARG) --port $(PORT)

verify: $(STAMP) sandbox ## instructors: prove every solution passes and every starter fails
	@$(GRADER) verify $(EX_ARG) $(SANDBOX_ARG)

grade: $(STAMP) sandbox ## instructors: grade a folder, SUBMISSIONS=<dir> [EX=<id>] [OUT=grades]
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder> [EX=<id>] [OUT=<folder>]"; exit 2; }
	@$(GRADER) grade --submissions "$(SUBMISSIONS)" $(EX_ARG) --out "$(or $(OUT),grades)" $(SANDBOX_ARG)

compare: $(STAMP) sandbox ## instructors: a submission beside the solution, EX=<id> SUBMISSION=<file>
	@test -n "$(EX)" -a -n "$(SUBMISSION)" || { echo "usage: make compare EX=<id> SUBMISSION=<folder or .py>"; exit 2; }
	@$(GRADER) compare --exercise $(EX) --submission "$(SUBMISSION)" $(SANDBOX_ARG)

doctor: $(STAMP) sandbox ## instructors: which isolation submissions get on this machine
	@$(GRADER) doctor

dist: $(STAMP) ## instructors: build the student edition in dist/ (no solutions, no hidden checks)
	@$(GRADER) dist --out dist

gradescope: $(STAMP) ## instructors: build dist/gradescope-autograder.zip
	@$(GRADER) gradescope --out dist

bench: $(DEV_STAMP) ## fan-out benchmark [EX=<id>] [SUBMISSION=…] [CLIENTS=10,100,500] [JSON=file]
	@$(PY) bench/fanout.py $(EX_ARG) $(SUB_ARG) $(if $(CLIENTS),--clients $(CLIENTS)) $(JSON_ARG)

# Debian packages, installed with apt-get when missing and we may (root): a browser
# for the chat page test, a Redis server for scaleout, bubblewrap for the sandbox.
SYSTEM_PACKAGES := chromium:chromium redis-server:redis-server bwrap:bubblewrap
system-packages:
	@for pair in $(SYSTEM_PACKAGES); do \
	  cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing $$pkg (apt-get)…"; \
	    { [ -n "$$APT_UPDATED" ] || apt-get update -qq; } && APT_UPDATED=1 && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null; \
	  else echo "note: $$pkg is not installed; what needs it will say so"; fi; \
	done

# What grading someone else's submission needs: bubblewrap.
sandbox:
	@$(MAKE) -s system-packages SYSTEM_PACKAGES=bwrap:bubblewrap

test: $(DEV_STAMP) system-packages ## run the kit's own test suite (what CI runs)
	@$(PY) -m ruff check .
	@$(PY) -m pytest -n auto -q

lint: $(DEV_STAMP) ## ruff, on the whole kit
	@$(PY) -m ruff check .

clean: ## remove the virtual environment and caches
	rm -rf $(VENV) dist .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
