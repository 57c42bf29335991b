"""Plants links named like the files the grader writes next (server logs, the results
file) in every folder it can write to, pointing at the kit's own code.

Guarantee: the kit's files are unchanged and it scores 0, in the sandbox and in the
control (no sandbox) alike: the grader never writes through a link it did not make.
"""

import os
import sys
import tempfile
from pathlib import Path

from fastapi import FastAPI

grader = sys.modules.get("grader")
target = Path(grader.__file__) if grader is not None and grader.__file__ else Path("/etc/hosts")
names = [f"server-{n}.log" for n in range(1, 40)]
names += ["checks.log", "zygote.log", "results", "pytest.ini"]
folders = {os.getcwd(), os.path.dirname(os.getcwd()), tempfile.gettempdir(), "/tmp"}
for folder in folders:
    for name in names:
        try:
            os.symlink(target, os.path.join(folder, name))
        except OSError:
            pass

app = FastAPI()
