"""A lesson-agnostic grader for WebSocket exercises.

Check files import everything they use from here, and from nowhere else in the engine:

    check                  marks an async function as a check (grader.checks)
    LiveServer, Client     the running app and real WebSocket clients (grader.client)
    Chat                   a lesson's paths and formats: join, say, marker (grader.conversation)
    Failure, Mismatch, Missing, Closed, ServerErrors
                           the ways a check fails, each with `help=` (grader.checks)
    Launcher, RedisServer  more servers for one check, and a Redis of its own
    free_port, scaled      a port nobody listens on; seconds stretched by GRADER_TIME_SCALE
    Submission             the student's file, for the lesson's rules no behaviour shows
"""

from typing import TYPE_CHECKING

from grader.checks import Closed, Failure, Mismatch, Missing, ServerErrors, check
from grader.client import Client, LiveServer
from grader.conversation import Chat
from grader.services import RedisServer, free_port
from grader.source import Submission
from grader.timing import scaled

if TYPE_CHECKING:
    from grader.plugin import Launcher

__all__ = [
    "Chat",
    "Client",
    "Closed",
    "Failure",
    "Launcher",
    "LiveServer",
    "Mismatch",
    "Missing",
    "RedisServer",
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
