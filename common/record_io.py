"""Result records on disk: one JSON file per run, written atomically, never edited in place;
read back and checked against the declaration in common/record.py."""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import tempfile
import types
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common.record import READABLE, Record


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def record_filename(record: dict) -> str:
    return f"{record['task']['name']}-{record['model']['name']}-s{record['seed']}-{record['run_id']}.json"


def to_dict(record: Record) -> dict:
    """The JSON form of a record: JSON has no NaN/inf, so those are stored as null."""
    return finite_or_none(dataclasses.asdict(record))


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


def write_record(record: dict | Record, results_dir: str | os.PathLike) -> Path:
    """One record, atomically, under a unique name (concurrent writers never collide)."""
    data = to_dict(record) if isinstance(record, Record) else record
    return write_json_atomic(data, Path(results_dir) / record_filename(data))


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def finite_or_none(x: Any) -> Any:
    """JSON has no NaN/inf: keep finite floats, store the rest as null."""
    if isinstance(x, float) and (x != x or x in (float("inf"), float("-inf"))):
        return None
    if isinstance(x, dict):
        return {k: finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [finite_or_none(v) for v in x]
    return x


# -- reading: the declaration as a check -------------------------------------------------

def _number(v: Any) -> bool:
    # bool is an int subclass; NaN/inf can come from a hand-written file (json.loads accepts them)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _kind(tp: Any) -> tuple[str, typing.Callable[[Any], bool]]:
    """(what the message calls it, test) for a non-optional annotation."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is int:
        return "an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)
    if tp is float:
        return "a finite number", _number
    if tp is str:
        return "a string", lambda v: isinstance(v, str)
    if tp is bool:
        return "true or false", lambda v: isinstance(v, bool)
    if origin is typing.Literal:
        return "one of " + ", ".join(args), lambda v: v in args
    if origin is list and args == (dict,):
        return "a list of objects", lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v)
    if origin is list:
        return "a list of numbers", lambda v: isinstance(v, list) and all(_number(x) for x in v)
    if origin is dict and args:
        return ("an object of numbers or nulls",
                lambda v: isinstance(v, dict) and all(x is None or _number(x) for x in v.values()))
    if tp is dict or dataclasses.is_dataclass(tp):
        return "an object", lambda v: isinstance(v, dict)
    raise TypeError(f"common/record.py: no check for the annotation {tp!r}")


def _optional(tp: Any) -> tuple[Any, bool]:
    """(annotation without None, whether None is allowed)."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp):
        rest = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"common/record.py: a field is one type or null, not {tp!r}")
        return rest[0], True
    return tp, False


@functools.cache
def _hints(cls: type) -> dict:
    return typing.get_type_hints(cls)  # evaluating the annotations costs more than checking a record


def _check_section(data: dict, cls: type, prefix: str) -> str | None:
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        dotted = f"{prefix}{f.name}"
        tp, optional = _optional(hints[f.name])
        value = data.get(f.name)
        if value is None:
            if not optional:
                return f"field {dotted} is null" if f.name in data else f"missing field {dotted}"
            continue
        what, ok = _kind(tp)
        if not ok(value):
            return f"field {dotted} should be {what}, not {json_type(value)}"
        nested = f.metadata.get("view") or (tp if dataclasses.is_dataclass(tp) else None)
        if nested is not None:
            problem = _check_section(value, nested, dotted + ".")
            if problem:
                return problem
    return None


def check(record: Any) -> str | None:
    """None for a record the builder can read, else one line naming the first bad field."""
    if not isinstance(record, dict):
        return f"not a JSON object but {type(record).__name__}"
    if "schema" not in record:
        return "missing field schema"
    schema = record["schema"]
    if not (isinstance(schema, int) and not isinstance(schema, bool)) or schema not in READABLE:
        newer = isinstance(schema, int) and not isinstance(schema, bool) and schema > max(READABLE)
        return (f"schema {json_type(schema)} is {'newer than' if newer else 'not one of'} the schemas this builder reads "
                f"({', '.join(map(str, READABLE))})")
    return _check_section(record, Record, "")


def json_type(v: Any) -> str:
    if isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 40):
        return json.dumps(v) if not isinstance(v, float) or math.isfinite(v) else repr(v)
    return {str: "a long string", list: "a list", dict: "an object"}.get(type(v), type(v).__name__)


@dataclass
class Skipped:
    path: Path
    reason: str


def read_records(results_dir: str | os.PathLike) -> Iterator[dict | Skipped]:
    """Every record in `results_dir` (sorted by name), or a `Skipped` for one that is not JSON,
    has an unknown schema or a field of an unexpected shape."""
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
