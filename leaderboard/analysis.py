"""Analysis records: studies that train nothing (Monte-Carlo checks, signal propagation
at initialisation) keep their results as one JSON each under leaderboard/paper/."""
from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

PAPER_DIR = Path("leaderboard/paper")


def write_json_atomic(obj: dict, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=True, allow_nan=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def analysis_record(kind: str, settings: dict, rows: list[dict]) -> dict:
    from harness.run import git_commit

    return {"schema": 1, "kind": kind, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_commit(), "settings": settings, "rows": rows}
