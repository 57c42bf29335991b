"""The zygote: inside the sandbox, it starts the student's servers when the checks ask.

It imports the heavy libraries (uvicorn, the exercise's preloads, what a server imports
as it starts: see serving.warm_up) once, then forks a server per request, so a fresh
server costs milliseconds. It never imports check code, so a server finds nothing in
its memory that the student may not see. The checks process drives it over a socket
pair: one JSON message each way per request (`send`, `receive`), the server's listening
socket, log and report pipe passed alongside a Serve (SCM_RIGHTS). Every request and
reply is a dataclass below, `{"kind": …, fields…}` on the wire (see `encode`,
`decode`); an unknown kind or field is refused, not guessed at:

    Serve(env, overrides)  fork a server                           → Served(pid)
    Signal(pid, signal)    send a signal to a server               → Done()
    Status(pid)            how a server ended (None while it runs) → Ended(status)
    Stop(pid)              kill a server's process group, reap it  → Ended(status)
    Reset()                kill everything below the zygote        → Done()
    (any request it could not carry out)                           → Failed(error)

To add an operation: its dataclass (with its reply) in the `Request` union, and its
branch in `_Host.handle` (mypy refuses a union member without one).

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
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, assert_never, cast

from grader import untrusted, wire
from grader.drain import Drain, Output
from grader.processes import PR_SET_CHILD_SUBREAPER, PR_SET_DUMPABLE, end_with, kill_tree, prctl
from grader.serving import AppSpec, run, warm_up

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


# The operations ---------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    pid: int
    """The server's pid, as the sandbox sees it."""


@dataclass(frozen=True)
class Ended:
    status: int | None
    """How the server ended, as waitpid says; None while it runs."""


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class Failed:
    error: str
    """Why the zygote could not carry the request out."""


Reply = Served | Ended | Done | Failed
R = TypeVar("R", Served, Ended, Done)


class _Request(Generic[R]):
    reply: ClassVar[type[Any]]
    """The reply it gets when the zygote carries it out."""


@dataclass(frozen=True)
class Serve(_Request[Served]):
    """Fork a server; its socket, report, log and events descriptors travel with it."""

    reply = Served
    env: dict[str, str]
    overrides: dict[str, Any]
    """Module-level names to override in the student's module (the check's settings)."""


@dataclass(frozen=True)
class Signal(_Request[Done]):
    reply = Done
    pid: int
    signal: int


@dataclass(frozen=True)
class Status(_Request[Ended]):
    reply = Ended
    pid: int


@dataclass(frozen=True)
class Stop(_Request[Ended]):
    reply = Ended
    pid: int


@dataclass(frozen=True)
class Reset(_Request[Done]):
    reply = Done


Request = Serve | Signal | Status | Stop | Reset
# Each by its kind on the wire: its class's name, in lower case.
REQUESTS: dict[str, type[Request]] = {c.__name__.lower(): c for c in typing.get_args(Request)}
REPLIES: dict[str, type[Reply]] = {c.__name__.lower(): c for c in typing.get_args(Reply)}

M = TypeVar("M")


def encode(message: Request | Reply) -> dict[str, Any]:
    """A request or reply as the wire carries it."""
    return {"kind": type(message).__name__.lower(), **wire.encode(message)}


def decode(table: dict[str, type[M]], data: dict[str, Any]) -> M:
    """A message of `table` (REQUESTS or REPLIES); wire.WireError for anything else."""
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in table:
        raise wire.WireError(f"unknown operation {kind!r:.40}")
    return wire.decode(table[kind], {k: v for k, v in data.items() if k != "kind"})


ANSWER_WITHIN = 15.0


class SandboxGone(Exception):
    """The zygote (and so the sandbox) has ended or stopped answering."""


class Refused(SandboxGone):
    """The zygote answered, but could not carry the request out (it said why)."""


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

    def request(self, request: _Request[R], fds: tuple[int, ...] = ()) -> R:
        """What the zygote answers to `request`: its reply, or Refused with the zygote's
        reason, or SandboxGone when it is gone or answers what it should not."""
        with self._lock:
            if self._gone is None:
                try:
                    self._socket.settimeout(ANSWER_WITHIN)
                    send(self._socket, encode(cast(Request, request)), fds)
                    answer = receive(self._socket)
                    if answer is not None:  # no reply carries descriptors: never keep one
                        for fd in answer[1]:
                            with contextlib.suppress(OSError):
                                os.close(fd)
                    # It runs beside the student's code: a reply of another kind, or with
                    # another field, is a zygote no longer ours.
                    reply = decode(REPLIES, answer[0]) if answer is not None else None
                except (OSError, ValueError):
                    reply = None
                if isinstance(reply, Failed):
                    raise Refused(f"the sandbox could not do it: {reply.error:.300}")
                if isinstance(reply, request.reply):
                    return cast(R, reply)
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

    def handle(self, request: Request, fds: list[int]) -> Reply:
        self.reap()
        match request:
            case Serve():
                return Served(self.serve(request, fds))
            case Signal(pid, number):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, number)
                return Done()
            case Status(pid):
                return Ended(self.statuses.get(pid))
            case Stop(pid):
                self.stop(pid)
                return Ended(self.statuses.get(pid))
            case Reset():
                self.kill_all()
                return Done()
            case _:
                assert_never(request)

    def serve(self, request: Serve, fds: list[int]) -> int:
        if len(fds) != 4:
            raise ValueError(f"a serve request comes with 4 descriptors, not {len(fds)}")
        sock_fd, report_fd, log_fd, events_fd = fds
        spec = AppSpec(
            file=self.spec.file,
            module=self.spec.module,
            workdir=self.spec.workdir,
            env=request.env,
            overrides=request.overrides,
            processes=self.spec.processes,
        )
        zygote = os.getpid()
        try:
            pid = os.fork()  # may be refused: the job's process cap
        except OSError:
            for fd in fds:
                os.close(fd)
            raise
        if pid == 0:  # pragma: no cover - the child never returns
            try:
                # A server whose zygote was killed (by the student's code, say) ends with
                # it: without a sandbox, whose namespace would end it, it would serve on.
                end_with(zygote)
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
    warm_up()
    host = _Host(AppSpec(args.file, args.module, args.workdir, processes=args.processes))
    control = socket.socket(fileno=args.control)
    while True:
        try:
            message = receive(control)
        except (OSError, ValueError):
            break
        if message is None:
            break
        payload, fds = message
        try:
            reply = host.handle(decode(REQUESTS, payload), fds)
        except Exception as exc:  # a bad request must not end the sandbox
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
            reply = Failed(f"{type(exc).__name__}: {exc}")
        try:
            send(control, encode(reply))
        except OSError:
            break
    host.kill_all()
    # Nothing is left to clean up: the interpreter's own teardown (tenths of a second
    # with FastAPI loaded) would only keep the checks waiting.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
