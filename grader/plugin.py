"""The pytest plugin that grades: it runs in the checks process, never in the grader's.

It collects `@check` functions, has the zygote start a fresh copy of the student's app
for each one (grading.py, launcher.py), runs the async check body, skips checks whose
prerequisites failed, and writes each result (judging.py) to the results channel at
once, so that a run killed half-way still reports what it did; the run-wide checks
(runwide.py) are judged last. Its hooks and fixtures are all it holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import inspect
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from grader import channel, diagnosis, judging, runwide, timing
from grader import job as job_file
from grader.checks import CheckSpec, Failure
from grader.client import LiveServer
from grader.grading import Grading
from grader.launcher import Launcher
from grader.processes import PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, kill_tree, prctl
from grader.results import Check, Outcome
from grader.sandbox import Sandbox
from grader.server import CouldNotStart
from grader.source import Submission

__all__ = ["Launcher"]

_KEY = pytest.StashKey[Grading]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader")
    group.addoption(job_file.OPTION, help="the job file the runner wrote (see grader/job.py)")


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("grader_job")
    if not path:
        return
    # Nothing of this process (the results key above all) may be read by another
    # process of the same user, nor may anything below us escape when it is orphaned.
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    job = job_file.Job.load(Path(path))
    # The kit's extensions, before any check file is collected (the kit is on PYTHONPATH):
    # what they register is the engine's, and their fixtures are every check's.
    for name in job.extensions:
        config.pluginmanager.register(importlib.import_module(name), name)
    config.stash[_KEY] = Grading(job, sys.stdin.buffer.read(channel.KEY_BYTES))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> Any:
    if isinstance(getattr(obj, "__grader_check__", None), CheckSpec):
        return [pytest.Function.from_parent(collector, name=name)]
    return None


def _spec(item: pytest.Item) -> CheckSpec:
    """The check of `item` as this run grades it (see Grading.final)."""
    # Every check is a pytest.Function, whose `obj` (the function) pytest.Item does not declare.
    spec: CheckSpec = item.obj.__grader_check__  # type: ignore[attr-defined]
    grading = item.config.stash.get(_KEY, None)
    if grading is None:
        return spec
    return dataclasses.replace(spec, check=grading.final(spec.check, item.path))


def _run_wide(grading: Grading) -> list[tuple[runwide.RunWide, Check]]:
    entries = runwide.registered(grading.job.extensions)
    return [(entry, grading.final(entry.check)) for entry in entries]


def pytest_collection_finish(session: pytest.Session) -> None:
    grading = session.config.stash.get(_KEY, None)
    if grading is None:
        return
    checks = [_spec(item).check for item in session.items]
    checks += [check for _, check in _run_wide(grading)]
    grading.descriptions = {c.name: c.description for c in checks}
    grading.results.write(channel.Collected(tuple(checks)))
    missing = grading.job.missing
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


def pytest_sessionfinish(session: pytest.Session) -> None:
    grading = session.config.stash.get(_KEY, None)
    if grading is None:
        return
    for entry, check in _run_wide(grading):
        grading.results.write(channel.Result(runwide.judge(entry, check, grading)))


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
            raise judging.CheckTimedOut(f"the check did not finish within {timeout:g} s") from None
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
        found = item.funcargs.get("launch")
        launcher = found if isinstance(found, Launcher) else None
        error = call.excinfo.value if call.excinfo else None
        result = judging.result(_spec(item), report, error, launcher, grading)
        grading.outcomes[result.name] = result.outcome
        grading.results.write(channel.Result(result))
    return report
