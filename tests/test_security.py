"""The sandbox's guarantees, each proved by attacking it (tests/corpus/attacks/).

Where it is safe, the same attack is also graded without the sandbox (the control):
there it must succeed, which shows the attack is real and the test can fail.
"""

from __future__ import annotations

import csv
import os
import resource
import shutil
import site
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from checks._chat.redis import RedisServer
from grader import batch, caps, exports, gradebook, report, runner, sandbox, submission
from grader.manifest import Kit
from grader.processes import kill_user
from grader.results import ExerciseResult, Outcome, Submitted
from tests.conftest import ROOT, leftovers, run_grader, settles_without_leftovers

ATTACKS = ROOT / "tests" / "corpus" / "attacks"
BROKEN = ROOT / "tests" / "corpus" / "broken"

pytestmark = pytest.mark.skipif(not sandbox.probe().works, reason=sandbox.probe().reason)


def grade(kit: Kit, file: Path, *, isolated: bool, exercise: str = "broadcast") -> ExerciseResult:
    result = runner.grade(kit, kit.get(exercise), file, isolated=isolated)
    assert settles_without_leftovers(), f"grading left processes running: {leftovers()}"
    return result


def passed(result: ExerciseResult) -> list[str]:
    return [c.name for c in result.checks if c.outcome is Outcome.PASSED]


@pytest.fixture
def course(tmp_path: Path) -> Kit:
    """A copy of the kit, grader included, for attacks that write to it."""
    for part in ("lessons", "starter", "solutions", "checks", "grader"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    return Kit.load(tmp_path)


def kit_files(kit: Kit) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in kit.root.rglob("*.py")}


@pytest.mark.parametrize(
    "attack",
    [
        "reads_solution",
        "reads_hidden_checks",
        "reads_process_memory",
        "reads_secrets",
        "writes_dev",
    ],
)
def test_what_an_attack_reads_in_the_sandbox_earns_it_nothing(kit: Kit, attack: str) -> None:
    """Each attack serves the reference behaviour only if it found what it looked for."""
    file = ATTACKS / f"{attack}.py"
    sandboxed = grade(kit, file, isolated=True)
    assert sandboxed.score == 0 and not passed(sandboxed), passed(sandboxed)
    if os.geteuid() == 0:  # the control reads what only root may
        control = grade(kit, file, isolated=False)
        assert control.passed, "the attack does not work even without the sandbox"


def test_the_instructors_environment_is_out_of_reach(tmp_path: Path) -> None:
    secret = "the instructor's API token 7f3a"
    env = {"PATH": os.environ["PATH"], "COLUMNS": "250", "KIT_TEST_SECRET": secret}
    command = [sys.executable, "-m", "grader", "--root", str(ROOT), "check", "-e", "broadcast"]
    command += ["--submission", str(ATTACKS / "reads_environment.py")]
    out = tmp_path / "results.json"
    sandboxed = subprocess.run(
        [*command, "--json", str(out)], capture_output=True, text=True, env=env
    )
    assert sandboxed.returncode == 1 and "0/11 checks passed" in sandboxed.stdout
    assert "7f3a" not in sandboxed.stdout + out.read_text()
    if os.geteuid() == 0:  # the control reads the grader's /proc/<pid>/environ
        control = subprocess.run(
            [*command, "--no-sandbox"], capture_output=True, text=True, env=env
        )
        assert "11/11 checks passed" in control.stdout, control.stdout


def test_memory_backed_folders_cannot_take_the_machines_memory(kit: Kit) -> None:
    file = ATTACKS / "fills_memory_disks.py"
    assert grade(kit, file, isolated=True).score == 0
    assert grade(kit, file, isolated=False).passed, "the control should have written 100 MiB"


def test_a_submission_that_silences_its_errors_is_still_seen_to_raise(kit: Kit) -> None:
    hidden = grade(kit, ATTACKS / "hides_its_errors.py", isolated=True)
    control = grade(kit, ROOT / "tests/corpus/broadcast/wrong/disconnect_twice.py", isolated=True)
    assert hidden.score == control.score < control.max_score
    assert "no_server_errors" not in passed(hidden)


def test_a_huge_frame_is_refused_at_its_header(kit: Kit) -> None:
    result = grade(kit, ATTACKS / "sends_huge_frame.py", isolated=True)
    first = result.checks[0]
    assert first.outcome is Outcome.FAILED
    assert "a frame larger than 4 MiB" in first.rationale, first.rationale


