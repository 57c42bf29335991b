"""A course's own part: the modules its manifest names in `extensions`, and what they
register with the engine (backing services, the page of `make serve`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from grader import devserver, dist, services
from grader.errors import GraderError
from grader.manifest import MANIFEST, Kit
from tests.conftest import ROOT

COURSE = """title = "Queues"
extensions = ["course_ext"]

[[exercises]]
id = "queue"
title = "A queue"
file = "queue.py"
hints = ["Keep them in order."]
services = ["{service}"]
"""
EXTENSION = """
from grader import services

class Store:
    def __init__(self, sandbox):
        self.sandbox = sandbox
    def start(self): pass
    def stop(self): pass
    @property
    def env(self): return {"STORE_URL": "store://here"}

services.register(services.Kind("store", Store, "store-server", "store-server-pkg"))
"""


def course(tmp_path: Path, service: str) -> Kit:
    (tmp_path / MANIFEST).parent.mkdir(parents=True)
    (tmp_path / MANIFEST).write_text(COURSE.replace("{service}", service))
    (tmp_path / "course_ext.py").write_text(EXTENSION)
    sys.modules.pop("course_ext", None)
    return Kit.load(tmp_path)


def test_the_chat_course_names_its_own_package_and_it_registers_its_broker_and_page() -> None:
    kit = Kit.load(ROOT)
    assert kit.extensions == ("checks._chat",)
    kit.load_extensions()
    assert services.kind("redis").program == "redis-server"
    assert devserver.page_file() == ROOT / "checks" / "_chat" / "page.html"
    assert kit.extension_paths() == [ROOT / "checks" / "_chat"]
    assert ROOT / "checks" / "_chat" / "page.html" in kit.extension_sources()


def test_a_service_a_course_registers_is_installed_by_its_edition(tmp_path: Path) -> None:
    kit = course(tmp_path, "store")
    [kind] = dist.service_kinds(kit)
    assert (kind.name, kind.package) == ("store", "store-server-pkg")
    assert kind.make(None).env == {"STORE_URL": "store://here"}  # type: ignore[arg-type]
    workflow = dist.classroom_workflow(kit, ROOT / dist.CLASSROOM)
    assert "apt-get install -y -qq store-server-pkg" in workflow
    assert "redis" not in workflow


def test_a_service_no_extension_registers_is_refused_by_name(tmp_path: Path) -> None:
    kit = course(tmp_path, "queue-broker")
    with pytest.raises(GraderError, match="'queue-broker', which none of its extensions"):
        dist.service_kinds(kit)


@pytest.mark.parametrize("value", ['"checks._chat"', '["../evil"]', "[1]"])
def test_extensions_must_be_a_list_of_module_names(tmp_path: Path, value: str) -> None:
    (tmp_path / MANIFEST).parent.mkdir(parents=True)
    text = COURSE.replace('["course_ext"]', value).replace("{service}", "x")
    (tmp_path / MANIFEST).write_text(text)
    with pytest.raises(GraderError, match="extensions must be a list of module names"):
        Kit.load(tmp_path)
