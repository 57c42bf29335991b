"""A lesson-agnostic grader for WebSocket exercises; checks import their API from here."""

from grader.checks import Failure, Mismatch, Missing, ServerErrors, check
from grader.client import Client, LiveServer

__all__ = ["Client", "Failure", "LiveServer", "Mismatch", "Missing", "ServerErrors", "check"]
