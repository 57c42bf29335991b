"""The pytest plugin that grades: it runs in the checks process, never in the grader's.

It collects `@check` functions, has the zygote start a fresh copy of the student's app
for each one, runs the async check body, skips checks whose prerequisites failed, and
writes each result to the results channel at once, so that a run killed half-way still
reports what it did.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from grader import caps, channel, diagnosis
from grader.checks import CheckSpec, Failure
from grader.client import LiveServer, Transcript
from grader.results import CheckResult, Outcome
from grader.sandbox import Sandbox
from grader.server import AppServer, CouldNotStart
from grader.services import RedisServer, ServiceMissing
from grader.serving import PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, prctl
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
        job_caps = caps.CgroupCaps("cgroup", folders) if folders else caps.JobCaps()
        self.sandbox = Sandbox(scratch, job_caps, isolated=option("grader_isolated"))
        self.student_file = str(self.sandbox.submission(self.file_name))
        """The file's path as tracebacks from the server show it."""
        key = sys.stdin.buffer.read(channel.KEY_BYTES)
        self.results = channel.Writer(Path(option("grader_results")), key)
        self.outcomes: dict[str, Outcome] = {}
        self.descriptions: dict[str, str] = {}
        self.could_not_start: CouldNotStart | None = None
        self.env: dict[str, str] = json.loads(option("grader_env"))
        self._count = 0
        self.zygote = Zygote.start(
            self.sandbox, self.file_name, option("grader_module"), option("grader_preload")
        )

    def new_server(
        self, overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> AppServer:
        self._count += 1
        return AppServer(
            self.zygote,
            self.scratch / f"server-{self._count}.log",
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

    def __init__(self, grading: Grading, settings: dict[str, Any]) -> None:
        self.grading = grading
        self.settings = settings
        self.transcript = Transcript()
        self.servers: list[LiveServer] = []
        self.outputs: list[tuple[LiveServer, str, str | None]] = []
        """(server, output, how it ended) as the check ended, before clients were dropped."""
        self.events = grading.sandbox.caps.events()
        """What the job's caps had stopped before this check."""

    def __call__(self, env: dict[str, str] | None = None, label: str | None = None) -> LiveServer:
        """A running copy of the app; `env` adds environment variables (say REDIS_URL)."""
        app = self.grading.new_server(self.settings, env)
        live = LiveServer(app, self.transcript, label)
        self.servers.append(live)
        app.start()
        return live

    def finish(self) -> None:
        """Note what every server said, then drop the clients (which may make more noise)."""
        self.outputs = [(live, live.output(), live.app.exit_reason()) for live in self.servers]
        for live in self.servers:
            live.abort_clients()

    def stop(self) -> None:
        for live in self.servers:
            live.app.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader")
    group.addoption("--grader-scratch", help="the job's folder (submission/ holds the file)")
    group.addoption("--grader-file", help="the student's file name")
    group.addoption("--grader-module", help="the module name to import it as")
    group.addoption("--grader-results", help="where to append the results channel")
    group.addoption("--grader-preload", default="", help="modules the zygote imports once")
    group.addoption("--grader-missing", default="", help="why there is no file to grade")
    group.addoption("--grader-isolated", action="store_true", help="run servers in bwrap")
    group.addoption("--grader-cgroups", default="", help="the job's cgroup folders")
    group.addoption("--grader-env", default="{}", help="what every server gets (JSON)")


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("grader_scratch"):
        return
    # Nothing of this process (the results key above all) may be read by another
    # process of the same user, nor may anything below us escape when it is orphaned.
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    config.stash[_KEY] = Grading(config)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Any:
    if isinstance(getattr(obj, "__grader_check__", None), CheckSpec):
        return [pytest.Function.from_parent(collector, name=name)]
    return None


def _spec(item: pytest.Item) -> CheckSpec:
    spec: CheckSpec = item.obj.__grader_check__  # type: ignore[attr-defined]
    # Everything in checks/hidden/ is hidden, whatever its decorator says.
    if item.path.parent.name == "hidden" and not spec.hidden:
        spec = dataclasses.replace(spec, hidden=True)
    return spec


def pytest_collection_finish(session: pytest.Session) -> None:
    grading = session.config.stash.get(_KEY, None)
    if grading is None:
        return
    specs = [_spec(item) for item in session.items]
    grading.descriptions = {s.name: s.description for s in specs}
    grading.results.write(
        channel.Collected(
            tuple(channel.CheckInfo(s.name, s.description, s.points, s.hidden) for s in specs)
        )
    )
    missing = session.config.getoption("grader_missing")
    if missing:
        grading.could_not_start = CouldNotStart(missing)
    else:  # one trial start: a module that cannot even be imported gets one clear verdict
        trial = grading.new_server()
        try:
            trial.start()
        except CouldNotStart as exc:
            grading.could_not_start = CouldNotStart(f"the app could not start: {exc}", exc.detail)
        finally:
            trial.stop()
    if grading.could_not_start:
        exc = grading.could_not_start
        grading.results.write(channel.RunError(exc.message, exc.detail))


def pytest_runtest_setup(item: pytest.Item) -> None:
    grading = item.config.stash.get(_KEY, None)
    if grading is None:
        return
    if grading.could_not_start is not None:
        pytest.skip(grading.could_not_start.message)
    for parent in _spec(item).depends:
        if grading.outcomes.get(parent) is not Outcome.PASSED:
            pytest.skip(f"skipped until “{grading.descriptions.get(parent, parent)}” passes")


def pytest_unconfigure(config: pytest.Config) -> None:
    grading = config.stash.get(_KEY, None)
    if grading is not None:
        grading.zygote.close()
        _kill_descendants()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Any:
    result = yield
    # Every server and service of the check is stopped by now; whatever they started
    # goes too, so the next check starts clean.
    grading = item.config.stash.get(_KEY, None)
    if grading is not None:
        grading.reset()
    return result


def _kill_descendants() -> None:
    """What a submission left below us (its zygote gone, its orphans came to us)."""
    try:
        procs = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=2)


@pytest.fixture
def launch(request: pytest.FixtureRequest) -> Iterator[Launcher]:
    """Start copies of the student's app: `launch()`, or `launch(env={...}, label="A")`."""
    launcher = Launcher(request.config.stash[_KEY], _spec(request.node).settings)
    try:
        yield launcher
    finally:
        launcher.stop()


@pytest.fixture
def server(launch: Launcher) -> LiveServer:
    """A fresh copy of the student's app, running on its own port, for one check."""
    return launch()


@pytest.fixture
def redis_server(request: pytest.FixtureRequest) -> Iterator[RedisServer]:
    """A private redis-server on a free loopback port (stop() and start() it at will)."""
    redis = RedisServer(request.config.stash[_KEY].sandbox)
    try:
        redis.start()
    except ServiceMissing as exc:
        raise CouldNotStart(str(exc)) from None
    try:
        yield redis
    finally:
        redis.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    launcher = pyfuncitem.funcargs.get("launch")
    asyncio.run(_drive(fn, kwargs, _spec(pyfuncitem).timeout, launcher))
    return True


async def _drive(fn: Any, kwargs: dict[str, Any], timeout: float, launcher: Any) -> None:
    try:
        async with asyncio.timeout(timeout) as deadline:
            await fn(**kwargs)
    except TimeoutError:
        if deadline.expired():
            raise CheckTimedOut(f"the check did not finish within {timeout:g} s") from None
        raise
    finally:
        # Inside the loop: after asyncio.run returns, the transports cannot be touched.
        if isinstance(launcher, Launcher):
            launcher.finish()


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
    base = {
        "name": spec.name,
        "description": spec.description,
        "points": spec.points,
        "hidden": spec.hidden,
        "duration": round(report.duration, 3),
    }
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return CheckResult(
            outcome=Outcome.SKIPPED, rationale=reason.removeprefix("Skipped: "), **base
        )
    launcher: Launcher | None = item.funcargs.get("launch")  # type: ignore[assignment]
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
    context = _server_context(launcher, grading)
    hint = context.pop("hint")
    if isinstance(error, Failure):
        return CheckResult(
            outcome=Outcome.FAILED,
            rationale=error.rationale,
            expected=error.expected,
            actual=error.actual,
            help=error.help or hint,
            **context,
            **base,
        )
    if isinstance(error, CheckTimedOut):
        return CheckResult(outcome=Outcome.TIMED_OUT, rationale=str(error), **context, **base)
    detail = "".join(traceback.format_exception(error)) if error else str(report.longrepr)
    return CheckResult(
        outcome=Outcome.ERRORED,
        rationale="the grader hit an unexpected error (a bug in the kit; "
        "please tell your instructor)",
        detail=detail,
        **context,
        **base,
    )


def _server_context(launcher: Launcher | None, grading: Grading) -> dict[str, Any]:
    if launcher is None or not launcher.servers:
        return {"hint": None}
    outputs, parts = [], []
    for live, output, died in launcher.outputs:
        outputs.append(output)
        trimmed = diagnosis.trim(output, grading.student_file)
        if died:
            trimmed = (trimmed + "\n" if trimmed else "") + f"(the server {died})"
        if trimmed and len(launcher.servers) > 1:
            trimmed = f"[server {live.label}]\n{trimmed}"
        parts.append(trimmed)
    parts += [f"({words})" for words in grading.sandbox.caps.events().since(launcher.events)]
    return {
        "steps": tuple(launcher.transcript[-60:]),
        "server_output": "\n".join(p for p in parts if p),
        "hint": diagnosis.hint_for("\n".join(outputs)),
    }
