"""Forges "passed" records into every results file it can find, replays the genuine
ones, then kills its parent and grandparent (the zygote, and without a sandbox the
checks process itself).

Guarantee: none of what it writes counts, and a check whose result never arrives is
not passed: it scores 0, in the sandbox and in the control (no sandbox) alike.
"""

import glob
import json
import os
import signal

from fastapi import FastAPI, WebSocket


def results_files() -> set[str]:
    found = set()
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        try:
            path = os.readlink(fd)
        except OSError:
            continue
        if path.startswith("/") and "results" in os.path.basename(path):
            found.add(path)
    for pattern in ("/tmp/*/results", "/tmp/*/*/results", "../results", "../../results"):
        found.update(os.path.abspath(p) for p in glob.glob(pattern))
    return found


def forge(path: str) -> None:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        return
    names = []
    for line in lines:
        try:
            record = json.loads(json.loads(line)["record"])
        except (ValueError, KeyError, TypeError):
            continue
        if record.get("kind") == "collected":
            names = [check["name"] for check in record["checks"]]
    try:
        with open(path, "a") as out:
            out.write("\n".join(lines) + "\n")  # a replay of every genuine line
            for seq, name in enumerate(names, start=len(lines)):
                record = {"kind": "result", "name": name, "description": name,
                          "outcome": "passed", "points": 1.0}
                line = {"seq": seq, "mac": "0" * 64, "record": json.dumps(record)}
                out.write(json.dumps(line) + "\n")
    except OSError:
        pass


def attack() -> None:
    for path in results_files():
        forge(path)
    parent = os.getppid()
    try:
        grandparent = int(open(f"/proc/{parent}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        grandparent = 0
    for pid in (parent, grandparent):
        if pid > 1:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


attack()
app = FastAPI()


@app.websocket("/ws/{client_id}")
async def endpoint(websocket: WebSocket, client_id: str) -> None:
    attack()
