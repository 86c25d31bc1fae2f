"""Where a result came from: the git commit of the code that produced it."""
from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)


def head(root: Path | None = None) -> tuple[str | None, bool]:
    """HEAD's sha and whether tracked files differ from it; (None, False) outside git."""
    root = root or ROOT
    try:
        sha = _git(root, "rev-parse", "HEAD")
        if sha.returncode != 0:
            return None, False
        return sha.stdout.strip(), bool(_git(root, "status", "--porcelain", "--untracked-files=no").stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None, False


# The commit this process's code came from, read when it was imported: a sweep runs for hours, and a
# `git pull` into its tree meanwhile moves HEAD without changing the code already in memory.
LOADED_ROOT = ROOT
LOADED = head(ROOT)


# A sweep asks before every job (publishable_commit), and resolving the ~3,000 modules torch and
# Lightning import took 0.2-0.25 s each time, a quarter of a skipped job; a module's file does not move
# while the process runs, so each is resolved once.
@functools.cache
def _project_file(path: str, root: Path) -> str | None:
    """`path` relative to the project `root` (resolved), or None for a file outside it or in its venv."""
    if not Path(path).is_absolute():  # some extension modules name a bare file ("_ops.py")
        return None
    resolved = Path(path).resolve()
    if resolved.is_relative_to(root) and not resolved.is_relative_to(root / ".venv"):
        return resolved.relative_to(root).as_posix()
    return None


def source_files(root: Path | None = None) -> list[str]:
    """The project's files this process's code comes from: its imported modules and the configs."""
    root = (root or ROOT).resolve()
    files = {"conf"}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and (relative := _project_file(path, root)):
            files.add(relative)
    return sorted(files)


def changed_since(sha: str, files: list[str], root: Path | None = None) -> list[str]:
    """Which of `files` (or directories) differ between commit `sha` and the working tree: changed by
    later commits or edits, or not in that commit at all."""
    root = root or ROOT
    try:
        diff = _git(root, "diff", "--name-only", sha, "--", *files)
        listed = _git(root, "ls-tree", "-r", "--name-only", sha, "--", *files)
        if diff.returncode != 0 or listed.returncode != 0:
            return list(files)
    except (OSError, subprocess.SubprocessError):
        return list(files)
    in_commit = listed.stdout.split()
    absent = [f for f in files if f not in in_commit and not any(t.startswith(f + "/") for t in in_commit)]
    return sorted(set(diff.stdout.split()) | set(absent))


def git_commit(loaded: tuple[str | None, bool] | None = None, files: list[str] | None = None,
               root: Path | None = None) -> str | None:
    """The commit of the code this process runs (read at import), with `-dirty` when tracked files
    differed from it then, or when a file of its code has changed since (its modules, the configs):
    HEAD may have moved on without touching that code, and the record still names what ran."""
    sha, dirty = loaded or LOADED
    if sha is None:
        return None
    moved = changed_since(sha, source_files(root) if files is None else files, root)
    return sha + ("-dirty" if dirty or moved else "")


def writes_published(results_dir: str | Path, root: Path | None = None) -> bool:
    """Whether records written to `results_dir` land among the published ones (leaderboard/results)."""
    root = root or ROOT
    return (root / Path(results_dir)).resolve() == (root / "leaderboard" / "results").resolve()


def publishable_commit(root: Path | None = None) -> str:
    """The sha of the code that will run, when published records may be written from this tree: no
    tracked file differs from HEAD, HEAD is on main, and (for this process's own tree) the code it
    imported is HEAD's, so every published record names code that exists and ran.
    Otherwise a UserError in one line saying what to do."""
    from common.errors import UserError

    root = root or ROOT
    try:
        sha = _git(root, "rev-parse", "HEAD")
        if sha.returncode != 0:
            raise UserError(f"published records need a git checkout: {root} is not one (write to another results_dir)")
        changed = _git(root, "status", "--porcelain", "--untracked-files=no").stdout.split("\n")
        changed = [line[3:] for line in changed if line.strip()]
        if changed:
            raise UserError(f"published records come from a clean tree: commit or stash {len(changed)} changed "
                            f"file(s) first ({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''})")
        if _git(root, "merge-base", "--is-ancestor", "HEAD", "refs/heads/main").returncode != 0:
            raise UserError(f"published records come from a commit on main: {sha.stdout.strip()[:12]} is not on main")
        if Path(root).resolve() == LOADED_ROOT.resolve():
            loaded, was_dirty = LOADED
            moved = changed_since(loaded, source_files(root), root) if loaded else []
            if loaded is None or was_dirty or moved:
                what = (f"{', '.join(moved[:3])}{', ...' if len(moved) > 3 else ''} changed since" if moved
                        else "its tree had uncommitted changes then")
                raise UserError(f"published records name the code that ran: this process imported "
                                f"{(loaded or 'no commit')[:12]} and {what}; start the sweep again")
    except (OSError, subprocess.SubprocessError) as err:
        raise UserError(f"published records need git to name their commit: {err}") from None
    return sha.stdout.strip()
