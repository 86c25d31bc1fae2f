"""Fail fast when image data is missing, before torch and Lightning are imported
(they take seconds to load): `train.py task=scifar` without CIFAR-10 answers at once.

The dataset comes from the config (`task.dataset`, which every image task's YAML names and
its class checks), so an image task in any file gets the check; the task's own `setup`
repeats it before training for a config that leaves it out."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.image_sources import find_images


def preflight(task_cfg: Mapping[str, Any]) -> None:
    """Raise DataUnavailable (a UserError) when no source holds the task's image data."""
    dataset = task_cfg.get("dataset")
    if isinstance(dataset, str):
        find_images(dataset, task_cfg.get("data_dir"))
