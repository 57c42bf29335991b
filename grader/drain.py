"""What the sandbox writes, read through pipes: none of it reaches the disk unbounded.

A server's output and its witness's events once went to files on the host, in the job's
scratch folder. A file can be made to take disk without being written (fallocate with
FALLOC_FL_KEEP_SIZE reserves a gigabyte past any RLIMIT_FSIZE), and whatever read a
flooded file back held all of it in memory. A pipe has no disk to reserve: the checks
process reads each one as it fills and keeps a bounded part of it.

    Output   the first HEAD and last TAIL bytes, and how many there were in all; past
             `cap`, the writer is stopped (a server may print 16 MiB, as before)
    Events   the witness's JSON lines, each read as untrusted, at most MAX_EVENTS of
             them; each valid one is also appended, as the grader writes it, to a file
             in scratch, so that events outlive a checks process killed at the time
             bound (the runner reads them there), within PERSISTED bytes a server

One thread (made when the checks process starts, before any student code runs, so a
job that used up its process cap cannot stop it) reads every pipe; a reader that wants
what is there at once (a check reading a server's log) pumps the pipe itself, so it
sees everything written before it asked, as it did with a file.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading
import traceback
from collections.abc import Callable

from grader import evidence

HEAD = 64 << 10
TAIL = 256 << 10  # the student is shown 24 lines; this is for the diagnosis, bounded
CHUNK = 64 << 10
EVENT_BYTES = 4 << 20  # what is parsed of one server's events, as before from its file
PERSISTED = 1 << 20  # what of one server's events goes to disk, for the runner


class Sink:
    def feed(self, data: bytes) -> None:
        raise NotImplementedError

    def ended(self) -> None:
        """The pipe is closed at the other end (every writer has gone)."""


class Output(Sink):
    """A server's output: the first HEAD and the last TAIL bytes, and a count of all."""

    def __init__(
        self,
        cap: int | None = None,
        on_flood: Callable[[], None] | None = None,
        head: int = HEAD,
        tail: int = TAIL,
    ) -> None:
        self.cap = cap
        self.on_flood = on_flood
        self.head_size, self.tail_size = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.flooded = False
        """Whether more than `cap` bytes came: the writer was told to stop (on_flood)."""

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        free = self.head_size - len(self.head)
        if free > 0:
            self.head += data[:free]
            data = data[free:]
        self.tail += data[-self.tail_size :]
        del self.tail[: max(0, len(self.tail) - self.tail_size)]
        if self.cap is not None and self.total > self.cap and not self.flooded:
            self.flooded = True
            if self.on_flood is not None:
                self.on_flood()

    def text(self) -> str:
        skipped = self.total - len(self.head) - len(self.tail)
        head = self.head.decode(errors="replace")
        tail = self.tail.decode(errors="replace")
        if skipped <= 0:
            return head + tail
        # Cut at line ends, so that no half line is read as a line of its own.
        head, _, _ = head.rpartition("\n") if "\n" in head else (head, "", "")
        _, _, tail = tail.partition("\n") if "\n" in tail else ("", "", tail)
        return f"{head}\n… ({skipped} bytes of output not kept)\n{tail}"


class Events(Sink):
    """A server's events, parsed as they come; each valid one also persisted to `fd`."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = fd
        self.reading = evidence.Reading()
        self.found = self.reading.events
        """The events read (at most MAX_EVENTS); `reading.refused` counts the lines that
        were not one."""
        self._partial = bytearray()
        self._read = 0
        self._persisted = 0

    def feed(self, data: bytes) -> None:
        if self._read >= EVENT_BYTES:
            return  # drained and dropped: the writer must never wait on the grader
        data = data[: EVENT_BYTES - self._read]
        self._read += len(data)
        *lines, rest = (bytes(self._partial) + data).split(b"\n")
        self._partial = bytearray(rest[: evidence.MAX_EVENT + 1])  # a longer one is refused
        for line in lines:
            event = self.reading.add(line)
            if event is not None:
                self._persist(event)

    def _persist(self, event: evidence.Event) -> None:
        if self.fd is None:
            return
        line = evidence.encode(event)
        if self._persisted + len(line) > PERSISTED:
            return
        self._persisted += len(line)
        with contextlib.suppress(OSError):
            os.write(self.fd, line)

    def ended(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Pipe:
    """The read end of a pipe and where what comes through it goes."""

    def __init__(self, fd: int, sink: Sink) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.sink = sink
        self.lock = threading.Lock()
        self.at_end = False

    def pump(self) -> None:
        """Read all there is now (nothing blocks)."""
        with self.lock:
            while not self.at_end:
                try:
                    data = os.read(self.fd, CHUNK)
                except BlockingIOError:
                    return
                except OSError:
                    data = b""
                if not data:
                    self.at_end = True
                    self.sink.ended()
                    return
                self.sink.feed(data)


class Drain:
    """The one thread that reads every pipe of the checks process."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, name="drain", daemon=True)
        self._thread.start()

    def add(self, fd: int, sink: Sink) -> Pipe:
        """Read `fd` from now on (the Drain closes it at its end)."""
        pipe = Pipe(fd, sink)
        self._selector.register(fd, selectors.EVENT_READ, pipe)
        return pipe

    def _run(self) -> None:
        while True:
            # Bounded, so that a pipe registered while it waits is seen in time anyway.
            for key, _ in self._selector.select(timeout=0.2):
                pipe: Pipe = key.data
                try:
                    pipe.pump()
                except Exception:  # what was read is lost; the pipes must still drain
                    traceback.print_exc()
                if pipe.at_end:  # only this thread closes: a number is never reused early
                    self._selector.unregister(pipe.fd)
                    os.close(pipe.fd)
