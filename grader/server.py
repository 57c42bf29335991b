"""Serve a student's app under a real uvicorn server, in a sandboxed child process.

The child is forked from the checks process after the heavy libraries are imported, so
starting a fresh server for every check costs milliseconds, not a second. The listening
socket is bound before the fork: clients can connect at once, and the port can never be
taken by someone else in between.
"""

from __future__ import annotations

import importlib.util
import json
import os
import resource
import select
import signal
import socket
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from grader import processes

SANDBOX_VAR = "GRADER_SANDBOX"
MEMORY_LIMIT = 1 << 30  # 1 GiB of address space
OUTPUT_LIMIT = 16 << 20  # 16 MiB of log output


class CouldNotStart(Exception):
    """The student's module could not be imported or served; the message says why."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@dataclass
class AppSpec:
    """What to serve: the student's file, imported under `module`, exposing `attribute`."""

    file: Path
    module: str
    workdir: Path
    attribute: str = "app"
    env: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, object] = field(default_factory=dict)
    """Module-level names to set after import (constants a check wants small)."""
    startup_timeout: float = 5.0


class AppServer:
    """One running copy of the student's app on 127.0.0.1:<port>."""

    def __init__(self, spec: AppSpec, log_path: Path) -> None:
        self.spec = spec
        self.log_path = log_path
        self.token = uuid.uuid4().hex
        self.pid = 0
        self.port = 0
        self._status: int | None = None

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        """Fork the server and wait until the module is imported; raise CouldNotStart."""
        # IPPROTO_TCP, not 0: only then does asyncio turn Nagle's algorithm off on accepted
        # connections, without which small frames wait up to 40 ms.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        self.port = sock.getsockname()[1]
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                os.close(read_end)
                _serve_in_child(self.spec, sock, write_end, self.log_path, self.token)
            finally:
                os._exit(70)
        self.pid = pid
        os.close(write_end)
        sock.close()  # the child owns it now: if it dies, connections are refused
        try:
            report = _read_report(read_end, self.spec.startup_timeout)
        finally:
            os.close(read_end)
        if report is None:  # no word in time: the import hangs
            self.stop()
            raise CouldNotStart(
                f"{self.spec.file.name} did not finish importing within "
                f"{self.spec.startup_timeout:g} s",
                "Is there an endless loop or a blocking call at the top level of the module?",
            )
        if not report:  # the pipe closed without a word: the process ended
            self.stop()
            raise CouldNotStart(
                f"the server {self.exit_reason() or 'ended'} while importing {self.spec.file.name}"
            )
        if "error" in report:
            self.stop()
            raise CouldNotStart(report["error"], report.get("detail", ""))

    def exit_reason(self) -> str | None:
        """None while the server runs; otherwise how it ended, in words."""
        if self._status is None and self.pid:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return "ended"
            if pid == 0:
                return None
            self._status = status
        if self._status is None:
            return None
        return describe_exit(self._status)

    def terminate(self, within: float) -> bool:
        """SIGTERM, as a deploy stops a server; whether it exited by itself within `within` s."""
        if not self.pid or self._status is not None:
            return True
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + within
        while self.exit_reason() is None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Kill the server and everything it started; safe to call twice."""
        if not self.pid:
            return
        if self._status is None:  # once reaped, the pid (and its group id) may be reused
            processes.kill_group(self.pid)
            try:
                _, self._status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
        processes.kill_tagged(SANDBOX_VAR, self.token)


def describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXFSZ:
            return f"was stopped because it printed more than {OUTPUT_LIMIT >> 20} MiB of output"
        if sig == signal.SIGKILL:
            return "was killed"
        return f"was killed by signal {signal.Signals(sig).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if 0 < soft < 1 << 20 else 65536


def _read_report(fd: int, timeout: float) -> dict | None:
    """The child's one-line report; {} if it died first, None if it said nothing in time.

    Reads up to the newline rather than to EOF: a child that forked keeps the pipe open.
    """
    deadline = time.monotonic() + timeout
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            return {}
        data += chunk
    try:  # student code runs while the pipe is open: trust nothing that comes through
        report = json.loads(data)
    except ValueError:
        return {"error": "the app wrote something unexpected to the grader's pipe"}
    return report if isinstance(report, dict) and report else {}


def _serve_in_child(
    spec: AppSpec, sock: socket.socket, report_fd: int, log_path: Path, token: str
) -> None:  # pragma: no cover - runs in the forked child
    os.setsid()
    os.environ[SANDBOX_VAR] = token
    os.environ.update(spec.env)
    # SIGPIPE stays ignored, as Python sets it: a write to a vanished client must raise,
    # not kill the server.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ):
        signal.signal(sig, signal.SIG_DFL)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    # Nothing else the checks process had open (its results file above all) may reach
    # student code: keep only the listening socket and the report pipe.
    keep = sorted({sock.fileno(), report_fd})
    for low, high in zip([2, *keep], [*keep, _max_fd()], strict=True):
        os.closerange(low + 1, high)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    processes.limit_resources(MEMORY_LIMIT, OUTPUT_LIMIT)
    processes.drop_privileges()
    os.chdir(spec.workdir)
    sys.path.insert(0, str(spec.file.parent))

    def report(payload: dict) -> None:
        os.write(report_fd, json.dumps(payload).encode() + b"\n")
        os.close(report_fd)

    try:
        app = import_app(spec)
    except CouldNotStart as exc:
        report({"error": exc.message, "detail": exc.detail})
        os._exit(1)
    report({"ok": True})

    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="auto")
    uvicorn.Server(config).run(sockets=[sock])
    sys.stdout.flush()
    os._exit(0)


def import_app(spec: AppSpec) -> object:  # pragma: no cover - runs in a sandboxed child
    name = spec.file.name
    module_spec = importlib.util.spec_from_file_location(spec.module, spec.file)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[spec.module] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise CouldNotStart(
            f"{name} has a syntax error{where}: {exc.msg}",
            (exc.text or "").rstrip(),
        ) from None
    except SystemExit as exc:
        raise CouldNotStart(f"{name} called exit({exc.code!r}) while being imported") from None
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in sys.stdlib_module_names:
            raise CouldNotStart(
                f"{name} imports {exc.name}, which the grader cannot load here",
                "Submissions run as a restricted user who cannot read this Python's files; "
                f"tell your instructor to add {exc.name!r} to STDLIB_PRELOAD in "
                "grader/processes.py.",
            ) from None
        raise CouldNotStart(
            f"importing {name} raised ModuleNotFoundError: {exc}",
            student_traceback(exc, spec.file),
        ) from None
    except MemoryError:
        raise CouldNotStart(
            f"{name} used more than {MEMORY_LIMIT >> 30} GiB of memory while being imported"
        ) from None
    except BaseException as exc:  # noqa: BLE001 - any failure is the student's to see
        raise CouldNotStart(
            f"importing {name} raised {type(exc).__name__}: {exc}",
            student_traceback(exc, spec.file),
        ) from None
    for setting, value in spec.overrides.items():
        setattr(module, setting, value)
    app = getattr(module, spec.attribute, None)
    if app is None:
        raise CouldNotStart(
            f"{name} has no variable named `{spec.attribute}`",
            f"Define `{spec.attribute} = FastAPI()` at the top level of the module.",
        )
    if not callable(app):
        raise CouldNotStart(
            f"`{spec.attribute}` in {name} is a {type(app).__name__}, not an ASGI app",
            f"`{spec.attribute}` should be the FastAPI() instance.",
        )
    return app


def student_traceback(exc: BaseException, file: Path) -> str:
    """The traceback cut down to the frames in the student's own file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
    lines = [f"  line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames]
    return "\n".join(lines)
