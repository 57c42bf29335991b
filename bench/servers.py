"""The servers of the fan-out benchmark: ASGI apps under uvicorn, and the anchor.

Each listens on a socket bound on 127.0.0.1 before its process starts, so clients can
connect at once, and each is killed with everything it started by `stop()`. An ASGI app
(the student's, the reference, the lesson's naive manager) runs in the grader's own
sandbox (`grader.server.AppServer`); the anchor is `python -m bench.anchor --fd N`.
Start servers outside a running event loop: the ASGI ones are forked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Protocol

from grader.server import AppServer, AppSpec, CouldNotStart

ROOT = Path(__file__).resolve().parent.parent


class BenchServer(Protocol):
    port: int

    @property
    def pid(self) -> int: ...

    def start(self) -> None:
        """Start serving; raise CouldNotStart with the reason if it cannot."""

    def stop(self) -> None:
        """Kill the server and everything it started; safe to call twice."""

    def log(self) -> str: ...


class AsgiServer:
    """An exercise's app file served by uvicorn in the grader's sandbox."""

    def __init__(self, file: Path, module: str, scratch: Path) -> None:
        self.file = file
        spec = AppSpec(file=file, module=module, workdir=file.parent)
        self._server = AppServer(spec, scratch / f"server-{uuid.uuid4().hex[:8]}.log")
        self.port = 0

    @property
    def pid(self) -> int:
        return self._server.pid

    def start(self) -> None:
        if not self.file.is_file():
            raise CouldNotStart(f"there is no file {_shown(self.file)}")
        self._server.start()
        self.port = self._server.port

    def stop(self) -> None:
        self._server.stop()

    def log(self) -> str:
        return self._server.log()


def tcp_socket() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)


class AnchorServer:
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
