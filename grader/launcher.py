"""The `launch` fixture's object: copies of the student's app for one check."""

from __future__ import annotations

import time

from grader import loopwatch, quoting
from grader.checks import CheckSpec
from grader.client import LiveServer, Transcript
from grader.evidence import Blocked, Event
from grader.grading import Grading


class Launcher:
    """Starts copies of the student's app for one check; they share one transcript."""

    def __init__(self, grading: Grading, spec: CheckSpec) -> None:
        self.grading = grading
        self.spec = spec
        self.settings = spec.settings
        self.transcript = Transcript()
        self.servers: list[LiveServer] = []
        self.outputs: list[tuple[LiveServer, str, str | None]] = []
        """(server, output, how it ended) as the check ended, before clients were dropped."""
        self.events: list[Event] = []
        """What the witnesses in the servers saw, as the check ended."""
        self.caps_before = grading.sandbox.caps.events()
        """What the job's caps had stopped before this check."""

    def __call__(self, env: dict[str, str] | None = None, label: str | None = None) -> LiveServer:
        """A running copy of the app; `env` adds environment variables (a service's URL)."""
        app = self.grading.new_server(self.settings, env)
        check = self.spec.check
        if check.hidden:  # before it runs: a run cut short must know it too
            loopwatch.note_hidden(app.events_path)
        live = LiveServer(app, self.transcript, label)
        self.servers.append(live)
        app.start()
        # Every block is told to the check whose server it was in: a hidden check's
        # must never show in a visible check's words.
        self.grading.loopwatch.watch(app, app.host_pid, check.name, check.hidden)
        return live

    def finish(self, failed: bool = False) -> None:
        """Note what every server said and saw, then drop the clients (which may make more
        noise). If the check failed, first ask the servers where they are waiting."""
        if failed:
            # Every server is asked at once, and all answer within one shared half second.
            asked = [(live.app, live.app.ask_where_waiting()) for live in self.servers]
            deadline = time.monotonic() + 0.5
            for app, before in asked:
                if before is not None:
                    app.await_where_waiting(before, deadline)
        self.outputs = [(live, live.output(), live.app.exit_reason()) for live in self.servers]
        source = self.grading.source
        self.events = [
            quoting.ground(event, source) for live in self.servers for event in live.app.events()
        ]
        for live in self.servers:
            live.abort_clients()

    def stop(self) -> None:
        for live in self.servers:
            self.grading.loopwatch.unwatch(live.app)
            live.app.stop()
            # The last report of each block is its longest (see witness._watchdog).
            blocks = {e.since: e for e in live.app.events() if isinstance(e, Blocked)}
            self.grading.witnessed += [(self.spec.check.hidden, e) for e in blocks.values()]
