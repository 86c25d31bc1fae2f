"""Result records: one JSON file per run, written atomically, never edited in place."""
from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from leaderboard.schema import READABLE, STATUSES, check

# The schema the run side stamps on new records (2: verdicts and memory curves, see
# leaderboard/schema.py); the builder reads every schema in READABLE.
SCHEMA = 2


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def record_filename(record: dict) -> str:
    return f"{record['task']['name']}-{record['model']['name']}-s{record['seed']}-{record['run_id']}.json"


def write_json_atomic(obj: dict, path: str | os.PathLike) -> Path:
    """Write to a temporary file in the same directory, fsync, then rename: a reader
    (or a crash) never sees a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would make records private to their writer
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True, allow_nan=False, default=_jsonable)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_record(record: dict, results_dir: str | os.PathLike) -> Path:
    """One record, atomically, under a unique name (concurrent writers never collide)."""
    return write_json_atomic(record, Path(results_dir) / record_filename(record))


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


@dataclass
class Skipped:
    path: Path
    reason: str


def read_records(results_dir: str | os.PathLike) -> Iterator[dict | Skipped]:
    """Every record in `results_dir` (sorted by name), or a `Skipped` for one that is not JSON,
    has an unknown schema or a field of an unexpected shape (leaderboard/schema.py)."""
    directory = Path(results_dir)
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            yield Skipped(path, f"not valid JSON ({err})")
            continue
        problem = check(record)
        if problem:
            yield Skipped(path, problem)
            continue
        record["_path"] = str(path)
        yield record


def finite_or_none(x: Any) -> Any:
    """JSON has no NaN/inf: keep finite floats, store the rest as null."""
    if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
        return None
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    return x


__all__ = ["SCHEMA", "READABLE", "STATUSES", "Skipped", "check", "finite_or_none", "new_run_id", "read_records",
           "record_filename", "write_json_atomic", "write_record"]
