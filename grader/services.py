"""Real backing services an exercise needs beside the student's app (a broker, a store).

The engine knows none by name: a course registers each kind it uses (`register`) from
one of its manifest's `extensions`, and an exercise names them (`services = [...]`).
Each service is a private process on a free loopback port, started and stopped by the
check that uses it (or by `make serve`); it never relies on one already running on the
machine. The submission talks to it, so it runs in the job's sandbox like the submission.
"""

from __future__ import annotations

import random
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from grader.errors import GraderError
from grader.sandbox import Sandbox
from grader.serving import CouldNotStart


class ServiceMissing(CouldNotStart):
    """A program the checks need is not installed; the message says how to get it.
    The check that needed it could not run (it is not the submission's fault)."""


class Service(Protocol):
    """A running backing service, as `make serve` and the checks drive it."""

    def start(self) -> None:
        """Start it and wait until it answers; ServiceMissing if its program is absent."""

    def stop(self) -> None:
        """Kill it at once; nothing of it serves once this returns."""

    @property
    def env(self) -> dict[str, str]:
        """What the app is told to reach it by (say {"BROKER_URL": "…"})."""


@dataclass(frozen=True)
class Kind:
    """A kind of service a course registers: how to make one, and what it needs."""

    name: str
    """How the manifest's `services` names it."""
    make: Callable[[Sandbox], Service]
    """A stopped service whose processes run in that sandbox."""
    program: str
    """The executable it runs, looked for on PATH (`make doctor` reports it)."""
    package: str
    """The Debian/Ubuntu package that installs `program` (the edition's setup, CI)."""


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> None:
    """Make `kind` known by its name (a course's extension calls this when imported)."""
    _KINDS[kind.name] = kind


def known() -> tuple[Kind, ...]:
    return tuple(_KINDS.values())


def kind(name: str) -> Kind:
    """The registered kind called `name`; a GraderError naming those there are if none."""
    found = _KINDS.get(name)
    if found is None:
        there = ", ".join(sorted(_KINDS)) or "none"
        raise GraderError(
            f"the manifest names the service {name!r}, which none of its extensions "
            f"registers (registered: {there})"
        )
    return found


def require(program: str, package: str) -> str:
    """The path of `program`, or ServiceMissing saying how to install it."""
    found = shutil.which(program)
    if found is None:
        raise ServiceMissing(
            f"{program} is not installed: `make setup` installs it on Debian/Ubuntu when "
            f"run as root; otherwise `sudo apt-get install {package}` (or your system's "
            "package manager)"
        )
    return found


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
