"""What a result record looks like, field by field, so the builder can skip one record
of an unexpected shape with a line naming the field instead of failing the whole build.

Schema 1: the first cpu track. Schema 2 adds the verdict and memory-curve fields
(`published`, `outcome`, `solved_at`, `budget`, `lr_reference`, `task.axis`,
`task.curve`, `task.solve`, `task.horizon`); a schema-1 record simply lacks them, which reads as null.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

READABLE = (1, 2)
STATUSES = ("ok", "diverged", "failed")
OUTCOMES = ("solved", "plateaued", "budget")

Kind = tuple[str, Callable[[Any], bool]]


def _number(v: Any) -> bool:
    # bool is an int subclass; NaN/inf can come from a hand-written file (json.loads accepts them)
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


INT: Kind = ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool))
NUM: Kind = ("a finite number", _number)
STR: Kind = ("a string", lambda v: isinstance(v, str))
BOOL: Kind = ("true or false", lambda v: isinstance(v, bool))
DICT: Kind = ("an object", lambda v: isinstance(v, dict))
NUMS: Kind = ("a list of numbers", lambda v: isinstance(v, list) and all(_number(x) for x in v))
METRICS: Kind = ("an object of numbers or nulls",
                 lambda v: isinstance(v, dict) and all(x is None or _number(x) for x in v.values()))


def one_of(*values: str) -> Kind:
    return ("one of " + ", ".join(values), lambda v: v in values)


# (dotted field, kind, required). A required field must be present and not null whenever
# its parent object is; an optional one may be missing or null. Only fields the builder
# reads are listed: anything else in a record is free.
FIELDS: list[tuple[str, Kind, bool]] = [
    ("run_id", STR, True), ("created", STR, True), ("seed", INT, True), ("status", one_of(*STATUSES), True),
    ("track", STR, False), ("published", BOOL, False),
    ("model", DICT, True), ("model.name", STR, True), ("model.params", INT, False), ("model.state_size", INT, False),
    ("task", DICT, True), ("task.name", STR, True), ("task.variant", STR, True), ("task.primary", STR, False),
    ("task.higher_is_better", BOOL, False), ("task.baselines", METRICS, False),
    ("task.curve", STR, False),
    ("task.axis", DICT, False), ("task.axis.name", STR, True), ("task.axis.key", STR, True),
    ("task.axis.value", NUM, True),
    ("task.horizon", DICT, False), ("task.horizon.metric", STR, True),
    ("task.horizon.mode", one_of("max", "min"), True), ("task.horizon.threshold", NUM, True),
    ("config", DICT, False), ("config.optimizer", DICT, False), ("config.optimizer.lr", NUM, False),
    ("config.task", DICT, False),
    ("metrics", DICT, True), ("metrics.val", METRICS, False), ("metrics.test", METRICS, False),
    ("outcome", one_of(*OUTCOMES), False),
    ("solved_at", DICT, False), ("solved_at.step", INT, True), ("solved_at.tokens", INT, False),
    ("solved_at.seconds", NUM, False),
    ("task.solve", DICT, False), ("task.solve.metric", STR, True),
    ("task.solve.mode", one_of("max", "min"), True), ("task.solve.threshold", NUM, True),
    ("budget", DICT, False), ("budget.max_steps", INT, False), ("budget.max_epochs", INT, False),
    ("budget.batch_size", INT, False), ("budget.patience", INT, False), ("budget.val_every", NUM, False),
    # where the rate was chosen: {"axis_value": 64} or {"at": {"task.delay": 64}}
    ("lr_reference", DICT, False), ("lr_reference.axis_value", NUM, False), ("lr_reference.at", DICT, False),
    ("lr_reference.grid", NUMS, False),
    ("sensitivity", DICT, False), ("sensitivity.init", DICT, False), ("sensitivity.final", DICT, False),
    ("cost", DICT, False), ("cost.wall_s", NUM, False), ("cost.tokens_per_s", NUM, False), ("cost.device", STR, False),
]


def _lookup(record: dict, dotted: str) -> tuple[bool, bool, Any]:
    """(parent is an object, field is present, value)."""
    *parents, leaf = dotted.split(".")
    node: Any = record
    for p in parents:
        node = node.get(p) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return False, False, None
    return True, leaf in node, node.get(leaf)


def check(record: Any) -> str | None:
    """None for a record the builder can read, else one line naming the first bad field."""
    if not isinstance(record, dict):
        return f"not a JSON object but {type(record).__name__}"
    schema = record.get("schema")
    if "schema" not in record:
        return "missing field schema"
    if not INT[1](schema) or schema not in READABLE:
        newer = INT[1](schema) and schema > max(READABLE)
        return (f"schema {json_type(schema)} is {'newer than' if newer else 'not one of'} the schemas this builder reads "
                f"({', '.join(map(str, READABLE))})")
    for dotted, (what, ok), required in FIELDS:
        parent_ok, present, value = _lookup(record, dotted)
        if not parent_ok:
            continue
        if value is None:
            if required:
                return f"missing field {dotted}" if not present else f"field {dotted} is null"
            continue
        if not ok(value):
            return f"field {dotted} should be {what}, not {json_type(value)}"
    return None


def json_type(v: Any) -> str:
    if isinstance(v, (bool, int, float)) or (isinstance(v, str) and len(v) <= 40):
        return json.dumps(v) if not isinstance(v, float) or math.isfinite(v) else repr(v)
    return {str: "a long string", list: "a list", dict: "an object"}.get(type(v), type(v).__name__)
