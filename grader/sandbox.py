"""Isolation for untrusted code, with bubblewrap (bwrap) and kernel namespaces.

A graded submission is one job, laid out in two layers:

    runner (the grader)
     └─ bwrap: a network namespace of the job's own         network(...)
         └─ checks process (trusted: the checks, the WebSocket clients)
             ├─ bwrap: the sandbox                           confine(...)
             │   └─ zygote → the student's servers
             └─ bwrap: redis-server, when the exercise needs one

The checks process shares the job's private loopback with what it tests, and nothing
else does: no other job, no other student's server or Redis. The sandbox has its own
user, pid, ipc, uts, cgroup and mount namespaces: it sees the interpreter and its
libraries read-only, its own copy of the submission, a size-capped tmpfs as /tmp, and
nothing else of the machine (not the kit, not a home folder). When its parent dies, or
its first process ends, the kernel ends everything in it.

Without bwrap (macOS, some containers) everything runs as plain processes: fine for a
student's own files, refused for anyone else's unless the instructor says --no-sandbox.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.caps import JobCaps

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
    "ssl",
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
    command = network(confine([sys.executable, "-I", "-c", "print('ok')"], Path("/nonexistent")))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, env=ALLOWED_ENV)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(False, f"bubblewrap could not run: {exc}", version)
    if done.stdout.strip() != "ok":
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Probe(
            False, f"bubblewrap cannot create namespaces here ({why})", version, forbidden=True
        )
    return Probe(True, "", version)


def network(argv: list[str]) -> list[str]:
    """Run `argv` in a network namespace of its own, with only a loopback, up."""
    user = [] if os.geteuid() == 0 else ["--unshare-user"]
    return [BWRAP, *user, "--unshare-net", "--dev-bind", "/", "/", "--die-with-parent", *argv]


class Sandbox:
    """How one job runs untrusted commands: confined (bwrap) or, if not `isolated`, as
    plain processes; either way in the job's caps and an allow-listed environment.

    `scratch` is the job's folder on the host: its `submission/` is what the sandbox
    sees at /submission, its `etc/` the sandbox's own small /etc files.
    """

    def __init__(self, scratch: Path, job_caps: JobCaps, isolated: bool) -> None:
        self.scratch = scratch
        self.caps = job_caps
        self.isolated = isolated
        self.workdir = Path("/tmp") if isolated else scratch / "tmp"

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
        binds = {self.scratch / "submission": "/submission"} if submission else {}
        return self.caps.enter(confine(argv, self.scratch, binds=binds))


def confine(
    argv: list[str],
    scratch: Path,
    *,
    binds: dict[Path, str] | None = None,
    chdir: str = "/tmp",
) -> list[str]:
    """`argv` in a sandbox: the system and Python read-only, `binds` (host → inside)
    read-only, a private size-capped /tmp; it keeps the environment it is given and the
    network namespace it starts in (the job's own). `scratch/etc` holds its /etc files."""
    args = [
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
    for name, path in _own_etc(scratch).items():
        args += ["--ro-bind", str(path), f"/etc/{name}"]
    hidden = kit_below_usr()
    if hidden is not None:  # bound with /usr: cover it, then show its venv and grader again
        args += ["--tmpfs", str(hidden)]
    for path in python_paths():
        args += ["--ro-bind", str(path), str(path)]
    if hidden is not None:
        args += ["--remount-ro", str(hidden)]
    for source, inside in (binds or {}).items():
        args += ["--ro-bind", str(source), inside]
    args += [
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        str(SHM_SIZE),
        "--tmpfs",
        "/dev/shm",
        # The root bwrap builds is a tmpfs too: only /tmp and /dev/shm stay writable,
        # each with a size, so no file can grow without bound.
        "--remount-ro",
        "/",
        "--chdir",
        chdir,
        "--",
        *argv,
    ]
    return args


def _own_etc(scratch: Path) -> dict[str, Path]:
    folder = scratch / "etc"
    if folder.is_dir():
        return {name: folder / name for name in ETC_OWN}
    if not scratch.is_dir():  # the probe: no files of our own
        return {}
    folder.mkdir()
    for name, text in ETC_OWN.items():
        (folder / name).write_text(text)
    return {name: folder / name for name in ETC_OWN}


def _kit() -> Path:
    import grader

    return Path(grader.__file__).resolve().parent.parent


def kit_below_usr() -> Path | None:
    """The kit's folder if it is inside /usr, which the sandbox shows whole."""
    kit = _kit()
    return kit if kit.is_relative_to("/usr") else None


@functools.cache
def python_paths() -> tuple[Path, ...]:
    """The folders a sandboxed Python needs: the interpreter, the standard library, the
    installed packages and the grader package; never the kit around them (its checks
    and solutions)."""
    kit = _kit()
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
