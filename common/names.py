"""Names that become parts of file and folder names: the model name is spliced into the
record's file name, the checkpoint folder and Hydra's log folder, so it must be one path
component of bounded length. Checked before anything trains (and before Hydra creates its
log folder), so a run is never lost at its end to a name the file system refuses."""
from __future__ import annotations

import unicodedata

from common.config import ConfigError

# The longest name component (255 bytes on ext4, tmpfs, APFS) has to hold the task name,
# the model name, the seed, the 24-character run id and ".json"; 64 bytes leaves room for
# every task name and Hydra's time stamp in the log folder.
MAX_NAME_BYTES = 64
SEPARATORS = ("/", "\\")

# The config keys whose values end up in file names.
NAMED_KEYS = ("model.name",)


def name_problem(key: str, value: object) -> str | None:
    """None for a usable name, else one line saying what is wrong and what to do."""
    text = str(value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    if not text.strip():
        return f"{key} is empty: give the model a name, e.g. {key}=lru"
    for sep in SEPARATORS:
        if sep in text:
            return (f"{key}={shown!r} contains {sep!r}: the name is part of the record's file name, so it must not "
                    f"contain path separators (e.g. {key}={text.replace('/', '-').replace(chr(92), '-')!r})")
    if any(unicodedata.category(c).startswith("C") for c in text):
        return f"{key}={shown!r} contains a control character: use printable characters only"
    if text in (".", ".."):
        return f"{key}={text!r} is a folder name: choose another name"
    size = len(text.encode())
    if size > MAX_NAME_BYTES:
        return (f"{key} is {size} bytes long ({shown!r}): at most {MAX_NAME_BYTES}, since it becomes part of "
                f"file names; choose a shorter name")
    return None


def check_names(cfg) -> None:
    """Raise a one-line error for the first configured name that cannot be part of a file name."""
    for key in NAMED_KEYS:
        node, _, leaf = key.rpartition(".")
        parent = cfg.get(node) if node else cfg
        if parent is None or parent.get(leaf) is None:
            continue
        problem = name_problem(key, parent.get(leaf))
        if problem:
            raise ConfigError(problem)