@pytest.mark.parametrize("attack", ["silences_watchdog", "serves_from_a_child"])
def test_a_silenced_witness_does_not_hide_a_blocked_event_loop(kit: Kit, attack: str) -> None:
    result = grade(kit, ATTACKS / f"{attack}.py", isolated=True)
    verdict = next(c for c in result.checks if c.name == "never_blocks_event_loop")
    assert verdict.outcome is Outcome.FAILED, verdict
    assert "clock_nanosleep" in (verdict.rationale or ""), verdict.rationale
    assert len(passed(result)) == len(result.checks) - 1, passed(result)


def test_hidden_checks_inputs_never_reach_a_visible_checks_words(kit: Kit) -> None:
    result = grade(kit, ATTACKS / "leaks_hidden_inputs.py", isolated=True)
    hidden = [c for c in result.checks if c.hidden]
    assert hidden and all(c.outcome is Outcome.PASSED for c in hidden), hidden
    shown = [c for c in result.checks if not c.hidden]
    words = "\n".join(
        str(getattr(c, field) or "")
        for c in shown
        for field in ("rationale", "help", "detail", "expected", "actual", "server_output")
    )
    verdict = next(c for c in shown if c.name == "never_blocks_event_loop")
    assert verdict.outcome is Outcome.FAILED, verdict  # the forged events count against it
    for secret in ("Zo%C3%AB", "Zoë", "Bob%20Smith", "Bob Smith", "x-42"):
        assert secret not in words, (secret, words)


@pytest.mark.parametrize("isolated", [True, False], ids=["sandbox", "no sandbox"])
def test_forged_replayed_or_orphaned_results_never_count(kit: Kit, isolated: bool) -> None:
    result = grade(kit, ATTACKS / "forge_results.py", isolated=isolated)
    assert result.score == 0 and not passed(result)


@pytest.mark.parametrize("isolated", [True, False], ids=["sandbox", "no sandbox"])
def test_planted_links_never_redirect_what_the_grader_writes(course: Kit, isolated: bool) -> None:
    before = kit_files(course)
    result = grade(course, ATTACKS / "plants_links.py", isolated=isolated)
    assert result.score == 0
    assert kit_files(course) == before


def test_a_submission_cannot_write_to_the_kit(course: Kit) -> None:
    before = kit_files(course)
    result = grade(course, ATTACKS / "writes_kit.py", isolated=True)
    assert result.passed, "the attack must cost the honest behaviour nothing"
    assert kit_files(course) == before
    grade(course, ATTACKS / "writes_kit.py", isolated=False)
    assert kit_files(course) != before, "the control should have written to the kit"


def test_daemons_that_escape_every_usual_way_do_not_outlive_the_grading(kit: Kit) -> None:
    result = grade(kit, ATTACKS / "daemon_escapes.py", isolated=True)
    assert result.passed


