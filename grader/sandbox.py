"""Isolation for untrusted code, with bubblewrap (bwrap) and kernel namespaces.

A graded submission is one job, laid out in two layers:

    runner (the grader)
     └─ bwrap: a network namespace of the job's own         network(...)
         └─ checks process (trusted: the checks, the WebSocket clients)
             ├─ bwrap: the sandbox                           confine(...)
             │   └─ zygote → the student's servers
             └─ bwrap: a backing service (a broker), when the exercise needs one

The checks process shares the job's private loopback with what it tests, and nothing
else does: no other job, no other student's server or service. The sandbox has its own
user, pid, ipc, uts, cgroup and mount namespaces: it sees the interpreter and its
libraries read-only, its own copy of the submission, a size-capped tmpfs as /tmp, and
nothing else of the machine (not the kit, not a home folder). When its parent dies, or
its first process ends, the kernel ends everything in it.

Whoever starts the grader, the sandbox is never kernel uid 0: a user namespace made by
root maps its user to root outside, and uid 0 may write most of /proc/sys with no
capability at all (kernel.core_pattern runs a program as the host's root). So when the
grader is root, the sandbox's bwrap starts as a fresh unused uid of its own (`job_uid`),
and what it binds that only root may reach (/root/.pyenv, a kit in a root-only folder,
the job's scratch) is first bound by root, in the job's own mount namespace, onto
mount points that uid may traverse (`view`). /proc/sys is read-only inside either way.

Without bwrap (macOS, some containers) everything runs as plain processes: fine for a
student's own files, refused for anyone else's unless the instructor says --no-sandbox.
"""

from __future__ import annotations

import functools
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.caps import PROCESSES_PER_JOB, CgroupCaps, JobCaps

TMP_SIZE = 64 << 20
SHM_SIZE = 16 << 20
INSIDE_UID = 1000
ROOT_LINKS = ("bin", "sbin", "lib", "lib64", "lib32", "libx32")
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "host.conf",
    "protocols",
    "services",
    # The public certificates and settings, never /etc/ssl/private.
    "ssl/certs",
    "ssl/openssl.cnf",
    "alternatives",
)
ETC_OWN = {
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost ip6-loopback\n",
    "passwd": f"student:x:{INSIDE_UID}:{INSIDE_UID}:student:/tmp:/bin/sh\n",
    "group": f"student:x:{INSIDE_UID}:\n",
    "hostname": "sandbox\n",
}
# What a sandboxed process finds in its environment; nothing of the grader's.
ALLOWED_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONNOUSERSITE": "1",
}
BWRAP = shutil.which("bwrap") or "bwrap"
SETPRIV = shutil.which("setpriv") or "setpriv"
# The kernel uids a sandbox runs as when the grader is root, one per job: above the
# ranges systems hand out (systemd's container range ends at 0x6FFFFFFF, "nobody" is
# 65534), so no file and no other process of the machine belongs to it, and limits the
# kernel counts per user (processes, inotify) are the job's alone.
JOB_UIDS = range(0x7A000000, 0x7A000000 + (1 << 20))


def job_uid() -> int | None:
    """The kernel uid for a new job's sandbox: a fresh one if we are root, else ours."""
    return random.choice(JOB_UIDS) if os.geteuid() == 0 else None


@dataclass(frozen=True)
class Probe:
    """Whether this machine can sandbox, and if not, why."""

    works: bool
    reason: str
    version: str = ""
    forbidden: bool = False
    """bubblewrap is installed and runs, but this machine refuses it namespaces (a
    container's seccomp profile): a fact of the place, not a broken setup."""


@functools.cache
def probe() -> Probe:
    """Try the full layout once (a network namespace holding a sandbox) and report."""
    if not shutil.which(BWRAP):
        return Probe(
            False, "bubblewrap is not installed (Debian, Ubuntu: apt-get install bubblewrap)"
        )
    version = subprocess.run([BWRAP, "--version"], capture_output=True, text=True).stdout.strip()
    uid = job_uid()
    if uid is not None and not shutil.which(SETPRIV):
        return Probe(
            False, "setpriv is not installed (Debian, Ubuntu: apt-get install util-linux)", version
        )
    try:
        with tempfile.TemporaryDirectory(prefix="grader-probe-") as tmp:
            scratch = Path(tmp)
            prepare(scratch)
            try:
                command = network(
                    confine([sys.executable, "-I", "-c", "print('ok')"], scratch, uid=uid),
                    scratch,
                )
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=30, env=ALLOWED_ENV, cwd="/"
                )
            finally:
                remove_view(scratch)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(False, f"bubblewrap could not run: {exc}", version)
    if done.stdout.strip() != "ok":
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Probe(
            False, f"bubblewrap cannot create namespaces here ({why})", version, forbidden=True
        )
    return Probe(True, "", version)


