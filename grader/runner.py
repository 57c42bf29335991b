"""Grade one submission of one exercise: one job, run in a checks process of its own.

The grader's own process never imports student code. Per job it makes a scratch folder
(private to the grader) with a copy of the submission, a cgroup where the machine
allows, and a key for the results channel; it starts the checks process (in the job's
own network namespace when `isolated`), waits for it within the exercise's time bound,
then ends everything the job started and reads the results that verify.
"""

from __future__ import annotations

import compileall
import contextlib
import dataclasses
import functools
import hashlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from grader import caps, channel, diagnosis, loopwatch, quoting, sandbox, submission, timing
from grader import job as job_file
from grader.manifest import Exercise, Kit
from grader.processes import PR_SET_DUMPABLE, kill_tree, kill_user, prctl
from grader.results import CheckResult, ExerciseResult, Outcome, Submitted


class Cancelled(Exception):
    """The job was ended early on request: it has no result."""


# What the checks process may see of the grader's environment: nothing secret.
CHECKS_ENV = ("PATH", "LANG", "LC_ALL", "GRADER_TIME_SCALE", "SYSTEMROOT")

# pytest's plugins that grading never uses, not loaded: each verdict waits for the
# checks process to start. (No installed package's plugin is loaded either: see
# PYTEST_DISABLE_PLUGIN_AUTOLOAD below.)
_UNUSED_PLUGINS = [
    f"-pno:{name}"
    for name in (
        "doctest",
        "junitxml",
        "pastebin",
        "legacypath",
        "stepwise",
        "setuponly",
        "setupplan",
        "unittest",
        "unraisableexception",
        "threadexception",
    )
]


@dataclass
class Run:
    """One submission of one exercise, while it is graded (the grader's side of a job)."""

    exercise: Exercise
    scratch: Path
    """A folder only the grader may enter: the copy of the file, the results, the logs."""
    shown_as: str
    """The student's file as they name it, for messages."""
    missing: str | None
    """Why there is nothing to run, if so."""
    isolated: bool
    caps: caps.JobCaps
    key: bytes = field(default_factory=channel.new_key)
    uid: int | None = field(default_factory=sandbox.job_uid)
    """The kernel uid its sandboxes run as, when we are root: the job's alone."""


def grade(
    kit: Kit,
    exercise: Exercise,
    file: Path,
    refuse: str | None = None,
    *,
    isolated: bool,
    cancel: threading.Event | None = None,
) -> ExerciseResult:
    """Run every check of `exercise` against the student's `file`; never raises for bad code.

    With `refuse`, the file is not run at all: every check is skipped for that reason
    (a malformed submission still gets a result listing every check and its points).
    `isolated` runs the submission in the sandbox; `cancel` ends the job early, and
    then it raises Cancelled.
    """
    started = time.monotonic()
    if not kit.check_files(exercise):  # pytest would collect whatever it found instead
        missing_checks = kit.root / "checks" / exercise.checks
        return _result(
            exercise, started, error=f"the kit has no checks: {missing_checks} is missing"
        )
    # This process holds the results channel's key: a submission run as the same user
    # (--no-sandbox) must not read it from our memory.
    prctl(PR_SET_DUMPABLE, 0)
    # Read once, never followed if a link, bounded (see submission.read); not read at
    # all when refused already.
    contents = submission.Contents(problem=refuse) if refuse else submission.read(file)
    missing = contents.problem or (_missing(exercise, file) if contents.missing else None)
    # Nothing to run: the verdict is the same for every such entry but for its reason,
    # so the checks process runs once per exercise (it lists each check with its points).
    told = _NOTHING_TO_RUN.get((kit.root, exercise.id, isolated)) if missing else None
    if told is not None and missing is not None:
        return _retold(told, missing, _submitted(kit, exercise, contents))
    # An untouched starter's verdict is the starter's, whoever hands it in.
    # (By its bytes: in a student's own folder, their file is the starter.)
    unchanged = _submitted(kit, exercise, contents) is Submitted.UNCHANGED
    starter = (kit.root, exercise.id, isolated, hashlib.sha256(contents.data).hexdigest())
    if unchanged and starter in _STARTER:
        return dataclasses.replace(_STARTER[starter], duration=0.0)
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        scratch = Path(tmp)
        sandbox.prepare(scratch, isolated, _grader_home(kit))
        if missing is None:
            # A copy: nothing the server does can change the student's file.
            copy = scratch / "submission" / exercise.file
            copy.write_bytes(contents.data)
            copy.chmod(0o644)  # for the sandbox's user, whatever the umask
        submitted = _submitted(kit, exercise, contents)
        run = Run(exercise, scratch, shown(file), missing, isolated, caps.for_job())
        try:
            timed_out, output = _run_checks(kit, run, cancel)
            stopped = _why_checks_stopped(run)
        finally:
            run.caps.close()
            if isolated and run.uid is not None:
                # Whatever ran as the job's uid, wherever it was reparented: a sandbox
                # that lost its parent (the uid change clears the signal that would
                # end it) ends here.
                kill_user(run.uid)
            sandbox.remove_view(scratch)
        records = channel.read(scratch / "results", run.key)
        # Why it took so long, if the watchdogs of visible checks' servers know; the line
        # is quoted from our copy of the file, never from what the server wrote.
        worst = diagnosis.worst_block(loopwatch.visible_witnessed(scratch)) if timed_out else None
        if worst is not None:
            source = quoting.source_lines(scratch / "submission" / exercise.file)
            worst = quoting.ground(worst, source)
        slow = diagnosis.blocked_words(worst, Path(run.shown_as).name) if worst else None
    result = dataclasses.replace(
        _assemble(exercise, records, timed_out, output, started, slow, stopped),
        submitted=submitted,
    )
    if missing is not None and result.error == missing:
        _NOTHING_TO_RUN[(kit.root, exercise.id, isolated)] = result
    if unchanged and not timed_out:
        _STARTER[starter] = result
    return result


