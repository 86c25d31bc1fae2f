"""Writing a finished run's record so that its result is never lost: when the results
directory refuses the file (a full disk, a name too long, permissions), the record is kept
beside the run's train.log (or printed, when that disk is full too), the summary is still
printed and logged, and one error line says what failed, where to free space and the
command that installs the kept record:

    python -m harness.saving outputs/<date>/<time>_<model>/record.json [--results DIR]
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import shlex
import sys
from pathlib import Path

from common.errors import UserError
from common.record_io import check, record_filename, write_json_atomic, write_record

KEPT_NAME = "record.json"
JSON_START, JSON_END = "----- record JSON (not written) -----", "----- end of record JSON -----"


class RecordNotSaved(UserError):
    """The run finished but its record could not be written to results_dir; the message says
    where the record was kept and how to install it."""


def mount_point(path: str | os.PathLike) -> Path:
    p = Path(os.path.abspath(path))
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return p


def _reason(err: OSError) -> str:
    text = os.strerror(err.errno) if err.errno else str(err)
    return text[:1].lower() + text[1:]


def _remedy(err: OSError, results_dir: str | os.PathLike) -> str:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        mount = mount_point(results_dir)
        return f"free space on {mount} (df -h {mount})"
    if err.errno == errno.ENAMETOOLONG:
        return "shorten model.name"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"make {results_dir} writable (or install into another folder with --results DIR)"
    return f"fix {results_dir}"


def save_record(record: dict, results_dir: str | os.PathLike, log_dir: str | os.PathLike) -> str:
    """Write `record` into `results_dir` and return its path. When that fails, keep the record
    in `log_dir` (or print it), print and log the summary, and raise `RecordNotSaved`."""
    from harness.summary import print_summary

    try:
        return str(write_record(record, results_dir))
    except OSError as err:
        target = Path(results_dir) / record_filename(record)
        record["_path"] = None
        kept = keep_record(record, log_dir)
        print_summary(record, log_dir=log_dir)
        remedy = _remedy(err, results_dir)
        if kept is not None:
            how = (f"the record is kept in {kept}: {remedy}, then install it with "
                   f"`python -m harness.saving {shlex.quote(str(kept))}`")
        else:
            print(JSON_START)
            print(json.dumps(_plain(record), indent=1, sort_keys=True))
            print(JSON_END)
            how = (f"{log_dir} is not writable either, so the record is printed above between the "
                   f"'{JSON_START}' lines: {remedy}, save those lines' JSON to a file and install it with "
                   f"`python -m harness.saving FILE`")
        raise RecordNotSaved(f"{_reason(err)} writing {target}; {how}") from None


def _plain(record: dict) -> dict:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def keep_record(record: dict, log_dir: str | os.PathLike) -> Path | None:
    """The record in the run's log folder, or None when that cannot be written either."""
    try:
        return write_json_atomic(_plain(record), Path(log_dir) / KEPT_NAME)
    except OSError:
        return None


def install(path: str | os.PathLike, results_dir: str | os.PathLike | None = None) -> Path:
    """Copy a kept record into the results directory it was meant for (or `results_dir`)."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: cannot read a record ({err})") from None
    problem = check(record)
    if problem:
        raise UserError(f"{path}: not a record the leaderboard can read ({problem})")
    target = results_dir or (record.get("config") or {}).get("results_dir")
    if not target:
        raise UserError(f"{path}: the record does not name its results_dir; pass --results DIR")
    try:
        return write_record(record, target)
    except OSError as err:
        raise UserError(f"{_reason(err)} writing {Path(target) / record_filename(record)}; "
                        f"{_remedy(err, target)} and run this again") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.saving",
                                     description="Install a record that a run could not write into its results directory.")
    parser.add_argument("record", help="the kept record, e.g. outputs/<date>/<time>_<model>/record.json")
    parser.add_argument("--results", default=None, help="results directory (default: the record's own results_dir)")
    args = parser.parse_args(argv)
    try:
        written = install(args.record, args.results)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"record installed: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
