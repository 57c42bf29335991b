"""`make serve`: the student's app under uvicorn with auto-reload, and the course's page.

The page is the course's, not the student's: a course registers it (`use_page`) from
one of its manifest's `extensions`, and a thin ASGI wrapper answers GET / with it and
hands every other request (the endpoint included) to the student's app. Without a page
the app is served as it is. uvicorn calls `build_app` in its reloading worker process,
so student code never runs in the grader's own process here either.
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

ENV_FILE, ENV_MODULE, ENV_ENDPOINT, ENV_TITLE, ENV_PAGE = (
    "GRADER_SERVE_FILE",
    "GRADER_SERVE_MODULE",
    "GRADER_SERVE_ENDPOINT",
    "GRADER_SERVE_TITLE",
    "GRADER_SERVE_PAGE",
)

_page: Path | None = None


def use_page(path: Path) -> None:
    """Serve `path` at / beside the student's app: an HTML file in which `__ENDPOINT__`
    becomes the exercise's route (a JSON string) and `__TITLE__` its title."""
    global _page
    _page = path


def page_file() -> Path | None:
    """The page a course registered, if any."""
    return _page


def page(template: Path, endpoint: str, title: str) -> bytes:
    html = template.read_text(encoding="utf-8")
    return html.replace("__ENDPOINT__", json.dumps(endpoint)).replace("__TITLE__", title).encode()


def build_app() -> ASGIApp:
    """The ASGI app uvicorn serves: the course's page at /, the student's app everywhere else."""
    file = Path(os.environ[ENV_FILE])
    sys.path.insert(0, str(file.parent))
    try:
        student = import_app(AppSpec(file=file, module=os.environ[ENV_MODULE], workdir=file.parent))
    except CouldNotStart as exc:
        print(f"\n  ✗ {exc.message}\n  {exc.detail}\n  Fix it and save: the server reloads.\n")
        raise SystemExit(1) from None
    if not os.environ.get(ENV_PAGE):
        return student
    body = page(Path(os.environ[ENV_PAGE]), os.environ[ENV_ENDPOINT], os.environ[ENV_TITLE])

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
