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

from typing import TYPE_CHECKING

from grader.checks import Closed, Failure, Mismatch, Missing, ServerErrors, check
from grader.client import Client, LiveServer
from grader.services import free_port
from grader.source import Submission
from grader.streams import EventStream
from grader.timing import scaled
from grader.web import Response

if TYPE_CHECKING:
    from grader.plugin import Launcher

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
    # The plugin imports pytest; only the checks process, which runs it, pays for that.
    if name == "Launcher":
        from grader.plugin import Launcher

        return Launcher
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