def network(argv: list[str], scratch: Path, kit: Path | None = None) -> list[str]:
    """Run `argv` in a network namespace of its own, with only a loopback, up. As root,
    its mount namespace also shows what the job's sandboxes bind at their `view`
    (`kit`: the folder of the grader package the sandboxes will run, if not ours)."""
    if os.geteuid() != 0:
        return [BWRAP, "--unshare-user", "--unshare-net", "--dev-bind", "/", "/", *_END, *argv]
    views = []
    for source, inside in exposed(scratch, kit):
        views += ["--ro-bind", str(source), str(view_point(scratch, inside))]
    return [BWRAP, "--unshare-net", "--dev-bind", "/", "/", *views, *_END, *argv]


_END = ["--die-with-parent", "--"]


def exposed(scratch: Path, kit: Path | None = None) -> list[tuple[Path, str]]:
    """What of the machine a job's sandbox shows beside /usr, /etc's public files and its
    own /tmp: (where it is, where the sandbox sees it)."""
    shown = [(path, str(path)) for path in python_paths(kit or _kit())]
    shown.append((scratch / "submission", "/submission"))
    shown += [(scratch / "etc" / name, f"/etc/{name}") for name in ETC_OWN]
    return shown


def view(scratch: Path) -> Path:
    """The folder of mount points through which a sandbox of a root grader reaches what
    it binds (see the module's docstring); it holds nothing on the host's disk. In /tmp,
    which every user may pass (a scratch folder's own parent may not be)."""
    name = hashlib.sha256(str(scratch).encode()).hexdigest()[:24]
    return Path("/tmp") / f"grader-view-{name}"


def view_point(scratch: Path, inside: str) -> Path:
    """Where in the view the sandbox finds what it shows at `inside`."""
    return view(scratch) / hashlib.sha256(inside.encode()).hexdigest()[:16]


