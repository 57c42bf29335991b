"""The broker of the scale-out exercise: a throwaway redis-server, registered as the
service "redis" (an exercise with `services = ["redis"]` gets one under `make serve`,
its URL in REDIS_URL), and the `redis_server` fixture that gives a check its own.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from grader import services
from grader.processes import kill_tree
from grader.sandbox import Sandbox
from grader.services import free_port


class RedisServer:
    """A throwaway redis-server: no persistence, loopback only, stoppable and restartable."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url}

    def start(self, within: float = 10.0) -> None:
        """Start (or restart, on the same port) and wait until it answers PING."""
        exe = services.require("redis-server", "redis-server")
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


services.register(services.Kind("redis", RedisServer, "redis-server", "redis-server"))


@pytest.fixture
def redis_server(sandbox: Sandbox) -> Iterator[RedisServer]:
    """A private redis-server on a free loopback port (stop() and start() it at will)."""
    redis = RedisServer(sandbox)
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()
