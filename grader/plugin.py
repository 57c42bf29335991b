"""The pytest plugin that grades: it runs in the checks process, never in the grader's.

It collects `@check` functions, has the zygote start a fresh copy of the student's app
for each one, runs the async check body, skips checks whose prerequisites failed, and
writes each result to the results channel at once, so that a run killed half-way still
reports what it did.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import json
import os
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest

from grader import caps, channel, diagnosis, drain, loopwatch, quoting, timing
from grader.checks import CheckSpec, Failure, ServerErrors
from grader.client import ACCEPTED, LiveServer, Transcript
from grader.manifest import in_hidden_folder
from grader.processes import PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, kill_tree, prctl
from grader.results import CheckResult, Outcome
from grader.sandbox import Sandbox
from grader.server import AppServer, CouldNotStart
from grader.source import Submission
from grader.zygote import SandboxGone, Zygote

_KEY = pytest.StashKey["Grading"]()


class CheckTimedOut(Exception):
    pass


class Grading:
    """State of one grading run inside the checks process."""

    def __init__(self, config: pytest.Config) -> None:
        option = config.getoption
        scratch = Path(option("grader_scratch"))
        self.scratch = scratch
        self.file_name: str = option("grader_file")
        folders = [Path(f) for f in option("grader_cgroups").split(",") if f]
        job_caps = caps.CgroupCaps("cgroup", folders, owner=False) if folders else caps.JobCaps()
        uid = int(option("grader_uid")) if option("grader_uid") else None
        self.sandbox = Sandbox(scratch, job_caps, isolated=option("grader_isolated"), uid=uid)
        self.student_file = str(self.sandbox.submission(self.file_name))
        """The file's path as tracebacks from the server show it."""
        self.display: str = option("grader_display") or self.file_name
        """The file's path as the student knows it."""
        key = sys.stdin.buffer.read(channel.KEY_BYTES)
        self.results = channel.Writer(Path(option("grader_results")), key)
        self.outcomes: dict[str, Outcome] = {}
        self.descriptions: dict[str, str] = {}
        self.could_not_start: CouldNotStart | None = None
        self.env: dict[str, str] = json.loads(option("grader_env"))
        self.endpoint: str = option("grader_endpoint")
        self.points: dict[str, float] = json.loads(option("grader_points"))
        """What the manifest says checks are worth (see Exercise.points_by_check)."""
        self._count = 0
        # Started before any student code runs: a job at its process cap cannot stop it.
        self.pipes = drain.Drain()
        self.source = quoting.source_lines(scratch / "submission" / self.file_name)
        """The grader's own copy of the submission's lines, to quote them."""
        self.loopwatch = loopwatch.LoopWatch()
        """Decides never_blocks_event_loop: each server's loop, seen from outside."""
        self.witnessed: list[tuple[bool, dict[str, Any]]] = []
        """(hidden, event): each block the witnesses reported, by whether a hidden
        check's server reported it."""
        self.zygote = Zygote.start(
            self.sandbox,
            self.file_name,
            option("grader_module"),
            option("grader_preload"),
            self.pipes,
        )

    @property
    def never_blocks(self) -> channel.CheckInfo:
        """The engine's own check, worth what the manifest says it is."""
        return dataclasses.replace(NEVER_BLOCKS, points=self.worth(NEVER_BLOCKS))

    def worth(self, check: CheckSpec | channel.CheckInfo) -> float:
        """A check's points: the manifest's for it, or its own times the exercise's weight."""
        return float(self.points.get(check.name, check.points * self.points.get("*", 1.0)))

    def new_server(
        self, overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> AppServer:
        self._count += 1
        return AppServer(
            self.zygote,
            self.scratch / f"server-{self._count}.events",
            pipes=self.pipes,
            file_name=self.file_name,
            overrides=overrides,
            env={**self.env, **(env or {})},
            job_caps=self.sandbox.caps,
        )

    def reset(self) -> None:
        """Kill everything the last check's servers started."""
        try:
            self.zygote.request("reset")
        except SandboxGone:
            pass


class Launcher:
    """Starts copies of the student's app for one check; they share one transcript."""

    def __init__(self, grading: Grading, spec: CheckSpec) -> None:
        self.grading = grading
        self.spec = spec
        self.settings = spec.settings
        self.transcript = Transcript()
        self.servers: list[LiveServer] = []
        self.outputs: list[tuple[LiveServer, str, str | None]] = []
        """(server, output, how it ended) as the check ended, before clients were dropped."""
        self.events: list[dict[str, Any]] = []
        """What the witnesses in the servers saw, as the check ended."""
        self.caps_before = grading.sandbox.caps.events()
        """What the job's caps had stopped before this check."""

    def __call__(self, env: dict[str, str] | None = None, label: str | None = None) -> LiveServer:
        """A running copy of the app; `env` adds environment variables (a service's URL)."""
        app = self.grading.new_server(self.settings, env)
        if self.spec.hidden:  # before it runs: a run cut short must know it too
            loopwatch.note_hidden(app.events_path)
        live = LiveServer(app, self.transcript, label)
        self.servers.append(live)
        app.start()
        # Every block is told to the check whose server it was in: a hidden check's
        # must never show in a visible check's words.
        self.grading.loopwatch.watch(app, app.host_pid, self.spec.name, self.spec.hidden)
        return live

    def finish(self, failed: bool = False) -> None:
        """Note what every server said and saw, then drop the clients (which may make more
        noise). If the check failed, first ask the servers where they are waiting."""
        if failed:
            # Every server is asked at once, and all answer within one shared half second.
            asked = [(live.app, live.app.ask_where_waiting()) for live in self.servers]
            deadline = time.monotonic() + 0.5
            for app, before in asked:
                if before is not None:
                    app.await_where_waiting(before, deadline)
        self.outputs = [(live, live.output(), live.app.exit_reason()) for live in self.servers]
        source = self.grading.source
        self.events = [
            quoting.ground(event, source) for live in self.servers for event in live.app.events()
        ]
        for live in self.servers:
            live.abort_clients()

    def stop(self) -> None:
        for live in self.servers:
            self.grading.loopwatch.unwatch(live.app)
            live.app.stop()
            # The last report of each block is its longest (see witness._watchdog).
            blocks = {e.get("since"): e for e in live.app.events() if e["kind"] == "blocked"}
            self.grading.witnessed += [(self.spec.hidden, e) for e in blocks.values()]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader")
    group.addoption("--grader-scratch", help="the job's folder (submission/ holds the file)")
    group.addoption("--grader-file", help="the student's file name")
    group.addoption("--grader-uid", default="", help="the kernel uid of the job's sandboxes")
    group.addoption("--grader-module", help="the module name to import it as")
    group.addoption("--grader-results", help="where to append the results channel")
    group.addoption("--grader-preload", default="", help="modules the zygote imports once")
    group.addoption("--grader-missing", default="", help="why there is no file to grade")
    group.addoption("--grader-isolated", action="store_true", help="run servers in bwrap")
    group.addoption("--grader-cgroups", default="", help="the job's cgroup folders")
    group.addoption("--grader-env", default="{}", help="what every server gets (JSON)")
    group.addoption("--grader-endpoint", default="", help="the exercise's route")
    group.addoption("--grader-display", default="", help="the student's file, as they name it")
    group.addoption("--grader-points", default="{}", help="points by check name (JSON)")
    group.addoption("--grader-extensions", default="", help="the course's own modules")


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("grader_scratch"):
        return
    # Nothing of this process (the results key above all) may be read by another
    # process of the same user, nor may anything below us escape when it is orphaned.
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    # The course's own modules register its advice and services, and their fixtures
    # (a broker of its own, say) are every check's.
    for name in filter(None, config.getoption("grader_extensions").split(",")):
        config.pluginmanager.register(importlib.import_module(name), name)
    config.stash[_KEY] = Grading(config)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Any:
    if isinstance(getattr(obj, "__grader_check__", None), CheckSpec):
        return [pytest.Function.from_parent(collector, name=name)]
    return None


def _spec(item: pytest.Item) -> CheckSpec:
    # Every check is a pytest.Function, whose `obj` (the function) pytest.Item does not declare.
    spec: CheckSpec = item.obj.__grader_check__  # type: ignore[attr-defined]
    if in_hidden_folder(item.path) and not spec.hidden:
        spec = dataclasses.replace(spec, hidden=True)
    if _KEY in item.config.stash:  # the manifest has the last word on what it is worth
        spec = dataclasses.replace(spec, points=item.config.stash[_KEY].worth(spec))
    return spec


def pytest_collection_finish(session: pytest.Session) -> None:
    grading = session.config.stash.get(_KEY, None)
    if grading is None:
        return
    specs = [_spec(item) for item in session.items]
    grading.descriptions = {s.name: s.description for s in specs}
    checks = [channel.CheckInfo(s.name, s.description, s.points, s.hidden) for s in specs]
    grading.results.write(channel.Collected((*checks, grading.never_blocks)))
    missing = session.config.getoption("grader_missing")
    if missing:
        grading.could_not_start = CouldNotStart(missing)
    else:  # one trial start: a module that cannot even be imported gets one clear verdict
        trial = grading.new_server()
        try:
            trial.start()
        except CouldNotStart as exc:
            advice = diagnosis.not_started(str(exc), grading.source)
            detail = "\n".join(part for part in (exc.detail, advice) if part)
            grading.could_not_start = CouldNotStart(f"the app could not start: {exc}", detail)
        finally:
            trial.stop()
    refusal = grading.could_not_start
    if refusal:
        grading.results.write(channel.RunError(refusal.message, refusal.detail))


def pytest_runtest_setup(item: pytest.Item) -> None:
    grading = item.config.stash.get(_KEY, None)
    if grading is None:
        return
    if grading.could_not_start is not None:
        pytest.skip(grading.could_not_start.message)
    for parent in _spec(item).depends:
        if grading.outcomes.get(parent) is not Outcome.PASSED:
            pytest.skip(f"skipped until “{grading.descriptions.get(parent, parent)}” passes")


# Every exercise has this check: it judges the whole run, from what the watchdog in each
# server saw (see witness.py), once every other check is done.
NEVER_BLOCKS = channel.CheckInfo(
    "never_blocks_event_loop",
    "The server never blocks its event loop: while it serves one client, the others are "
    "not kept waiting (no time.sleep, no blocking call).",
)


class _Identity(TypedDict):
    """What every result of one check says, whatever its outcome."""

    name: str
    description: str
    points: float


class _Measured(_Identity):
    """…and, for a check that ran (or was skipped), its visibility and how long it took."""

    hidden: bool
    duration: float


class _ServerContext(TypedDict, total=False):
    """What the servers of a failed check said; nothing for a check without servers."""

    steps: tuple[str, ...]
    server_output: str


def pytest_sessionfinish(session: pytest.Session) -> None:
    grading = session.config.stash.get(_KEY, None)
    if grading is not None:
        grading.results.write(channel.Result(_never_blocks(grading)))


def _never_blocks(grading: Grading) -> CheckResult:
    info = grading.never_blocks
    base = _Identity(name=info.name, description=info.description, points=info.points)
    if grading.could_not_start is not None:
        return CheckResult(
            outcome=Outcome.SKIPPED, rationale=grading.could_not_start.message, **base
        )
    grading.loopwatch.close()
    rationale = loopwatch.verdict(
        grading.witnessed, grading.loopwatch.blocks(), grading.source, Path(grading.display).name
    )
    if rationale is not None:
        worst = loopwatch.worst_witnessed(grading.witnessed, grading.source)
        advice = diagnosis.blocked_advice(worst or {})
        return CheckResult(outcome=Outcome.FAILED, rationale=rationale, help=advice, **base)
    if Outcome.PASSED not in grading.outcomes.values():
        return CheckResult(
            outcome=Outcome.SKIPPED,
            rationale="skipped until a check that puts the server to work passes",
            **base,
        )
    return CheckResult(outcome=Outcome.PASSED, **base)


def pytest_unconfigure(config: pytest.Config) -> None:
    grading = config.stash.get(_KEY, None)
    if grading is not None:
        grading.loopwatch.close()
        grading.zygote.close()
        # What a submission left below us (its zygote gone, its orphans came to us).
        kill_tree(os.getpid())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Any:
    result = yield
    # Every server and service of the check is stopped by now; whatever they started
    # goes too, so the next check starts clean.
    grading = item.config.stash.get(_KEY, None)
    if grading is not None:
        grading.reset()
    return result


@pytest.fixture
def launch(request: pytest.FixtureRequest) -> Iterator[Launcher]:
    """Start copies of the student's app: `launch()`, or `launch(env={...}, label="A")`."""
    launcher = Launcher(request.config.stash[_KEY], _spec(request.node))
    try:
        yield launcher
    finally:
        launcher.stop()


@pytest.fixture
def server(launch: Launcher) -> LiveServer:
    """A fresh copy of the student's app, running on its own port, for one check."""
    return launch()


@pytest.fixture
def submission(request: pytest.FixtureRequest) -> Submission:
    """The student's file, read from the grader's own copy."""
    grading = request.config.stash[_KEY]
    return Submission(grading.source, Path(grading.display).name)


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    """The job's sandbox: where a backing service a check starts must run (see services)."""
    grading: Grading = request.config.stash[_KEY]
    return grading.sandbox


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    launcher = pyfuncitem.funcargs.get("launch")
    asyncio.run(_drive(fn, kwargs, timing.scaled(_spec(pyfuncitem).timeout), launcher))
    return True


async def _drive(
    fn: Callable[..., Awaitable[object]], kwargs: dict[str, Any], timeout: float, launcher: object
) -> None:
    failed = False
    try:
        async with asyncio.timeout(timeout) as deadline:
            await fn(**kwargs)
    except Failure:
        failed = True
        raise
    except TimeoutError:
        failed = True
        if deadline.expired():
            raise CheckTimedOut(f"the check did not finish within {timeout:g} s") from None
        raise
    finally:
        # Inside the loop: after asyncio.run returns, the transports cannot be touched.
        if isinstance(launcher, Launcher):
            launcher.finish(failed)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    grading = item.config.stash.get(_KEY, None)
    if grading is None or not isinstance(item, pytest.Function):
        return report
    if report.when == "call" or (report.when == "setup" and not report.passed):
        result = _result(item, call, report, grading)
        grading.outcomes[result.name] = result.outcome
        grading.results.write(channel.Result(result))
    return report


def _result(
    item: pytest.Function, call: pytest.CallInfo[None], report: pytest.TestReport, grading: Grading
) -> CheckResult:
    spec = _spec(item)
    base = _Measured(
        name=spec.name,
        description=spec.description,
        points=spec.points,
        hidden=spec.hidden,
        duration=round(report.duration, 3),
    )
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        waited_for = next(
            (p for p in spec.depends if grading.outcomes.get(p) is not Outcome.PASSED), ""
        )
        return CheckResult(
            outcome=Outcome.SKIPPED,
            rationale=reason.removeprefix("Skipped: "),
            waited_for=waited_for if grading.could_not_start is None else "",
            **base,
        )
    found = item.funcargs.get("launch")
    launcher = found if isinstance(found, Launcher) else None
    if report.passed:  # the script is kept too: `compare` shows it beside a failing one
        steps = tuple(launcher.transcript) if launcher else ()
        return CheckResult(outcome=Outcome.PASSED, steps=steps, **base)
    error = call.excinfo.value if call.excinfo else None
    if isinstance(error, CouldNotStart):
        return CheckResult(
            outcome=Outcome.ERRORED,
            rationale=f"the app could not start: {error.message}",
            detail=error.detail,
            **base,
        )
    context, advice = _server_context(launcher, grading, error)
    if isinstance(error, Failure):
        return CheckResult(
            outcome=Outcome.FAILED,
            rationale=error.rationale,
            expected=error.expected,
            actual=error.actual,
            help=_help(advice, error.help)
            or (error.fallback if isinstance(error, ServerErrors) else None),
            **context,
            **base,
        )
    if isinstance(error, CheckTimedOut):
        return CheckResult(
            outcome=Outcome.TIMED_OUT,
            rationale=str(error),
            help=_help(advice, None),
            **context,
            **base,
        )
    detail = "".join(traceback.format_exception(error)) if error else str(report.longrepr)
    return CheckResult(
        outcome=Outcome.ERRORED,
        rationale="the grader hit an unexpected error (a bug in the kit; "
        "please tell your instructor)",
        detail=detail,
        **context,
        **base,
    )


def _server_context(
    launcher: Launcher | None, grading: Grading, error: BaseException | None
) -> tuple[_ServerContext, diagnosis.Advice | None]:
    """What the servers of a failed check said, trimmed, and advice from the evidence."""
    if launcher is None or not launcher.servers:
        return {}, None
    outputs, parts = [], []
    for live, output, died in launcher.outputs:
        outputs.append(output)
        trimmed = diagnosis.trim(output, grading.student_file, grading.display)
        if died:
            trimmed = (trimmed + "\n" if trimmed else "") + f"(the server {died})"
        if trimmed and len(launcher.servers) > 1:
            trimmed = f"[server {live.label}]\n{trimmed}"
        parts.append(trimmed)
    caps_after = grading.sandbox.caps.events()
    parts += [f"({words})" for words in caps_after.since(launcher.caps_before)]
    frames = error.frames if isinstance(error, Failure) else None
    evidence = diagnosis.Evidence(
        events=launcher.events,
        output="\n".join(outputs),
        wanted=frames[0] if frames else None,
        got=frames[1] if frames else None,
        path=error.path if isinstance(error, Failure) else None,
        endpoint=grading.endpoint,
        about_errors=isinstance(error, ServerErrors),
        accepted=isinstance(error, Failure) and error.actual == ACCEPTED,
        source=grading.source,
        values=tuple(launcher.transcript.values),
    )
    context = _ServerContext(
        steps=tuple(launcher.transcript[-60:]),
        server_output="\n".join(p for p in parts if p),
    )
    return context, diagnosis.explain(evidence, Path(grading.display).name)


def _help(advice: diagnosis.Advice | None, own: str | None) -> str | None:
    """The evidence's advice first; the check's own help only where it adds to it."""
    if advice is None:
        return own
    if advice.complete or not own:
        return advice.text
    return f"{advice.text} {own}"
