"""Serving the student's app: what runs in a server process, forked by the zygote.

The process imports the student's module, reports on a pipe whether that worked, then
serves the app with uvicorn on a listening socket it was handed. Its output goes to a
pipe the checks read; it may keep nothing else of its parent's open files.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import resource
import signal
import socket
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from grader import caps
from grader.processes import PR_SET_DUMPABLE, prctl
from grader.witness import ASGI_ERROR, REPORTED, Witness

if TYPE_CHECKING:
    from starlette.types import ASGIApp


class CouldNotStart(Exception):
    """The student's module could not be imported or served; the message says why."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


@dataclass
class AppSpec:
    """What to serve: the student's file, imported under `module`, exposing `attribute`."""

    file: Path
    module: str
    workdir: Path
    attribute: str = "app"
    env: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, object] = field(default_factory=dict)
    """Module-level names to set after import (constants a check wants small)."""
    processes: int | None = None
    """An RLIMIT_NPROC where no cgroup caps the job's processes."""


def run(spec: AppSpec, sock: socket.socket, report_fd: int, log_fd: int, events_fd: int) -> None:
    """Become the server; never returns."""  # pragma: no cover - runs in a forked child
    os.setsid()
    # SIGPIPE stays ignored, as Python sets it: a write to a vanished client must raise,
    # not kill the server.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    keep = sorted({sock.fileno(), report_fd, events_fd})
    for low, high in zip([2, *keep], [*keep, _max_fd()], strict=True):
        os.closerange(low + 1, high)
    sys.stdout = open(1, "w", buffering=1, closefd=False)
    sys.stderr = open(2, "w", buffering=1, closefd=False)
    # The grader's own descriptors, out of the way of the app's: what the witness sees is
    # reported even when the app silences its own output.
    witness = Witness(_aside(1, keep=True), _aside(events_fd), str(spec.file))
    witness.install()
    # The zygote hides itself from its servers; a server need not hide from the checks.
    prctl(PR_SET_DUMPABLE, 1)
    caps.limit_process(spec.processes)
    os.environ.update(spec.env)
    os.chdir(spec.workdir)
    sys.path.insert(0, str(spec.file.parent))

    def report(payload: dict[str, object]) -> None:
        os.write(report_fd, json.dumps(payload).encode() + b"\n")
        os.close(report_fd)

    try:
        app = import_app(spec)
    except CouldNotStart as exc:
        report({"error": exc.message, "detail": exc.detail})
        os._exit(1)
    with contextlib.suppress(OSError):
        witness.read_source(spec.file.read_text(errors="replace"), spec.overrides)
    witness.routes(app)
    report({"ok": True})

    import uvicorn

    config = uvicorn.Config(
        witness.app(app), log_level="warning", access_log=False, lifespan="auto"
    )
    logging.getLogger("uvicorn.error").addFilter(not_reported)
    server = uvicorn.Server(config)

    async def serve() -> None:
        witness.watch(asyncio.get_running_loop())
        await server.serve(sockets=[sock])

    asyncio.run(serve())
    sys.stdout.flush()
    os._exit(0)


def warm_up() -> None:
    """Import, once in the zygote, what every server would import for itself as it starts:
    uvicorn's protocols and, where FastAPI is preloaded, what its first route with a
    parameter brings in. A forked server then starts warm, and no first import holds
    its event loop. Nothing of the student's runs here."""
    import uvicorn

    uvicorn.Config(_no_app, log_level="warning", access_log=False, lifespan="auto").load()
    if "fastapi" in sys.modules:
        from fastapi import FastAPI, WebSocket

        async def endpoint(websocket: WebSocket, name: str) -> None:  # pragma: no cover
            await websocket.close()

        FastAPI().add_api_websocket_route("/{name}", endpoint)


async def _no_app(scope: object, receive: object, send: object) -> None:  # pragma: no cover
    """What warm_up configures uvicorn with: it never serves."""


def not_reported(record: logging.LogRecord) -> bool:
    """Whether uvicorn's log `record` is news: the witness logs, on its own descriptor,
    each exception it reports, and once is enough; one it did not report is kept."""
    error = record.exc_info[1] if record.exc_info else None
    return not (record.getMessage().startswith(ASGI_ERROR) and getattr(error, REPORTED, False))


def _aside(fd: int, keep: bool = False) -> int:
    """`fd` again, numbered high and closed on exec (and the original closed)."""
    # High, but within the descriptor limit (macOS's default is 256).
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, min(256, _max_fd() // 2))
    if not keep:
        os.close(fd)
    return moved


def _max_fd() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if 0 < soft < 1 << 20 else 65536


def import_app(spec: AppSpec) -> ASGIApp:  # pragma: no cover - runs in a sandboxed child
    name = spec.file.name
    module_spec = importlib.util.spec_from_file_location(spec.module, spec.file)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[spec.module] = module
    try:
        module_spec.loader.exec_module(module)
    except SyntaxError as exc:
        where = f" at line {exc.lineno}" if exc.lineno else ""
        raise CouldNotStart(
            f"{name} has a syntax error{where}: {exc.msg}",
            (exc.text or "").rstrip(),
        ) from None
    except SystemExit as exc:
        raise CouldNotStart(f"{name} called exit({exc.code!r}) while being imported") from None
    except MemoryError:
        raise CouldNotStart(
            f"{name} used more than {caps.size(caps.MEMORY_PER_PROCESS)} of memory while "
            "being imported"
        ) from None
    except BaseException as exc:  # any failure is the student's to see
        said = str(exc) if len(str(exc)) <= 300 else f"{str(exc)[:300]}…"
        raise CouldNotStart(
            f"importing {name} raised {type(exc).__name__}: {said}",
            student_traceback(exc, spec.file),
        ) from None
    for setting, value in spec.overrides.items():
        setattr(module, setting, value)
    app = getattr(module, spec.attribute, None)
    if app is None:
        raise CouldNotStart(
            f"{name} has no variable named `{spec.attribute}`",
            f"Define `{spec.attribute} = FastAPI()` at the top level of the module.",
        )
    if not callable(app):
        raise CouldNotStart(
            f"`{spec.attribute}` in {name} is a {type(app).__name__}, not an ASGI app",
            f"`{spec.attribute}` should be the FastAPI() instance.",
        )
    return cast("ASGIApp", app)  # student code: callable is as much as can be checked


def student_traceback(exc: BaseException, file: Path) -> str:
    """The traceback cut down to the frames in the student's own file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(file)]
    lines = [f"  line {f.lineno}, in {f.name}: {(f.line or '').strip()}" for f in frames]
    return "\n".join(lines)
