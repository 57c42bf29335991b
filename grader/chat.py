"""`make serve`: the student's app under uvicorn with auto-reload, and the kit's chat page.

The page is the kit's, not the student's: a thin ASGI wrapper answers GET / with it
and hands every other request (the WebSocket endpoint included) to the student's app.
uvicorn calls `build_app` in its reloading worker process, so student code never runs
in the grader's own process here either.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grader.serving import AppSpec, CouldNotStart, import_app

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

PAGE = Path(__file__).with_name("static") / "chat.html"
ENV_FILE, ENV_MODULE, ENV_ENDPOINT, ENV_TITLE = (
    "GRADER_SERVE_FILE",
    "GRADER_SERVE_MODULE",
    "GRADER_SERVE_ENDPOINT",
    "GRADER_SERVE_TITLE",
)


def page(endpoint: str, title: str) -> bytes:
    html = PAGE.read_text(encoding="utf-8")
    return html.replace("__ENDPOINT__", json.dumps(endpoint)).replace("__TITLE__", title).encode()


def build_app() -> ASGIApp:
    """The ASGI app uvicorn serves: the chat page at /, the student's app everywhere else."""
    file = Path(os.environ[ENV_FILE])
    sys.path.insert(0, str(file.parent))
    try:
        student = import_app(AppSpec(file=file, module=os.environ[ENV_MODULE], workdir=file.parent))
    except CouldNotStart as exc:
        print(f"\n  ✗ {exc.message}\n  {exc.detail}\n  Fix it and save: the server reloads.\n")
        raise SystemExit(1) from None
    body = page(os.environ[ENV_ENDPOINT], os.environ.get(ENV_TITLE, "Chat"))

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "GET":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/html; charset=utf-8"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        await student(scope, receive, send)

    return app