# The verdicts of a job with nothing to run, and of an untouched starter, by kit and
# exercise: a class's many such entries cost one checks process each (see grade).
_NOTHING_TO_RUN: dict[tuple[Path, str, bool], ExerciseResult] = {}
_STARTER: dict[tuple[Path, str, bool, str], ExerciseResult] = {}


def _retold(told: ExerciseResult, reason: str, submitted: Submitted) -> ExerciseResult:
    """`told`, the verdict of another entry with nothing to run, for this one's reason."""
    old = told.error or ""
    checks = tuple(
        dataclasses.replace(c, rationale=c.rationale.replace(old, reason)) for c in told.checks
    )
    return dataclasses.replace(told, error=reason, checks=checks, duration=0.0, submitted=submitted)


def _missing(exercise: Exercise, file: Path) -> str:
    folder = file.parent
    held = f" (it holds: {submission.holds(folder)})" if folder.is_dir() else ""
    return f"there is no {exercise.file} in {shown(folder)}{held}"


def _submitted(kit: Kit, exercise: Exercise, contents: submission.Contents) -> Submitted:
    if contents.problem:
        return Submitted.REFUSED
    if contents.missing:
        return Submitted.MISSING
    starter = kit.starter(exercise)
    if starter.is_file() and contents.data == starter.read_bytes():
        return Submitted.UNCHANGED
    return Submitted.FILE


def _run_checks(kit: Kit, run: Run, cancel: threading.Event | None) -> tuple[bool, str]:
    _byte_compile(_grader_home(kit) or Path(__file__).resolve().parent.parent)
    exercise, scratch = run.exercise, run.scratch
    ini = scratch / "pytest.ini"
    ini.write_text("[pytest]\n")
    command = [
        sys.executable,
        "-P",  # the scratch folder it starts in is no place to import from
        "-m",
        "pytest",
        *map(str, kit.check_files(exercise)),
        "-c",
        str(ini),
        "--rootdir",
        str(scratch),
        "-p",
        "grader.plugin",
        # checks/x.py and checks/hidden/x.py share a name: import by path, not by module.
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:logging",
        *_UNUSED_PLUGINS,
        "-s",
        "-q",
        "--no-header",
        "-W",
        "ignore::DeprecationWarning",
        f"{job_file.OPTION}={_job_file(kit, run).save()}",
    ]
    if run.isolated:
        command = sandbox.network(command, scratch, _grader_home(kit))
    # In the job's memory cap: what the submission makes the checks process hold counts
    # toward the job's cap, not the machine's.
    command = run.caps.enter_checks(command)
    env = {name: os.environ[name] for name in CHECKS_ENV if name in os.environ}
    env["PYTHONPATH"] = str(kit.root)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # The plugins of whatever else is installed (anyio's, xdist's…) have no say in grading.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    log = scratch / "checks.log"
    timed_out = False
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=scratch,
            env=env,
            start_new_session=True,
        )
        try:
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(run.key)
                proc.stdin.close()
            timed_out = not _wait(proc, timing.scaled(exercise.timeout), cancel)
        finally:
            # It and all it started, stopped together before any is killed: without a
            # sandbox, servers are in sessions of their own, and a checks process that
            # saw its servers die first could still report them as "could not start".
            kill_tree(proc.pid, including=True)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if timed_out and cancel is not None and cancel.is_set():
        raise Cancelled
    return timed_out, _tail(log, 20000)


def _job_file(kit: Kit, run: Run) -> job_file.Job:
    """What the checks process is told about `run`."""
    exercise = run.exercise
    return job_file.Job(
        scratch=run.scratch,
        file=exercise.file,
        display=run.shown_as,
        module=exercise.module,
        results=run.scratch / "results",
        preload=exercise.preload,
        env=dict(exercise.env),
        endpoint=exercise.endpoint,
        points=exercise.points_by_check(),
        cgroups=tuple(run.caps.folders) if isinstance(run.caps, caps.CgroupCaps) else (),
        isolated=run.isolated,
        uid=run.uid if run.isolated else None,
        missing=run.missing,
        extensions=kit.extensions,
    )


