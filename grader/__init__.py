"""A lesson-agnostic grader for web-app exercises (WebSocket and HTTP).

Check files import everything they use from here, and from nowhere else in the engine:

    check                  marks an async function as a check (grader.checks)
    LiveServer, Client     the running app and real WebSocket clients (grader.client)
    Response, EventStream  an HTTP request's answer, a Server-Sent Events stream
    Failure, Mismatch, Missing, Closed, ServerErrors
                           the ways a check fails, each with `help=` (grader.checks)
    Launcher               more servers for one check (grader.plugin)
    free_port, scaled      a port nobody listens on; seconds stretched by GRADER_TIME_SCALE
    Submission             the student's file, for the lesson's rules no behaviour shows

What a lesson adds (its conventions, backing services, `make serve` page, advice)
lives in the course's own package, named in its manifest's `extensions`.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.checks import Closed, Failure, Mismatch, Missing, ServerErrors, check
    from grader.client import Client, LiveServer
    from grader.plugin import Launcher
    from grader.services import free_port
    from grader.source import Submission
    from grader.streams import EventStream
    from grader.timing import scaled
    from grader.web import Response

# Where each name lives, imported on first use: the checks process needs them all, but
# the grader's command line (python -m grader) and the zygote need none, and importing
# them (websockets, asyncio, pytest) would slow every verdict's start.
_HOMES = {
    "check": "grader.checks",
    "Closed": "grader.checks",
    "Failure": "grader.checks",
    "Mismatch": "grader.checks",
    "Missing": "grader.checks",
    "ServerErrors": "grader.checks",
    "Client": "grader.client",
    "LiveServer": "grader.client",
    "EventStream": "grader.streams",
    "Launcher": "grader.plugin",
    "Response": "grader.web",
    "free_port": "grader.services",
    "Submission": "grader.source",
    "scaled": "grader.timing",
}

__all__ = [
    "Client",
    "Closed",
    "EventStream",
    "Failure",
    "Launcher",
    "LiveServer",
    "Mismatch",
    "Missing",
    "Response",
    "ServerErrors",
    "Submission",
    "check",
    "free_port",
    "scaled",
]


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'grader' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # once found, found directly
    return value
