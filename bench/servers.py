"""The servers of the fan-out benchmark: ASGI apps under uvicorn, and the anchor.

Each listens on a socket bound on 127.0.0.1 before its process starts, so clients can
connect at once, and each is killed with everything it started by `stop()`. An ASGI app
(the student's, the reference, the lesson's naive manager) is started by a zygote of
its own, as the grader starts servers (`grader.server.AppServer`); the anchor is
`python -m bench.anchor --fd N`. An app that needs Redis (exercise scaleout) is a
`BrokeredServer`: a private redis-server and one or more copies of the app, each on a
port of its own, all given its address in REDIS_URL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Protocol

from checks._chat.redis import RedisServer
from grader.caps import JobCaps
from grader.drain import Drain
from grader.sandbox import Sandbox
from grader.server import AppServer, CouldNotStart
from grader.services import ServiceMissing
from grader.zygote import Zygote

ROOT = Path(__file__).resolve().parent.parent


class BenchServer(Protocol):
    @property
    def ports(self) -> list[int]:
        """Where clients connect: one port per server process (known once started)."""

    @property
    def pids(self) -> list[int]:
        """The server processes, whose CPU time is the server's."""

    @property
    def broker_pid(self) -> int:
        """The message broker's process (a redis-server), or 0 if there is none."""

    def start(self) -> None:
        """Start serving; raise CouldNotStart with the reason if it cannot."""

    def stop(self) -> None:
        """Kill the server and everything it started; safe to call twice."""

    def log(self) -> str: ...


class _OneProcess:
    """A server that is one process on one port, with no broker."""

    port: int
    broker_pid = 0

    @property
    def pid(self) -> int:
        raise NotImplementedError

    @property
    def ports(self) -> list[int]:
        return [self.port]

    @property
    def pids(self) -> list[int]:
        return [self.pid]


class AsgiServer(_OneProcess):
    """An exercise's app file served by uvicorn, started by a zygote of its own.

    The benchmark measures the app, not the sandbox: the zygote runs as a plain
    process (see grader/sandbox.py), with the per-process caps of a graded server.
    """

    def __init__(
        self, file: Path, module: str, scratch: Path, env: dict[str, str] | None = None
    ) -> None:
        self.file = file
        self.module = module
        self.env = dict(env or {})
        self.folder = scratch / f"server-{uuid.uuid4().hex[:8]}"
        self._zygote: Zygote | None = None
        self._server: AppServer | None = None
        self.port = 0

    @property
    def pid(self) -> int:
        return self._server.host_pid if self._server else 0

    def start(self) -> None:
        if not self.file.is_file():
            raise CouldNotStart(f"there is no file {_shown(self.file)}")
        (self.folder / "submission").mkdir(parents=True)
        shutil.copyfile(self.file, self.folder / "submission" / self.file.name)
        sandbox = Sandbox(self.folder, JobCaps(), isolated=False)
        pipes = Drain()
        self._zygote = Zygote.start(
            sandbox, self.file.name, self.module, "fastapi,redis.asyncio", pipes
        )
        self._server = AppServer(
            self._zygote,
            self.folder / "server.events",
            pipes=pipes,
            file_name=self.file.name,
            env=self.env,
        )
        self._server.start()
        self.port = self._server.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._zygote is not None:
            self._zygote.close()

    def log(self) -> str:
        return self._server.log() if self._server else ""


def tcp_socket() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)


class AnchorServer(_OneProcess):
    """bench/anchor.py in a process (and session) of its own."""

    def __init__(self, scratch: Path) -> None:
        self.log_path = scratch / f"anchor-{uuid.uuid4().hex[:8]}.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc else 0

    def start(self) -> None:
        sock = tcp_socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        try:
            with self.log_path.open("wb") as log:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "bench.anchor", "--fd", str(sock.fileno())],
                    cwd=ROOT,
                    pass_fds=(sock.fileno(),),
                    start_new_session=True,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        except OSError as exc:
            raise CouldNotStart(f"could not start the anchor: {exc}") from None
        finally:
            sock.close()  # the child owns it now: if it dies, connections are refused

    def stop(self) -> None:
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class BrokeredServer:
    """`processes` copies of an app that share a private redis-server (exercise scaleout).

    Each copy is an `AsgiServer` on a port of its own, with the broker's address in
    REDIS_URL; `stop()` kills the copies first, then the broker.
    """

    ATTEMPTS = 3  # a redis-server that cannot bind its port (taken meanwhile) gets a new one

    def __init__(self, file: Path, module: str, scratch: Path, processes: int) -> None:
        self.file = file
        self.module = module
        self.scratch = scratch
        self.processes = processes
        self.redis: RedisServer | None = None
        self.apps: list[AsgiServer] = []

    @property
    def ports(self) -> list[int]:
        return [app.port for app in self.apps]

    @property
    def pids(self) -> list[int]:
        return [app.pid for app in self.apps]

    @property
    def broker_pid(self) -> int:
        proc = self.redis.proc if self.redis else None
        return proc.pid if proc else 0

    def start(self) -> None:
        if not self.file.is_file():
            raise CouldNotStart(f"there is no file {_shown(self.file)}")
        for attempt in range(self.ATTEMPTS):
            self.redis = RedisServer(Sandbox(self.scratch, JobCaps(), isolated=False))
            try:
                self.redis.start()
                break
            except ServiceMissing as exc:
                raise CouldNotStart(str(exc)) from None
            except RuntimeError as exc:
                if attempt == self.ATTEMPTS - 1:
                    raise CouldNotStart(str(exc)) from None
        assert self.redis is not None
        env = {"REDIS_URL": self.redis.url}
        for _ in range(self.processes):
            app = AsgiServer(self.file, self.module, self.scratch, env)
            self.apps.append(app)  # before start(): stop() must kill a half-started one
            app.start()

    def stop(self) -> None:
        with contextlib.ExitStack() as stack:  # every callback runs, even if one raises
            if self.redis is not None:
                stack.callback(self.redis.stop)  # last: the copies go first
            for app in self.apps:
                stack.callback(app.stop)

    def log(self) -> str:
        if len(self.apps) == 1:
            return self.apps[0].log()
        return "\n".join(
            f"--- process {chr(ord('A') + i)} ---\n{app.log()}" for i, app in enumerate(self.apps)
        )


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def last_error(log: str) -> str:
    """The last line of a server log that names an exception, if any: why it failed."""
    for line in reversed(log.splitlines()):
        text = line.strip()
        head = text.partition(":")[0]
        if head.endswith(("Error", "Exception")) and " " not in head:
            return text[:160]
    return ""