@functools.cache
def _byte_compile(home: Path) -> None:
    """Write the bytecode of the grader package in `home` where it is missing or stale:
    the checks process does not (PYTHONDONTWRITEBYTECODE) and the sandbox cannot (it
    sees the package read-only), so a module only they import would be compiled again
    for every verdict. Not where the user asked for no bytecode; quietly not where the
    folder is read-only."""
    if not sys.dont_write_bytecode:
        compileall.compile_dir(home / "grader", maxlevels=0, quiet=2)


def _tail(file: Path, size: int) -> str:
    """The last `size` bytes of `file`, never read whole (its size is not ours to bound)."""
    with file.open("rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - size))
        return f.read(size).decode(errors="replace")


def _grader_home(kit: Kit) -> Path | None:
    """The folder the checks process imports the grader package from: the kit's, first
    on its PYTHONPATH, if the kit has one; else this process's (None)."""
    return kit.root if (kit.root / "grader" / "__init__.py").is_file() else None


def shown(file: Path) -> str:
    """A student's file as they would name it: relative to here when it is below here."""
    # Its folder resolved, never the file itself: a link is named as the link (not as
    # what it points at), and a link to itself does not raise.
    where = Path(os.path.realpath(file.parent)) / file.name
    try:
        return str(where.relative_to(os.path.realpath(Path.cwd())))
    except ValueError:
        return str(file)


def _wait(proc: subprocess.Popen[bytes], timeout: float, cancel: threading.Event | None) -> bool:
    """Whether `proc` ended by itself within `timeout` s (and before `cancel` was set)."""
    deadline = time.monotonic() + timeout
    with _exit_notice(proc.pid) as ended:
        while (left := deadline - time.monotonic()) > 0:
            if cancel is not None and cancel.is_set():
                return False
            if ended is not None:  # woken the moment it ends, not at the next poll
                select.select([ended], [], [], min(0.1, left))
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0 if ended is not None else min(0.1, left))
                return True
    return False


@contextlib.contextmanager
def _exit_notice(pid: int) -> Iterator[int | None]:
    """A descriptor that becomes readable when `pid` ends (Linux's pidfd), or None where
    the kernel has none (then the caller polls)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


KIT_BUG = "a bug in the kit: please tell your instructor"


def _why_checks_stopped(run: Run) -> str:
    """What to blame if the checks end without their results: the kit, unless the job's
    memory cap ended them (they share it with the submission) or, without the sandbox,
    the submission could have reached them."""
    if run.caps.events().out_of_memory:
        return (
            f"the job went over its memory cap of {caps.size(caps.MEMORY_PER_JOB)}, which the "
            "submission shares with the checks, and the kernel ended the checks"
        )
    if not run.isolated:
        return (
            "without the sandbox the submission runs as you and can reach the checks and "
            f"their results; if it did not, {KIT_BUG}"
        )
    return KIT_BUG


def _assemble(
    exercise: Exercise,
    records: channel.Records,
    timed_out: bool,
    output: str,
    started: float,
    slow: str | None = None,
    stopped: str = KIT_BUG,
) -> ExerciseResult:
    if records.collected is None:
        return _result(
            exercise, started, error=f"the checks could not be loaded ({stopped})", detail=output
        )
    checks = []
    for check in records.collected.checks:
        result = records.results.get(check.name)
        if result is None:
            why = (
                "grading stopped: the exercise took longer than "
                f"{timing.scaled(exercise.timeout):g} s" + (f"; meanwhile {slow}" if slow else "")
                if timed_out
                else "the checks process ended before this check ran"
            )
            result = CheckResult.of(
                check,
                Outcome.TIMED_OUT if timed_out else Outcome.ERRORED,
                rationale=why,
                detail="" if timed_out else output,
            )
        checks.append(result)
    error = records.error
    if error is None and len(records.results) < len(checks) and not timed_out:
        error = channel.RunError(
            f"the checks stopped unexpectedly ({stopped})",
            "\n".join(output.splitlines()[-40:]),
        )
    return _result(
        exercise,
        started,
        checks=tuple(checks),
        error=error.message if error else None,
        detail=error.detail if error else "",
    )


def _result(
    exercise: Exercise,
    started: float,
    *,
    checks: tuple[CheckResult, ...] = (),
    error: str | None = None,
    detail: str = "",
) -> ExerciseResult:
    return ExerciseResult(
        exercise=exercise.id,
        title=exercise.title,
        checks=tuple(checks),
        error=error,
        error_detail=detail,
        duration=round(time.monotonic() - started, 3),
        hints=exercise.hints,
    )
