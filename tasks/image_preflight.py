"""Fail fast when image data is missing, before torch and Lightning are imported
(they take seconds to load): `train.py task=scifar` without CIFAR-10 answers at once."""
from __future__ import annotations

import ast
import functools
import os
from collections.abc import Mapping
from typing import Any

from tasks.image_sources import find_images


@functools.cache
def image_tasks() -> dict[str, str]:
    """`_target_` -> dataset for each class in tasks/images.py that sets `dataset = "..."`.

    Read from the source, because importing the module loads torch: the seconds this
    check exists to save."""
    with open(os.path.join(os.path.dirname(__file__), "images.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    return {f"tasks.images.{cls.name}": stmt.value.value
            for cls in tree.body if isinstance(cls, ast.ClassDef)
            for stmt in cls.body if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant)
            and any(isinstance(t, ast.Name) and t.id == "dataset" for t in stmt.targets)}


def preflight(task_cfg: Mapping[str, Any]) -> None:
    """Raise DataUnavailable (a UserError) when no source holds the task's image data."""
    dataset = image_tasks().get(task_cfg.get("_target_"))
    if dataset is not None:
        find_images(dataset, task_cfg.get("data_dir"))