@pytest.mark.parametrize("isolated", [True, False], ids=["sandbox", "plain processes"])
def test_a_run_cut_at_its_time_bound_leaves_nothing_behind(
    course: Kit, isolated: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In the sandbox, and (the harder case) as plain processes without a cgroup."""
    manifest = course.root / "lessons" / "exercises.toml"
    manifest.write_text(manifest.read_text().replace("timeout = 45", "timeout = 3", 1))
    kit = Kit.load(course.root)
    if not isolated:
        monkeypatch.setattr(caps, "for_job", caps.JobCaps)
    result = grade(kit, ATTACKS / "outlives_time_bound.py", isolated=isolated)
    assert result.duration < 3 + 10
    assert {c.outcome for c in result.checks} == {Outcome.TIMED_OUT}


def litter() -> list[Path]:
    return [p for d in ("/tmp", "/var/tmp", "/dev/shm") for p in Path(d).glob("kit-litter-*")]


def test_nothing_is_left_in_shared_temporary_folders(kit: Kit) -> None:
    for path in litter():
        path.unlink()
    result = grade(kit, ATTACKS / "litters.py", isolated=True)
    assert result.passed
    assert litter() == []
    try:
        grade(kit, ATTACKS / "litters.py", isolated=False)
        assert litter(), "the control should have left files behind"
    finally:
        for path in litter():
            path.unlink()


@pytest.mark.parametrize(
    ("attack", "exercise"),
    [
        ("kills_neighbours", "broadcast"),
        ("injects_frames", "broadcast"),
        ("starves_ports", "broadcast"),
        ("publishes_to_redis", "scaleout"),
    ],
)
def test_a_submission_cannot_harm_another_in_the_same_batch(
    kit: Kit, attack: str, exercise: str
) -> None:
    if exercise == "scaleout" and not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    ex = kit.get(exercise)
    honest = kit.solution(ex)
    control = grade(kit, honest, isolated=True, exercise=exercise)
    jobs = [("attacker", ex, ATTACKS / f"{attack}.py", None), ("honest", ex, honest, None)]
    done = batch.grade_many(kit, jobs, isolated=True, workers=2)
    assert settles_without_leftovers(), leftovers()
    assert done.results["honest"].score == control.score == control.max_score


def test_terminal_escapes_from_a_submission_are_shown_escaped() -> None:
    done = run_grader(
        "check", "-e", "broadcast", "--submission", str(ATTACKS / "prints_escapes.py")
    )
    assert done.returncode == 1
    assert "\x1b" not in done.stdout + done.stderr
    assert "\\x1b]0;pwned" in done.stdout


def test_odd_entries_in_a_class_each_get_a_row_and_nothing_breaks(tmp_path: Path) -> None:
    classroom = tmp_path / "class"
    solution = (ROOT / "solutions" / "broadcast.py").read_text()
    names = ["gradebook.csv", "bob", ".carol", "[reverse]mallory[blink]", "eve\x1b]0;pwned\x07"]
    for name in names:
        (classroom / name).mkdir(parents=True)
        (classroom / name / "broadcast.py").write_text(solution)
    (classroom / "bob.py").write_text(solution)
    deep = classroom / "deep"
    for _ in range(700):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "notes.txt").write_text("nothing to grade")
    out = tmp_path / "grades"
    done = run_grader(
        "grade", "--submissions", str(classroom), "-e", "broadcast", "--out", str(out)
    )
    assert done.returncode == 0, done.stdout + done.stderr  # graded, "deep" as not gradable
    assert "\x1b" not in done.stdout + done.stderr
    assert "[reverse]mallory[blink]" in done.stdout  # shown as written, not as markup
    rows = (out / "gradebook.csv").read_text().splitlines()[1:]
    assert len(rows) == len(names) + 2  # bob.py and deep too
    shown = [*names[:-1], "eve\\x1b]0;pwned\\x07", "bob.py"]  # control characters escaped
    for name in shown:
        assert (out / "students" / name / "results.json").is_file(), name


@pytest.mark.skipif(not isinstance(caps.probe(), caps.CgroupCaps), reason="no cgroup here")
@pytest.mark.parametrize(
    ("file", "words"),
    [("fork_bomb.py", "cap of 256 processes"), ("memory_hog_processes.py", "memory cap of 1 GiB")],
)
def test_the_job_caps_end_a_runaway_submission_with_a_clear_verdict(
    kit: Kit, file: str, words: str
) -> None:
    result = grade(kit, BROKEN / file, isolated=True)
    failed = next(c for c in result.checks if c.outcome is not Outcome.PASSED)
    assert failed.outcome is Outcome.FAILED
    assert words in failed.server_output, failed.server_output


def test_ctrl_c_ends_a_batch_within_seconds_and_keeps_what_is_done(kit: Kit) -> None:
    ex = kit.get("broadcast")
    slow = ATTACKS / "outlives_time_bound.py"  # 30 s of import, then 45 s of bound
    jobs = [("done", ex, kit.solution(ex), None), ("slow", ex, slow, None)]
    finished = threading.Event()

    def on_done(key: object, result: ExerciseResult) -> None:
        if key == "done":
            finished.set()

    def interrupt() -> None:
        finished.wait(60)
        import _thread

        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    done = batch.grade_many(kit, jobs, isolated=True, workers=2, on_done=on_done)
    assert done.interrupted
    assert set(done.results) == {"done"} and done.results["done"].passed
    assert settles_without_leftovers(), leftovers()


def test_a_correct_solution_passes_in_a_kit_only_root_can_enter(tmp_path: Path) -> None:
    """As root, in a folder nobody else may enter (a container's /root/kit, mktemp -d)."""
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    clone = private / "kit"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    shutil.copy(ROOT / "solutions" / "broadcast.py", clone / "starter" / "broadcast.py")
    own = run_grader("check", "-e", "broadcast", root=clone)
    assert own.returncode == 0, own.stdout
    graded = run_grader(
        "check", "-e", "broadcast", "--submission", str(clone / "solutions"), root=clone
    )
    assert graded.returncode == 0, graded.stdout
    assert "isolation: bubblewrap" in graded.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="installs a kit under /usr")
def test_a_kit_installed_under_usr_stays_out_of_sight() -> None:
    """/usr is shown to the sandbox whole; a kit inside it must not be."""
    kit = Path(tempfile.mkdtemp(prefix="ws-kit-", dir="/usr/local/share"))
    try:
        for part in ("lessons", "starter", "solutions", "checks", "grader"):
            shutil.copytree(ROOT / part, kit / part, ignore=shutil.ignore_patterns("__pycache__"))
        kit.chmod(0o755)
        attack = str(ATTACKS / "reads_solution.py")
        graded = run_grader("check", "-e", "broadcast", "--submission", attack, root=kit)
        assert graded.returncode == 1 and "isolation: bubblewrap" in graded.stdout
        assert "0/11 checks passed" in graded.stdout, graded.stdout
        right = run_grader(
            "check", "-e", "broadcast", "--submission", str(kit / "solutions"), root=kit
        )
        assert right.returncode == 0, right.stdout
    finally:
        shutil.rmtree(kit)


def test_without_a_sandbox_grading_someone_else_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {"PATH": "/nonexistent", "COLUMNS": "250"}  # no bwrap to be found
    command = [sys.executable, "-m", "grader", "--root", str(ROOT), "check", "-e", "broadcast"]
    refused = subprocess.run(
        [*command, "--submission", "solutions"], capture_output=True, text=True, env=env
    )
    assert refused.returncode == 2
    assert "refusing to run a submission without isolation" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    allowed = subprocess.run(
        [*command, "--submission", "solutions", "--no-sandbox"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "isolation: none" in allowed.stdout


UID = 54321  # an ordinary user without an entry in /etc/passwd


@pytest.fixture
def instructor() -> Iterator[Path]:
    """A home folder for an ordinary user, holding a copy of the kit and a secret, and a
    Python that user may run (the system's, seeing this kit's installed packages)."""
    system = Path("/usr/bin/python3")
    if os.geteuid() != 0 or not shutil.which("setpriv") or not system.exists():
        pytest.skip("needs root, setpriv and /usr/bin/python3")
    version = subprocess.run(
        [str(system), "-c", "import sys; print(sys.version_info[:2])"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    if version != str(sys.version_info[:2]):
        pytest.skip(f"/usr/bin/python3 is {version}, the kit's is {sys.version_info[:2]}")
    packages = Path(site.getsitepackages()[0])
    home = Path(tempfile.mkdtemp(prefix="kit-instructor-", dir="/tmp"))
    try:
        subprocess.run([str(system), "-m", "venv", "--without-pip", str(home / "venv")], check=True)
        lib = home / "venv" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
        (lib / "site-packages" / "kit.pth").write_text(f"{packages}\n")
        for part in ("lessons", "starter", "solutions", "checks", "grader"):
            shutil.copytree(
                ROOT / part, home / "kit" / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        attacks = ("reads_secrets.py", "forge_results.py", "writes_home.py", "writes_kit.py")
        more = ("writes_kernel_settings.py", "reads_grader_process.py", "silences_watchdog.py")
        for name in (*attacks, *more):
            shutil.copy(ATTACKS / name, home / name)
        (home / "secret.txt").write_text("the instructor's secret")
        (home / ".bashrc").write_text("# the instructor's shell\n")
        subprocess.run(["chown", "-R", f"{UID}:{UID}", str(home)], check=True)
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def as_instructor(home: Path, attack: str, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [str(home / "venv" / "bin" / "python"), "-m", "grader", "--root", str(home / "kit")]
    command += ["check", "-e", "broadcast", "--submission", str(home / attack), *extra]
    return subprocess.run(
        ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", *command],
        capture_output=True,
        text=True,
        cwd=home / "kit",
        env={"HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        timeout=300,
    )


def test_an_ordinary_user_grading_is_protected_as_well(instructor: Path) -> None:
    home = instructor
    files = {p: p.read_bytes() for p in (home / "kit").rglob("*.py")}
    files[home / ".bashrc"] = (home / ".bashrc").read_bytes()
    attacks = ("reads_secrets.py", "forge_results.py", "writes_home.py", "writes_kit.py")
    sandboxed = {a: as_instructor(home, a) for a in (*attacks, "writes_kernel_settings.py")}
    for done in sandboxed.values():
        assert "isolation: bubblewrap" in done.stdout, done.stdout + done.stderr
    assert "0/11 checks passed" in sandboxed["writes_kernel_settings.py"].stdout
    # The event loop is watched from outside as an ordinary user too.
    silenced = as_instructor(home, "silences_watchdog.py").stdout
    assert "10/11 checks passed" in silenced and "clock_nanosleep" in silenced, silenced
    assert "0/11 checks passed" in sandboxed["reads_secrets.py"].stdout
    assert "0/11 checks passed" in sandboxed["forge_results.py"].stdout
    assert "11/11 checks passed" in sandboxed["writes_home.py"].stdout
    assert "11/11 checks passed" in sandboxed["writes_kit.py"].stdout
    assert {p: p.read_bytes() for p in files} == files
    # The controls: without the sandbox the same user's files are in reach...
    assert "11/11 checks passed" in as_instructor(home, "reads_secrets.py", "--no-sandbox").stdout
    as_instructor(home, "writes_home.py", "--no-sandbox")
    assert (home / ".bashrc").read_bytes() != files[home / ".bashrc"]
    # ...but the results channel is not, nor the memory of the grader's processes.
    assert "0/11 checks passed" in as_instructor(home, "forge_results.py", "--no-sandbox").stdout
    unsandboxed = as_instructor(home, "reads_grader_process.py", "--no-sandbox")
    assert "0/11 checks passed" in unsandboxed.stdout, unsandboxed.stdout


@pytest.fixture
def root_only_file() -> Iterator[Path]:
    """A 0600 file of root's below /usr, which the sandbox shows whole."""
    if os.geteuid() != 0:
        pytest.skip("plants a root-only file below /usr")
    fd, name = tempfile.mkstemp(prefix="grader-root-only-", dir="/usr/local/share")
    os.write(fd, b"root's secret")
    os.close(fd)
    os.chmod(name, 0o600)
    yield Path(name)
    os.unlink(name)


def test_the_sandbox_is_never_the_kernels_root(kit: Kit, root_only_file: Path) -> None:
    """As root the sandbox's user is a fresh unprivileged uid, so it can neither change
    the kernel's settings (/proc/sys) nor read what only root may."""
    core_pattern = Path("/proc/sys/kernel/core_pattern").read_bytes()
    file = ATTACKS / "writes_kernel_settings.py"
    sandboxed = grade(kit, file, isolated=True)
    assert sandboxed.score == 0 and not passed(sandboxed), passed(sandboxed)
    assert Path("/proc/sys/kernel/core_pattern").read_bytes() == core_pattern
    control = grade(kit, file, isolated=False)
    assert control.passed, "the attack does not work even without the sandbox"


def inside(scratch: Path, script: str) -> subprocess.CompletedProcess[str]:
    """`script` run by sh in a job's sandbox, laid out as the grader lays it out."""
    sandbox.prepare(scratch)
    box = sandbox.Sandbox(scratch, caps.JobCaps(), isolated=True)
    try:
        command = sandbox.network(box.command(["/bin/sh", "-c", script]), scratch)
        return subprocess.run(
            command, capture_output=True, text=True, env=box.env(), cwd="/", timeout=30
        )
    finally:
        sandbox.remove_view(scratch)


def test_inside_the_sandbox_no_kernel_setting_is_writable(tmp_path: Path) -> None:
    script = (
        "cat /proc/self/status | grep ^Uid; "
        "for f in /proc/sys/kernel/core_pattern /proc/sys/kernel/hostname "
        "/proc/sys/vm/drop_caches /proc/sys/net/ipv4/ip_forward /proc/sysrq-trigger; do "
        '  (cat "$f" > "$f") 2>/dev/null && echo "wrote $f"; done; '
        "grep -E ' /proc/sys ' /proc/mounts; ls /etc/ssl; echo done"
    )
    done = inside(tmp_path, script)
    assert done.stdout.endswith("done\n"), done.stdout + done.stderr
    assert "wrote" not in done.stdout, done.stdout
    assert " ro," in done.stdout.split("/proc/sys", 1)[1].splitlines()[0]
    assert "private" not in done.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only: an ordinary user's uid is theirs")
def test_as_root_the_sandbox_runs_as_an_unused_kernel_uid(tmp_path: Path) -> None:
    """Seen from outside, every process of the sandbox has a uid of the job's own."""
    sandbox.prepare(tmp_path)
    box = sandbox.Sandbox(tmp_path, caps.JobCaps(), isolated=True)
    command = sandbox.network(box.command(["/bin/sh", "-c", "echo ready; exec sleep 30"]), tmp_path)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=box.env(), cwd="/")
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        below = psutil.Process(proc.pid).children(recursive=True)
        inside = [p for p in below if p.name() in ("sh", "sleep")]  # before or after exec
        assert inside, [p.name() for p in below]
        for process in inside:
            assert set(process.uids()) == {box.uid}, process.uids()
        assert box.uid in sandbox.JOB_UIDS
    finally:
        proc.kill()
        proc.wait()
        assert box.uid is not None
        kill_user(box.uid)  # as the runner does: the sandbox does not end with its parent
        sandbox.remove_view(tmp_path)
    left = [p for p in psutil.process_iter(["uids"]) if p.info["uids"].real == box.uid]
    assert not [p for p in left if p.status() != psutil.STATUS_ZOMBIE], left


# A submission's file is data until proven a regular file of at most 1 MiB: it is read
# once (submission.read), never through a link, and what is not such a file is refused
# by name before a byte of it is read or copied.


def test_a_submission_file_that_is_a_link_is_refused_not_followed(tmp_path: Path) -> None:
    solution = ROOT / "solutions" / "broadcast.py"
    link = tmp_path / "broadcast.py"
    link.symlink_to(solution)
    done = run_grader("check", "-e", "broadcast", "--submission", str(link))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "0/11 checks passed" in done.stdout, done.stdout
    assert "not gradable: broadcast.py is a symbolic link" in done.stdout, done.stdout
    # The control: what it points at is the solution, which earns full marks.
    control = run_grader("check", "-e", "broadcast", "--submission", str(solution))
    assert "11/11 checks passed" in control.stdout, control.stdout


def sparse(path: Path, size: int) -> Path:
    with path.open("wb") as file:
        file.truncate(size)
    return path


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.symlink_to(ROOT / "solutions" / "broadcast.py"), "is a symbolic link"),
        (lambda p: p.symlink_to(p.name), "is a symbolic link"),  # a link to itself
        (lambda p: p.symlink_to(p.parent / "nowhere.py"), "is a symbolic link"),
        (lambda p: os.mkfifo(p), "is a named pipe"),  # reading it would block forever
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: sparse(p, 2 << 30), "is larger than 1 MiB"),  # 2 GiB, all holes
        (lambda p: p.write_bytes(b"#" * ((1 << 20) + 1)), "is larger than 1 MiB"),
    ],
    ids=["link", "link to itself", "dangling link", "fifo", "folder", "sparse 2 GiB", "1 MiB+1"],
)
def test_only_a_regular_file_of_at_most_1_mib_is_read(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    file = tmp_path / "broadcast.py"
    make(file)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    contents = submission.read(file)
    assert (contents.problem or "").startswith(f"not gradable: broadcast.py {reason}")
    assert contents.data == b"" and not contents.ok
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB
    assert grown < 64 << 10, f"reading it took {grown} KiB"


def test_a_refused_file_is_neither_read_nor_copied_and_the_grade_says_why(
    kit: Kit, tmp_path: Path
) -> None:
    big = sparse(tmp_path / "broadcast.py", 2 << 30)
    free = shutil.disk_usage(tempfile.gettempdir()).free
    result = grade(kit, big, isolated=True)
    assert result.submitted is Submitted.REFUSED and result.score == 0
    assert result.error == "not gradable: broadcast.py is larger than 1 MiB", result.error
    # No dense copy was written (the disk would have lost 2 GiB for the time of the job).
    assert free - shutil.disk_usage(tempfile.gettempdir()).free < 1 << 30


def test_the_largest_file_allowed_is_read_whole(tmp_path: Path) -> None:
    text = b"# a comment\n" * ((1 << 20) // 12)
    file = tmp_path / "broadcast.py"
    file.write_bytes(text)
    assert submission.read(file).data == text


def test_compare_never_shows_what_a_refused_link_points_at(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$the-instructors-secret-hash:19000:0:99999:7:::\n")
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "broadcast.py").symlink_to(secret)  # like a link to /etc/shadow
    assert "the-instructors-secret-hash" in (folder / "broadcast.py").read_text()  # control
    done = run_grader("compare", "--exercise", "broadcast", "--submission", str(folder))
    assert "not followed" in done.stdout, done.stdout + done.stderr
    assert "the-instructors-secret-hash" not in done.stdout + done.stderr
    assert "root:" not in done.stdout + done.stderr


# Every entry of a class gets its row, whatever its name, mode, links or length: one
# entry never stops the batch, and two entries never share a row.


def test_every_entry_of_a_class_gets_its_own_row_whatever_its_name_links_or_length(
    tmp_path: Path,
) -> None:
    classroom = tmp_path / "class"
    classroom.mkdir()
    solution = (ROOT / "solutions" / "broadcast.py").read_bytes()
    controls = bytes(range(1, 32)) * 3 + b"\x7f" * 7  # 100 control characters
    honest = [b"bob\x01", b"bob\\x01", controls, b"\xff\xfe not utf-8"]
    for name in honest:
        os.mkdir(bytes(classroom) + b"/" + name)
        (Path(os.fsdecode(bytes(classroom) + b"/" + name)) / "broadcast.py").write_bytes(solution)
    (classroom / "loop").mkdir()
    (classroom / "loop" / "broadcast.py").symlink_to("broadcast.py")  # a link to itself
    (classroom / "loop.py").symlink_to("loop.py")
    (classroom / "fifo").mkdir()
    os.mkfifo(classroom / "fifo" / "broadcast.py")
    (classroom / "away").symlink_to(classroom / "away")  # a folder link to itself
    entries = len(list(classroom.iterdir()))
    out = tmp_path / "grades"
    done = run_grader(
        "grade", "--submissions", str(classroom), "-e", "broadcast", "--out", str(out)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    rows = list(csv.DictReader((out / "gradebook.csv").open(encoding="utf-8")))
    assert len(rows) == entries, [r["student"] for r in rows]
    students = {r["student"]: r for r in rows}
    for name in ("bob\\x01", "bob\\\\x01", "\\udcff\\udcfe not utf-8"):  # two stay two
        assert students[name]["percent"] == "100.0", name
    long = next(s for s in students if s.startswith("\\x01\\x02"))
    assert students[long]["percent"] == "100.0"
    for name in ("loop", "loop.py", "fifo"):
        assert students[name]["broadcast status"] == "not gradable", name
    assert (out / "students" / gradebook.folder_name(long) / "feedback.html").is_file()


def test_escaped_names_stay_distinct_and_long_ones_fit_in_a_path(tmp_path: Path) -> None:
    names = ["bob\x01", "bob\\x01", "bob\\\\x01", "a\u200eb", "a\\u200eb", "x\udcff", "x\\udcff"]
    for name in names:
        (tmp_path / name).mkdir()
    shown = batch.names(sorted(tmp_path.iterdir()))
    assert len(set(shown)) == len(names) and not any(" (" in s for s in shown), shown
    long = ["\\x01" * 100, "\\x01" * 100 + "a", "é" * 300, "x" * 120, "x" * 121]
    folders = [gradebook.folder_name(n) for n in long]
    assert len(set(folders)) == len(long)
    assert all(len(f.encode()) <= 255 for f in folders)
    assert folders[3] == "x" * 120  # short enough: the name itself
    # A cut name is longer than any uncut one: no student can take another's folder.
    assert all(len(f.encode()) > gradebook.NAME_BYTES for f in folders if f not in long)


def test_a_file_the_grader_may_not_read_gets_its_row_when_an_ordinary_user_grades(
    instructor: Path,
) -> None:
    home = instructor
    classroom = home / "class"
    for student in ("ada", "locked"):
        (classroom / student).mkdir(parents=True)
        shutil.copy(ROOT / "solutions" / "broadcast.py", classroom / student / "broadcast.py")
    (classroom / "sealed").mkdir()
    subprocess.run(["chown", "-R", f"{UID}:{UID}", str(classroom)], check=True)
    (classroom / "locked" / "broadcast.py").chmod(0)
    (classroom / "sealed").chmod(0)
    # The control: that user may not read it (as root, the grader could).
    denied = subprocess.run(
        [
            "setpriv",
            f"--reuid={UID}",
            f"--regid={UID}",
            "--clear-groups",
            "cat",
            str(classroom / "locked" / "broadcast.py"),
        ],
        capture_output=True,
    )
    assert denied.returncode != 0
    command = [str(home / "venv" / "bin" / "python"), "-m", "grader", "--root", str(home / "kit")]
    command += ["grade", "--submissions", str(classroom), "-e", "broadcast"]
    command += ["--out", str(home / "grades")]
    done = subprocess.run(
        ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups", *command],
        capture_output=True,
        text=True,
        cwd=home / "kit",
        env={"HOME": str(home), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
        timeout=300,
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    book = home / "grades" / "gradebook.csv"
    rows = {r["student"]: r for r in csv.DictReader(book.open(encoding="utf-8"))}
    assert set(rows) == {"ada", "locked", "sealed"}
    assert rows["ada"]["percent"] == "100.0"
    assert rows["locked"]["broadcast status"] == "not gradable"
    assert "permission denied" in rows["locked"]["reason"]
    assert rows["sealed"]["percent"] == "0.0"


# Bidirectional and invisible characters show as their escapes wherever text from a
# submission or a folder's name is shown; a formula hidden behind them is quoted.

INVISIBLE = "\u200e\u200f\u061c\u2028\u2029\ufeff\u200b\u202a\u202b\u202c\u202d\u202e"
INVISIBLE += "\u2066\u2067\u2068\u2069"


def raw_invisible(text: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in INVISIBLE if c in text]


def test_bidirectional_and_zero_width_characters_are_shown_escaped() -> None:
    for char in INVISIBLE:
        assert report.escape_controls(f"a{char}b") == f"a\\u{ord(char):04x}b"
    done = run_grader(
        "check", "-e", "broadcast", "--submission", str(ATTACKS / "prints_invisible.py")
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert not raw_invisible(done.stdout + done.stderr)
    assert "\\u202e✗ dessap" in done.stdout, done.stdout


def test_folder_names_with_invisible_characters_are_escaped_in_every_export(
    tmp_path: Path,
) -> None:
    classroom = tmp_path / "class"
    names = ["\u202egnp.exe", "a\u200bb", " =1+1", "\u200b=1+1", "\u2066@SUM(A1)\u2069"]
    for name in names:
        (classroom / name).mkdir(parents=True)
        shutil.copy(ATTACKS / "prints_invisible.py", classroom / name / "broadcast.py")
    out = tmp_path / "grades"
    done = run_grader(
        "grade", "--submissions", str(classroom), "-e", "broadcast", "--out", str(out)
    )
    assert not raw_invisible(done.stdout + done.stderr), done.stdout
    pages = [out / "gradebook.csv", out / "report.html"]
    pages += [p / "feedback.html" for p in (out / "students").iterdir()]
    assert len(pages) == 2 + len(names)
    for page in pages:
        assert not raw_invisible(page.read_text(encoding="utf-8")), page
    rows = list(csv.reader((out / "gradebook.csv").open(encoding="utf-8")))[1:]
    assert sorted(r[0] for r in rows) == sorted(
        ["\\u202egnp.exe", "a\\u200bb", "' =1+1", "\\u200b=1+1", "\\u2066@SUM(A1)\\u2069"]
    )


@pytest.mark.parametrize(
    "cell", ["=1+1", " =1+1", "\u200b=1+1", "\u00a0@SUM(A1)", "\u2060\u200e-2+3", "\t=1", "\r+1"]
)
def test_a_cell_that_starts_a_formula_behind_spaces_or_invisible_characters_is_quoted(
    cell: str,
) -> None:
    assert exports.spreadsheet_safe(cell) == "'" + cell
    rows = exports.gradebook_csv({cell: []}, ["broadcast"]).splitlines()[1:]
    assert rows and not rows[0].lstrip('"').lstrip(" \t\u00a0").startswith(("=", "+", "@"))


@pytest.mark.parametrize("cell", ["-3", " 2.5", "alice", "a=b", "", "x-1"])
def test_numbers_and_ordinary_text_are_left_as_they_are(cell: str) -> None:
    assert exports.spreadsheet_safe(cell) == cell


@pytest.mark.skipif(os.geteuid() != 0, reason="as root only")
def test_as_root_without_a_cgroup_a_jobs_own_uid_caps_its_processes(tmp_path: Path) -> None:
    """RLIMIT_NPROC counts per kernel uid, and the job's uid is its alone."""
    box = sandbox.Sandbox(tmp_path, caps.JobCaps(), isolated=True)
    assert box.process_limit() == caps.PROCESSES_PER_JOB
    assert sandbox.Sandbox(tmp_path, caps.JobCaps(), isolated=False).process_limit() is None


def test_the_checks_redis_cannot_be_made_to_hold_the_machines_memory(tmp_path: Path) -> None:
    """A 40-byte SETRANGE asks for 512 MiB: refused, as is any write past 64 MiB."""
    redis = RedisServer(sandbox.Sandbox(tmp_path, caps.JobCaps(), isolated=False))
    redis.start()
    try:
        reply = redis.command("SETRANGE", "blob", str((512 << 20) - 2), "x") or ""
        assert reply.startswith("-ERR"), reply
        assert redis.proc is not None
        assert psutil.Process(redis.proc.pid).memory_info().rss < 64 << 20
    finally:
        redis.stop()


@pytest.mark.parametrize(
    ("attack", "exercise"),
    [
        ("closes_with_a_crafted_reason", "broadcast"),
        ("answers_get_with_a_flood", "rooms"),
        ("answers_get_cut_short", "rooms"),
    ],
)
def test_what_the_app_answers_never_makes_the_kit_take_the_blame(
    kit: Kit, attack: str, exercise: str
) -> None:
    result = grade(kit, ATTACKS / f"{attack}.py", isolated=True, exercise=exercise)
    said = [result.error or "", result.error_detail]
    said += [f"{c.rationale} {c.detail} {c.help or ''}" for c in result.checks]
    assert result.error is None, result.error
    assert not any("bug in the kit" in words for words in said), said
    assert not result.passed
