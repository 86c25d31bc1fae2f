"""Where a result came from: the git commit of the code that produced it."""
from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def git_commit() -> str | None:
    """HEAD's sha, with `-dirty` when tracked files differ from it; None outside git."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=5)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return sha.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def writes_published(results_dir: str | Path, root: Path | None = None) -> bool:
    """Whether records written to `results_dir` land among the published ones (leaderboard/results)."""
    root = root or ROOT
    return (root / Path(results_dir)).resolve() == (root / "leaderboard" / "results").resolve()


def publishable_commit(root: Path | None = None) -> str:
    """HEAD's sha, when published records may be written from this tree: no tracked file
    differs from HEAD and HEAD is on main, so every published record names code that exists.
    Otherwise a UserError in one line saying what to do."""
    from common.errors import UserError

    root = root or ROOT

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)

    try:
        sha = git("rev-parse", "HEAD")
        if sha.returncode != 0:
            raise UserError(f"published records need a git checkout: {root} is not one (write to another results_dir)")
        changed = git("status", "--porcelain", "--untracked-files=no").stdout.split("\n")
        changed = [line[3:] for line in changed if line.strip()]
        if changed:
            raise UserError(f"published records come from a clean tree: commit or stash {len(changed)} changed "
                            f"file(s) first ({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''})")
        if git("merge-base", "--is-ancestor", "HEAD", "refs/heads/main").returncode != 0:
            raise UserError(f"published records come from a commit on main: {sha.stdout.strip()[:12]} is not on main")
    except (OSError, subprocess.SubprocessError) as err:
        raise UserError(f"published records need git to name their commit: {err}") from None
    return sha.stdout.strip()
