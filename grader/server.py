"""A running copy of the student's app, as the checks process holds it.

The server itself is forked by the zygote inside the sandbox (see `zygote.py` and
`serving.py`). What it needs from out here is made here and handed in: a listening
socket bound on the job's loopback before the server exists (so clients can connect at
once, and the port can never be taken in between), a pipe for its output and one for
its witness's events (read by the checks process as they fill, and kept bounded: see
`drain.py`; no file the sandbox holds is on the host's disk), and a pipe on which it
says whether the student's module imported.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import time
from pathlib import Path
from typing import Any

import psutil

from grader import caps, drain, untrusted
from grader.evidence import Event, Waiting
from grader.serving import CouldNotStart
from grader.zygote import SandboxGone, Serve, Signal, Status, Stop, Zygote

__all__ = ["AppServer", "CouldNotStart", "describe_exit"]


class AppServer:
    """One copy of the student's app on 127.0.0.1:<port>."""

    def __init__(
        self,
        zygote: Zygote,
        events_path: Path,
        *,
        pipes: drain.Drain,
        file_name: str,
        overrides: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        job_caps: caps.JobCaps | None = None,
        startup_timeout: float = 5.0,
    ) -> None:
        self.zygote = zygote
        self.events_path = events_path
        """Where the checks process keeps the witness's (checked) events, for the runner."""
        self.pipes = pipes
        self.file_name = file_name
        self.overrides = overrides or {}
        self.env = env or {}
        self.caps = job_caps or caps.JobCaps()
        self.startup_timeout = startup_timeout
        self.pid = 0
        """The server's pid as the sandbox sees it (see `host_pid`)."""
        self.port = 0
        self._status: int | None = None
        self._output = drain.Output(caps.OUTPUT_PER_PROCESS, self._flooded)
        self._events = drain.Events()
        self._read: list[drain.Pipe] = []

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def start(self) -> None:
        """Start the server and wait until the module is imported; raise CouldNotStart."""
        # IPPROTO_TCP, not 0: only then does asyncio turn Nagle's algorithm off on accepted
        # connections, without which small frames wait up to 40 ms.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        self.port = sock.getsockname()[1]
        read_end, write_end = os.pipe()
        log_read, log_fd = os.pipe()
        events_read, events_fd = os.pipe()
        try:
            self._events.fd = _new_file(self.events_path)
        except OSError as exc:
            for fd in (read_end, write_end, log_read, log_fd, events_read, events_fd):
                os.close(fd)
            sock.close()
            raise CouldNotStart(f"could not create the server's events file: {exc}") from None
        try:
            served = self.zygote.request(
                Serve(env=self.env, overrides=self.overrides),
                (sock.fileno(), write_end, log_fd, events_fd),
            )
        except SandboxGone as exc:
            for fd in (read_end, log_read, events_read):
                os.close(fd)
            self._events.ended()
            raise CouldNotStart(str(exc)) from None
        finally:
            # The server owns them now: if it dies, connections are refused at once.
            for fd in (write_end, log_fd, events_fd):
                os.close(fd)
            sock.close()
        self.pid = served.pid
        # Read from now on (the pid is known, should it have to be stopped for flooding).
        self._read = [
            self.pipes.add(log_read, self._output),
            self.pipes.add(events_read, self._events),
        ]
        try:
            report = _read_report(read_end, self.startup_timeout)
        finally:
            os.close(read_end)
        if report is None:  # no word in time: the import hangs
            self.stop()
            raise CouldNotStart(
                f"{self.file_name} did not finish importing within {self.startup_timeout:g} s",
                "Is there an endless loop or a blocking call at the top level of the module?",
            )
        if not report:  # the pipe closed without a word: the process ended
            self.stop()
            raise CouldNotStart(
                f"the server {self.exit_reason() or 'ended'} while importing {self.file_name}"
            )
        if "error" in report:
            self.stop()
            raise CouldNotStart(str(report["error"]), str(report.get("detail", "")))

    def exit_reason(self) -> str | None:
        """None while the server runs; otherwise how it ended, in words."""
        if self._status is None and self.pid:
            try:
                self._status = self.zygote.request(Status(self.pid)).status
            except SandboxGone:
                return "ended with the sandbox"
        if self._status is None:
            return None
        if self._output.flooded:
            return FLOODED
        return describe_exit(self._status, self.caps.events())

    def _flooded(self) -> None:
        """It printed more than it may: stop it, as RLIMIT_FSIZE stopped it when its
        output was a file. From the drain's thread: by its pid, so as not to wait on the
        zygote; through the zygote only where that pid cannot be found."""
        pid = self.host_pid
        with contextlib.suppress(ProcessLookupError, PermissionError, SandboxGone):
            if pid:
                os.killpg(pid, signal.SIGKILL)
            elif self.pid:
                self.zygote.request(Signal(self.pid, int(signal.SIGKILL)))

    def terminate(self, within: float) -> bool:
        """SIGTERM, as a deploy stops a server; whether it exited by itself within `within` s."""
        if not self.pid or self._status is not None:
            return True
        try:
            self.zygote.request(Signal(self.pid, int(signal.SIGTERM)))
        except SandboxGone:
            return False
        deadline = time.monotonic() + within
        while self.exit_reason() is None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def log(self) -> str:
        """What it printed so far: the first and last part of it, if it printed a lot."""
        if self._read:
            self._read[0].pump()
        return self._output.text()

    def events(self) -> list[Event]:
        """What the grader's witness in the server reported (see witness.py)."""
        if self._read:
            self._read[1].pump()
        return list(self._events.found)

    def ask_where_waiting(self) -> int | None:
        """Have the server report where its tasks are waiting (a `waiting` event); how
        many such reports it had made before, or None if it cannot be asked."""
        if not self.pid or self.exit_reason() is not None:
            return None
        before = self._waiting_reports()
        try:
            self.zygote.request(Signal(self.pid, int(signal.SIGUSR2)))
        except SandboxGone:
            return None
        return before

    def await_where_waiting(self, before: int, deadline: float) -> None:
        """Until the server has answered ask_where_waiting() (or `deadline`, monotonic)."""
        while time.monotonic() < deadline:
            if self._waiting_reports() > before:
                return
            time.sleep(0.01)

    def _waiting_reports(self) -> int:
        return sum(isinstance(e, Waiting) for e in self.events())

    def stop(self) -> None:
        """Kill the server and its process group; safe to call twice."""
        if not self.pid or self._status is not None:
            return
        try:
            self._status = self.zygote.request(Stop(self.pid)).status
        except SandboxGone:
            self._status = None
        if self._status is None:  # gone with the sandbox, or an answer that makes no sense
            self._status = signal.SIGKILL

    @property
    def host_pid(self) -> int:
        """The server's pid as the checks process sees it (0 if it has gone)."""
        try:
            below = psutil.Process(self.zygote.process.pid).children(recursive=True)
        except psutil.Error:
            return 0
        for proc in below:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("NSpid:") and int(line.split()[-1]) == self.pid:
                    return proc.pid
        return 0


def _new_file(path: Path) -> int:
    """A new file, never one found in its place (a link planted to redirect it)."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)


FLOODED = f"was stopped because it printed more than {caps.size(caps.OUTPUT_PER_PROCESS)} of output"


def describe_exit(status: int, events: caps.Events | None = None) -> str:
    status &= 0xFFFF  # as waitpid gives it, whatever the zygote said
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXFSZ:  # a file it wrote itself went past RLIMIT_FSIZE
            return FLOODED
        if sig == signal.SIGKILL:
            if events and events.out_of_memory:
                return (
                    "was killed because the submission used more than "
                    f"{caps.size(caps.MEMORY_PER_JOB)} of memory"
                )
            return "was killed"
        try:
            return f"was killed by signal {signal.Signals(sig).name}"
        except ValueError:  # no such signal: the status did not come from the kernel
            return f"was killed by signal {sig}"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _read_report(fd: int, timeout: float) -> dict[str, Any] | None:
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
        if len(data) > 1 << 20:
            break
    try:  # student code runs while the pipe is open: trust nothing that comes through
        report = untrusted.loads(data, 1 << 20)
    except ValueError:
        return {"error": "the app wrote something unexpected to the grader's pipe"}
    return report if isinstance(report, dict) and report else {}
