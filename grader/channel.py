"""The results channel: how the checks process tells the grader what happened.

One writer (the checks process) appends records to a file; one reader (the runner)
reads them when the run is over, however it ended. Every line carries a sequence number
and an HMAC under a key only the two ends hold (the runner hands it to the checks
process on its stdin), so whatever else can reach the file can neither add, change,
reorder nor replay a record: the reader keeps only the lines that verify, in sequence,
and every check whose result is missing is then graded as not passed.

    Collected    the checks, in order, with their points: sent first
    Result       one check's result
    RunError     why no check could run (the app could not start)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from grader import untrusted
from grader.results import Check, CheckResult

KEY_BYTES = 32
MAX_LINE = 16 << 20  # a record of one check: its output is trimmed long before


@dataclass(frozen=True)
class Collected:
    checks: tuple[Check, ...]


@dataclass(frozen=True)
class Result:
    result: CheckResult


@dataclass(frozen=True)
class RunError:
    message: str
    detail: str = ""


Record = Collected | Result | RunError


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def _mac(key: bytes, seq: int, payload: str) -> str:
    return hmac.new(key, f"{seq}\n{payload}".encode(), hashlib.sha256).hexdigest()


def _encode(record: Record) -> dict[str, Any]:
    if isinstance(record, Collected):
        return {"kind": "collected", "checks": [asdict(c) for c in record.checks]}
    if isinstance(record, Result):
        return {"kind": "result", **record.result.to_dict()}
    return {"kind": "error", "message": record.message, "detail": record.detail}


def _decode(data: dict[str, Any]) -> Record:
    kind = data.pop("kind")
    if kind == "collected":
        return Collected(tuple(Check(**c) for c in data["checks"]))
    if kind == "result":
        return Result(CheckResult.from_dict(data))
    return RunError(data["message"], data.get("detail", ""))


class Writer:
    """Appends authenticated records; each is flushed at once, so a killed run still reports."""

    def __init__(self, path: Path, key: bytes) -> None:
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._key = key
        self._seq = 0

    def write(self, record: Record) -> None:
        payload = json.dumps(_encode(record), sort_keys=True)
        line = {"seq": self._seq, "mac": _mac(self._key, self._seq, payload), "record": payload}
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        self._seq += 1


@dataclass
class Records:
    """What the reader verified, in order."""

    collected: Collected | None = None
    results: dict[str, CheckResult] = field(default_factory=dict)
    error: RunError | None = None


def read(path: Path, key: bytes) -> Records:
    """Every authentic record, in order; any other line is passed over.

    A line counts only if it is the next in sequence and its HMAC verifies: a forged
    line, a copy of an earlier one or garbage in between cannot take a genuine
    record's place, nor hide the ones after it.
    """
    records = Records()
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return Records()
    seq = 0
    for line in lines:
        try:
            # Without a sandbox the submission can write to this file too.
            wrapper = untrusted.loads(line, MAX_LINE)
            payload = wrapper["record"]
            genuine = wrapper["seq"] == seq and hmac.compare_digest(
                str(wrapper["mac"]), _mac(key, seq, payload)
            )
        except (ValueError, KeyError, TypeError):
            genuine = False
        if not genuine:
            continue
        seq += 1
        record = _decode(untrusted.loads(payload, MAX_LINE))
        if isinstance(record, Collected):
            records.collected = record
        elif isinstance(record, Result):
            records.results[record.result.name] = record.result
        else:
            records.error = record
    return records
