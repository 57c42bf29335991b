"""The zygote: inside the sandbox, it starts the student's servers when the checks ask.

It imports the heavy libraries (uvicorn, the exercise's preloads) once, then forks a
server per request, so a fresh server costs milliseconds. It never imports check code,
so a server finds nothing in its memory that the student may not see. The checks
process drives it over a socket pair: one JSON request per message (`send`, `receive`),
the server's listening socket, log and report pipe passed alongside (SCM_RIGHTS).

    serve    fork a server                          → {"pid": …}
    signal   send a signal to a server              → {}
    status   how a server ended (None while it runs) → {"status": …}
    stop     kill a server's process group, reap it  → {"status": …}
    reset    kill everything below the zygote       → {}

The zygote is the subreaper of all it starts, so even a server's double-forked daemon
stays below it and `reset` finds it. It ends, with everything below it, when the
checks process closes its end of the socket.

    python -I -c 'from grader.zygote import main; main()' --control FD --file F …
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader import untrusted
from grader.drain import Drain, Output
from grader.processes import PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, kill_tree, prctl
from grader.serving import AppSpec, run

if TYPE_CHECKING:
    from grader.sandbox import Sandbox

MAX_MESSAGE = 1 << 20
LOG_TAIL = 64 << 10  # of the zygote's own output: only its last lines are ever shown


def send(sock: socket.socket, payload: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    """One message: its length, then JSON; the descriptors travel with its first bytes."""
    data = json.dumps(payload).encode()
    data = len(data).to_bytes(4, "big") + data
    sent = socket.send_fds(sock, [data], list(fds))
    if sent < len(data):
        sock.sendall(data[sent:])


def receive(sock: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """The next message and the descriptors that came with it; None at the end."""
    head, fds, _, _ = socket.recv_fds(sock, 4, 8)
    while head and len(head) < 4:
        head += sock.recv(4 - len(head))
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "big")
    if size > MAX_MESSAGE:
        return None
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    # The zygote runs beside the student's code, which may take it over: its answers
    # are read as untrusted (a deep or odd one is a ValueError, as a broken one is).
    payload = untrusted.loads(data, MAX_MESSAGE)
    if not isinstance(payload, dict):
        raise ValueError("a message that is not a JSON object")
    return payload, fds


ANSWER_WITHIN = 15.0


class SandboxGone(Exception):
    """The zygote (and so the sandbox) has ended or stopped answering."""


class Zygote:
    """The checks' side: start the zygote with `command`, then send it requests."""

    @classmethod
    def start(
        cls, sandbox: Sandbox, file_name: str, module: str, preload: str, pipes: Drain
    ) -> Zygote:
        """A zygote in `sandbox`, serving the submission's `file_name` as `module`."""
        limit = sandbox.process_limit()
        # -I: nothing of the environment or the folder it starts in; the grader is found
        # where this one was found (the sandbox shows that folder, and no more of the kit).
        boot = (
            f"import sys; sys.path.insert(0, {str(Path(__file__).parent.parent)!r}); "
            "from grader.zygote import main; main()"
        )
        command = [
            sys.executable,
            "-I",
            "-c",
            boot,
            "--file",
            str(sandbox.submission(file_name)),
            "--module",
            module,
            "--workdir",
            str(sandbox.workdir),
            "--preload",
            preload,
            *([] if limit is None else ["--processes", str(limit)]),
        ]
        return cls(sandbox.command(command, submission=True), pipes, env=sandbox.env())

    def __init__(self, command: list[str], pipes: Drain, env: dict[str, str] | None = None) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket = ours
        self._lock = threading.Lock()
        self._gone: str | None = None
        # Its output, through a pipe: the zygote runs beside the student's code, and a
        # file it held could be made to take the host's disk (see drain.py).
        self.output = Output(head=0, tail=LOG_TAIL)
        read_end, write_end = os.pipe()
        try:
            self.process = subprocess.Popen(
                [*command, "--control", str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=subprocess.STDOUT,
                env=env,
            )
        finally:
            os.close(write_end)
            theirs.close()
        self._log = pipes.add(read_end, self.output)

    def request(self, op: str, fds: tuple[int, ...] = (), **fields: Any) -> dict[str, Any]:
        with self._lock:
            if self._gone is None:
                try:
                    self._socket.settimeout(ANSWER_WITHIN)
                    send(self._socket, {"op": op, **fields}, fds)
                    answer = receive(self._socket)
                except (OSError, ValueError):
                    answer = None
                if answer is not None:
                    return answer[0]
                # A late answer would be read as the next request's: no more requests.
                self._gone = self._why_gone()
                self._socket.close()
        raise SandboxGone(self._gone)

    def _why_gone(self) -> str:
        status = self.process.poll()
        self._log.pump()
        said = self.output.text().strip().splitlines()[-3:]
        how = "stopped answering" if status is None else f"ended (status {status})"
        return f"the sandbox running the app {how}" + (f": {' '.join(said)}" if said else "")

    def close(self) -> None:
        """End the zygote and everything it started."""
        self._socket.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# Inside the sandbox ---------------------------------------------------------------


class _Host:
    def __init__(self, spec: AppSpec) -> None:
        self.spec = spec
        self.statuses: dict[int, int] = {}
        self.servers: set[int] = set()

    def handle(self, request: dict[str, Any], fds: list[int]) -> dict[str, Any]:
        self.reap()
        op = request["op"]
        if op == "serve":
            return {"pid": self.serve(request, fds)}
        pid = int(request.get("pid", 0))
        if op == "signal":
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, int(request["signal"]))
            return {}
        if op == "status":
            return {"status": self.statuses.get(pid)}
        if op == "stop":
            self.stop(pid)
            return {"status": self.statuses.get(pid)}
        if op == "reset":
            self.kill_all()
            return {}
        return {"error": f"unknown request {op!r}"}

    def serve(self, request: dict[str, Any], fds: list[int]) -> int:
        sock_fd, report_fd, log_fd, events_fd = fds
        spec = AppSpec(
            file=self.spec.file,
            module=self.spec.module,
            workdir=self.spec.workdir,
            env=dict(request.get("env") or {}),
            overrides=dict(request.get("overrides") or {}),
            processes=self.spec.processes,
        )
        try:
            pid = os.fork()  # may be refused: the job's process cap
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                run(spec, socket.socket(fileno=sock_fd), report_fd, log_fd, events_fd)
            except BaseException:  # said in the server's log, then gone
                with contextlib.suppress(Exception):
                    os.write(log_fd, traceback.format_exc().encode())
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)
        self.servers.add(pid)
        return pid

    def reap(self) -> None:
        """Collect every child that has ended: servers, and orphans adopted from them."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.servers:
                self.statuses[pid] = status

    def stop(self, pid: int) -> None:
        if pid not in self.servers or pid in self.statuses:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            _, self.statuses[pid] = os.waitpid(pid, 0)

    def kill_all(self) -> None:
        """Kill every descendant, and collect how the servers ended."""
        kill_tree(os.getpid())
        self.reap()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="grader.zygote")
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--file", type=Path, required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--preload", default="")
    parser.add_argument("--processes", type=int, default=None)
    args = parser.parse_args(argv)
    # Servers run as the same user: they must not read our memory or our socket.
    prctl(PR_SET_DUMPABLE, 0)
    prctl(PR_SET_CHILD_SUBREAPER, 1)
    for name in ["uvicorn", "psutil", *filter(None, args.preload.split(","))]:
        importlib.import_module(name)
    host = _Host(AppSpec(args.file, args.module, args.workdir, processes=args.processes))
    control = socket.socket(fileno=args.control)
    while True:
        try:
            message = receive(control)
        except (OSError, ValueError):
            break
        if message is None:
            break
        try:
            reply = host.handle(*message)
        except Exception as exc:  # a bad request must not end the sandbox
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        try:
            send(control, reply)
        except OSError:
            break
    host.kill_all()


if __name__ == "__main__":
    main()
