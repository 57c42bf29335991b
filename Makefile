# WebSocket Rooms & Broadcasting, the instructor's edition: what students run (in
# edition/Makefile, which ships as the student edition's Makefile), then the targets
# for instructors and for the kit's own development.

include edition/Makefile

MORE_HELP := instructors: NO_SANDBOX=1 (grade without bubblewrap where it cannot work; see make doctor)

INSTRUCTOR_STAMP := $(STAMP)-instructor
DEV_STAMP := $(STAMP)-dev
.PHONY: verify grade export compare doctor dist gradescope bench test lint lock

# The kit's tests mostly wait on sockets and on the bounds of failing checks: two
# workers per core keep the cores busy.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 )))

# Grading a class also draws its report (matplotlib, jinja2).
$(INSTRUCTOR_STAMP): $(STAMP)
	@$(INSTALL) -e '.[instructor]'
	@touch $@

# What only the kit's developers need (ruff, mypy, xdist, playwright, xmlschema).
$(DEV_STAMP): $(STAMP)
	@$(INSTALL) -e '.[dev]'
	@touch $@

# After a change to pyproject.toml's pins: every version again, for every platform and
# Python the kit supports. Not through the setup, whose install the old lock would refuse.
lock: ## kit developers: regenerate requirements.lock after changing a pin (with uv)
	@test -x "$(UV)" || $(FETCH_UV) || { echo "make lock needs uv: pip install uv"; exit 1; }
	@"$(UV)" pip compile --quiet --universal --extra instructor --extra dev \
	  --custom-compile-command "make lock" -o $(LOCK) pyproject.toml

verify: $(STAMP) sandbox ## instructors: check the kit's files against its rules, then prove every solution passes and every starter fails
	@$(GRADER) verify $(EX_ARG) $(SANDBOX_ARG)

# A name is passed in single quotes, each of its own quotes escaped: any name gets through.
quote = '$(subst ','\'',$(1))'

grade: $(INSTRUCTOR_STAMP) sandbox ## instructors: grade a folder, SUBMISSIONS=<dir> [EX=<id>] [OUT=grades] [ONLY=<name>] [FORCE=1] [ROSTER=<csv>]
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder> [EX=<id>] [OUT=<folder>]"; exit 2; }
	@$(GRADER) grade --submissions $(call quote,$(SUBMISSIONS)) $(EX_ARG) --out $(call quote,$(or $(OUT),grades)) \
	  $(if $(ONLY),--only $(call quote,$(ONLY))) $(if $(FORCE),--force) $(if $(ROSTER),--roster $(call quote,$(ROSTER))) \
	  $(if $(HIDDEN),--hidden-visibility $(HIDDEN)) $(SANDBOX_ARG)

export: $(INSTRUCTOR_STAMP) ## instructors: rebuild every export of a graded class from its kept grades, no grading [OUT=grades] [HIDDEN=…] [ROSTER=<csv>]
	@$(GRADER) export --out $(call quote,$(or $(OUT),grades)) $(if $(ROSTER),--roster $(call quote,$(ROSTER))) \
	  $(if $(HIDDEN),--hidden-visibility $(HIDDEN))

compare: $(STAMP) sandbox ## instructors: a submission beside the solution, EX=<id> SUBMISSION=<file>
	@test -n "$(EX)" -a -n "$(SUBMISSION)" || { echo "usage: make compare EX=<id> SUBMISSION=<folder or .py>"; exit 2; }
	@$(GRADER) compare --exercise $(EX) --submission "$(SUBMISSION)" $(SANDBOX_ARG)

doctor: $(STAMP) sandbox ## instructors: which isolation submissions get on this machine
	@$(GRADER) doctor

dist: $(STAMP) ## instructors: build the student edition in dist/ (no solutions, no hidden checks)
	@$(GRADER) dist --out dist

gradescope: $(STAMP) ## instructors: build a Gradescope autograder zip in dist/ [EX=<id>,<id>] [HIDDEN=…]
	@$(GRADER) gradescope --out dist $(EX_ARG) $(if $(HIDDEN),--hidden-visibility $(HIDDEN))

bench: $(DEV_STAMP) ## fan-out benchmark [EX=<id>] [SUBMISSION=…] [CLIENTS=10,100,500] [JSON=file]
	@$(PY) -m bench.fanout $(EX_ARG) $(SUB_ARG) $(if $(CLIENTS),--clients $(CLIENTS)) $(JSON_ARG)

test: $(DEV_STAMP) ## run the kit's own test suite (what CI runs)
	@$(MAKE) -s system-packages SYSTEM_PACKAGES="chromium:chromium redis-server:redis-server bwrap:bubblewrap setpriv:util-linux"
	@$(PY) -m ruff check .
	@$(PY) -m mypy
	@$(PY) -m pytest -n $(TEST_WORKERS) -q

lint: $(DEV_STAMP) ## ruff, on the whole kit
	@$(PY) -m ruff check .
