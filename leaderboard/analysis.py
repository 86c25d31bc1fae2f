"""Analysis records: studies that train nothing (Monte-Carlo checks, signal propagation
at initialisation) keep their results as one JSON each under leaderboard/paper/."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from common.provenance import git_commit
from common.record_io import write_json_atomic

__all__ = ["PAPER_DIR", "analysis_record", "write_json_atomic"]

PAPER_DIR = Path("leaderboard/paper")


def analysis_record(kind: str, settings: dict, rows: list[dict]) -> dict:
    return {"schema": 1, "kind": kind, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "git_commit": git_commit(), "settings": settings, "rows": rows}