def prepare(scratch: Path, isolated: bool = True, kit: Path | None = None) -> None:
    """Lay out a job's scratch folder for its sandboxes: the submission's folder, the
    sandbox's own /etc files and, `isolated` as root, the view's mount points (then call
    `remove_view` when the job is over)."""
    (scratch / "submission").mkdir(exist_ok=True)
    (scratch / "etc").mkdir(exist_ok=True)
    for name, text in ETC_OWN.items():
        (scratch / "etc" / name).write_text(text)
    # Readable by the sandbox's user whatever the umask: no one else can pass scratch.
    for path in [scratch / "submission", scratch / "etc", *(scratch / "etc").iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    if not isolated or os.geteuid() != 0:
        return
    points = view(scratch)
    points.mkdir(mode=0o755)
    points.chmod(0o755)
    for source, inside in exposed(scratch, kit):
        point = view_point(scratch, inside)
        if source.is_dir():
            point.mkdir(mode=0o755)
        else:
            point.touch(mode=0o644)


def remove_view(scratch: Path) -> None:
    shutil.rmtree(view(scratch), ignore_errors=True)


class Sandbox:
    """How one job runs untrusted commands: confined (bwrap) or, if not `isolated`, as
    plain processes; either way in the job's caps and an allow-listed environment.

    `scratch` is the job's folder on the host: its `submission/` is what the sandbox
    sees at /submission, its `etc/` the sandbox's own small /etc files.
    """

    def __init__(
        self, scratch: Path, job_caps: JobCaps, isolated: bool, uid: int | None = None
    ) -> None:
        self.scratch = scratch
        self.caps = job_caps
        self.isolated = isolated
        self.workdir = Path("/tmp") if isolated else scratch / "tmp"
        self.uid = (uid or job_uid()) if isolated else None
        """The kernel uid of its sandboxes, when the grader is root (the runner's
        choice, so that it can end whatever runs as that uid when the job is over)."""

    def process_limit(self) -> int | None:
        """An RLIMIT_NPROC for its servers where no cgroup counts the job's processes. A
        sandbox with a kernel uid of its own (as root) has a count of its own: the cap."""
        if self.uid is not None and not isinstance(self.caps, CgroupCaps):
            return PROCESSES_PER_JOB
        return self.caps.process_limit()

    def submission(self, name: str) -> Path:
        """Where a sandboxed process finds the submission's file `name`."""
        folder = Path("/submission") if self.isolated else self.scratch / "submission"
        return folder / name

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        home = str(self.workdir)
        return {**ALLOWED_ENV, "HOME": home, "TMPDIR": home, **(extra or {})}

    def command(self, argv: list[str], *, submission: bool = False) -> list[str]:
        """`argv` as it runs for this job (start it with env=self.env())."""
        if not self.isolated:
            self.workdir.mkdir(exist_ok=True)
            return self.caps.enter(argv)
        return self.caps.enter(confine(argv, self.scratch, submission=submission, uid=self.uid))


def confine(
    argv: list[str],
    scratch: Path,
    *,
    submission: bool = False,
    uid: int | None = None,
    chdir: str = "/tmp",
) -> list[str]:
    """`argv` in a sandbox: the system and Python read-only, with `submission` the job's
    copy of it at /submission, a private size-capped /tmp; it keeps the environment it is
    given and the network namespace it starts in (the job's own, made by `network`).
    `scratch` was laid out by `prepare`. With `uid` (the grader is root), bwrap starts
    as that kernel uid and binds through the job's view."""
    shown = exposed(scratch)
    if uid is not None:
        shown = [(view_point(scratch, inside), inside) for _, inside in shown]
    count = len(python_paths(_kit()))
    python, (folder, *etc) = shown[:count], shown[count:]
    drop = [] if uid is None else [SETPRIV, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    args = [
        *drop,
        BWRAP,
        "--unshare-user",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--uid",
        str(INSIDE_UID),
        "--gid",
        str(INSIDE_UID),
        "--hostname",
        "sandbox",
        # /tmp first: a folder bound below it (a kit unpacked in /tmp) stays visible.
        "--size",
        str(TMP_SIZE),
        "--tmpfs",
        "/tmp",
        "--ro-bind",
        "/usr",
        "/usr",
    ]
    for name in ROOT_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for source, inside in etc:
        args += ["--ro-bind", str(source), inside]
    hidden = kit_below_usr(_kit())
    if hidden is not None:  # bound with /usr: cover it, then show its venv and grader again
        args += ["--tmpfs", str(hidden)]
    for source, inside in python:
        args += ["--ro-bind", str(source), inside]
    if hidden is not None:
        args += ["--remount-ro", str(hidden)]
    if submission:
        args += ["--ro-bind", str(folder[0]), folder[1]]
    args += [
        "--proc",
        "/proc",
        # The kernel's settings, read-only: no sysctl is the sandbox's to change.
        "--ro-bind",
        "/proc/sys",
        "/proc/sys",
        "--dev",
        "/dev",
        "--size",
        str(SHM_SIZE),
        "--tmpfs",
        "/dev/shm",
        # The root bwrap builds is a tmpfs too, and so is its /dev, with no size: only
        # /tmp and /dev/shm stay writable, each with a size, so no file can grow
        # without bound. (Device nodes such as /dev/null still take writes.)
        "--remount-ro",
        "/dev",
        "--remount-ro",
        "/",
        "--chdir",
        chdir,
        "--",
        # The checks share the job's memory cap: when it is reached, the kernel ends what
        # runs in here first (anyone may raise their own score).
        "/bin/sh",
        "-c",
        'echo 1000 >/proc/self/oom_score_adj 2>/dev/null; exec "$@"',
        "sh",
        *argv,
    ]
    return args


def _kit() -> Path:
    import grader

    return Path(grader.__file__).resolve().parent.parent


def kit_below_usr(kit: Path) -> Path | None:
    """The kit's folder if it is inside /usr, which the sandbox shows whole."""
    return kit if kit.is_relative_to("/usr") else None


@functools.cache
def python_paths(kit: Path) -> tuple[Path, ...]:
    """The folders a sandboxed Python needs: the interpreter, the standard library, the
    installed packages and the `kit`'s grader package; never the kit around them (its
    checks and solutions)."""
    kit = kit.resolve()
    package = kit / "grader"
    venv = Path(sys.prefix).resolve()
    # The path of a fresh, isolated interpreter: this one's may hold the folder it was
    # started in, or what a test put there.
    fresh = subprocess.run(
        [sys.executable, "-I", "-c", "import sys; print('\\n'.join(sys.path))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    found: list[Path] = []
    candidates = [sys.base_prefix, sys.prefix, sys.base_exec_prefix, sys.exec_prefix, *fresh]
    for candidate in filter(None, candidates):
        path = Path(candidate).resolve()
        if not path.is_dir():
            continue
        if path.is_relative_to("/usr") and not path.is_relative_to(kit):
            continue  # /usr is bound already (but a kit inside it is covered)
        if kit.is_relative_to(path):  # the kit itself, or a folder above it
            continue
        if path.is_relative_to(kit) and not path.is_relative_to(venv):
            continue  # inside the kit, only its virtual environment may be seen
        found.append(path)
    found.append(package)
    # A folder inside another one already bound adds nothing.
    unique = sorted(set(found), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(k) for k in kept):
            kept.append(path)
    return tuple(kept)
