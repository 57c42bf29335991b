"""Real backing services that checks need beside the student's app (a Redis broker).

Each service is a private process on a free loopback port, started and stopped by
the check that uses it; it never relies on one already running on the machine. The
submission talks to it, so it runs in the job's sandbox like the submission itself.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

from grader.processes import kill_tree
from grader.sandbox import Sandbox


class ServiceMissing(Exception):
    """A program the checks need is not installed; the message says how to get it."""


def free_port() -> int:
    """A free loopback port outside the kernel's range for outgoing connections.

    A service that is stopped and restarted must get its port back: a port from the
    ephemeral range could meanwhile be taken by any outgoing connection.
    """
    low = 32768
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    for _ in range(50):
        port = random.randrange(20000, max(low, 20001))
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:  # a crowded machine: any free port will do
        sock.bind(("127.0.0.1", 0))
        found: int = sock.getsockname()[1]  # (host, port): socket types it Any
        return found


class RedisServer:
    """A throwaway redis-server: no persistence, loopback only, stoppable and restartable."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, within: float = 10.0) -> None:
        """Start (or restart, on the same port) and wait until it answers PING."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise ServiceMissing(
                "redis-server is not installed: `make setup` installs it on Debian/Ubuntu when "
                "run as root; otherwise `sudo apt-get install redis-server` or `brew install redis`"
            )
        command = [
            exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.sandbox.workdir),
            # A client may not rewrite the server's files, even outside a sandbox.
            "--rename-command",
            "CONFIG",
            "",
            # Nor make it hold the machine's memory (where no cgroup caps the job): no
            # value over 16 MiB, and writes refused past 64 MiB in all.
            "--proto-max-bulk-len",
            "16mb",
            "--maxmemory",
            "64mb",
            "--maxmemory-policy",
            "noeviction",
        ]
        self.proc = subprocess.Popen(
            self.sandbox.command(command),
            env=self.sandbox.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + within
        while self.command("PING") != "+PONG":
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill it at once, as a crash or a network partition would.

        In a sandbox, redis-server is below the process we started: it is killed itself,
        and waited for, so that it serves nothing once stop() has returned.
        """
        if self.proc is None:
            return
        kill_tree(self.proc.pid, including=True)
        self.proc.wait()
        self.proc = None

    def hold_writes(self, seconds: float) -> None:
        """Leave every PUBLISH unanswered until release() or for `seconds`, as a broker
        that is overloaded or far away would.

        CLIENT PAUSE WRITE (Redis 6.2) holds commands that write or publish and lets
        subscriptions and the checks' own reads through. An older Redis (Ubuntu 22.04's
        6.0) knows only a pause of every command, which release() cannot end early."""
        millis = str(max(1, round(seconds * 1000)))
        reply = self.command("CLIENT", "PAUSE", millis, "WRITE")
        if reply is not None and reply.startswith("-"):  # no WRITE mode before 6.2
            reply = self.command("CLIENT", "PAUSE", millis)
        if reply != "+OK":
            raise RuntimeError(f"redis-server refused CLIENT PAUSE: {reply}")

    def release(self) -> None:
        """End hold_writes() (where Redis knows CLIENT UNPAUSE; otherwise it ends on time)."""
        self.command("CLIENT", "UNPAUSE")

    def received(self) -> int:
        """How many bytes Redis has received from its clients since it started."""
        reply = self.command("INFO", "stats") or ""
        for line in reply.splitlines():
            if line.startswith("total_net_input_bytes:"):
                return int(line.split(":", 1)[1])
        return 0

    def command(self, *words: str) -> str | None:
        """Send one inline command; the reply's first line, or the whole of a bulk reply
        (INFO's), or None if Redis is unreachable."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(" ".join(words).encode() + b"\r\n")
                reply = b""
                while b"\r\n" not in reply:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    reply += chunk
                head, _, body = reply.partition(b"\r\n")
                if not head.startswith(b"$") or int(head[1:]) < 0:
                    return head.decode()
                while len(body) < int(head[1:]):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                return body[: int(head[1:])].decode(errors="replace")
        except (OSError, ValueError):
            return None
