"""The pytest plugin that grades: it runs in the checks process, never in the grader's.

It collects `@check` functions, starts a fresh copy of the student's app for each
one, runs the async check body, skips checks whose prerequisites failed, and writes
one JSON line per result so that a run killed half-way still reports what it did.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import json
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import diagnosis, processes
from grader.checks import CheckSpec, Failure
from grader.client import LiveServer, Transcript
from grader.results import CheckResult, Outcome
from grader.server import AppServer, AppSpec, CouldNotStart
from grader.services import RedisServer, ServiceMissing

_KEY = pytest.StashKey["Grading"]()


class CheckTimedOut(Exception):
    pass


class Grading:
    """State of one grading run inside the checks process."""

    def __init__(self, config: pytest.Config) -> None:
        option = config.getoption
        self.workdir = Path(option("grader_workdir"))
        self.spec = AppSpec(
            file=Path(option("grader_submission")),
            module=option("grader_module"),
            workdir=self.workdir,
        )
        self.results = Path(option("grader_results")).open("a", encoding="utf-8")  # noqa: SIM115
        self.outcomes: dict[str, Outcome] = {}
        self.descriptions: dict[str, str] = {}
        self.could_not_start: CouldNotStart | None = None
        self._count = 0

    def write(self, record: dict[str, Any]) -> None:
        self.results.write(json.dumps(record) + "\n")
        self.results.flush()

    def new_server(
        self, overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> AppServer:
        self._count += 1
        spec = dataclasses.replace(self.spec, overrides=overrides or {}, env=env or {})
        return AppServer(spec, self.workdir / f"server-{self._count}.log")


class Launcher:
    """Starts copies of the student's app for one check; they share one transcript."""

    def __init__(self, grading: Grading, settings: dict[str, Any]) -> None:
        self.grading = grading
        self.settings = settings
        self.transcript = Transcript()
        self.servers: list[LiveServer] = []
        self.outputs: list[tuple[LiveServer, str, str | None]] = []
        """(server, output, how it ended) as the check ended, before clients were dropped."""

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
    group.addoption("--grader-submission", help="the student's file to serve")
    group.addoption("--grader-module", help="the module name to import it as")
    group.addoption("--grader-workdir", help="a scratch directory for the servers")
    group.addoption("--grader-results", help="where to append JSON lines of results")
    group.addoption("--grader-preload", default="", help="modules to import before forking")
    group.addoption("--grader-missing", default="", help="why there is no file to grade")


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("grader_submission"):
        return
    processes.become_subreaper()
    # Imported once here so that every forked server shares them instead of importing.
    preload = ["uvicorn", *filter(None, config.getoption("grader_preload").split(","))]
    if processes.will_drop_privileges():
        preload += processes.STDLIB_PRELOAD
    for name in preload:
        importlib.import_module(name)
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
    grading.write({"kind": "collected", "checks": [s.__dict__ for s in specs]})
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
        grading.write({"kind": "error", "message": exc.message, "detail": exc.detail})


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
    if _KEY in config.stash:
        processes.kill_descendants()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Any:
    result = yield
    # Every server and service of the check is stopped by now. Anything still below
    # us is an orphan a submission left (adopted as subreaper), even one that cleared
    # its environment and so escaped the token sweep.
    if _KEY in item.config.stash:
        processes.kill_descendants()
    return result


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
    redis = RedisServer(request.config.stash[_KEY].workdir)
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
        grading.write({"kind": "result", **result.to_dict()})
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
        trimmed = diagnosis.trim(output, str(grading.spec.file))
        if died:
            trimmed = (trimmed + "\n" if trimmed else "") + f"(the server {died})"
        if trimmed and len(launcher.servers) > 1:
            trimmed = f"[server {live.label}]\n{trimmed}"
        parts.append(trimmed)
    return {
        "steps": tuple(launcher.transcript[-60:]),
        "server_output": "\n".join(p for p in parts if p),
        "hint": diagnosis.hint_for("\n".join(outputs)),
    }
