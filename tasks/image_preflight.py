"""Fail fast when image data is missing, before torch and Lightning are imported
(they take seconds to load): `train.py task=scifar` without CIFAR-10 answers at once.

Kept in sync with the task classes by tests/test_images.py."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tasks.image_sources import load_images

IMAGE_TASKS = {
    "tasks.images.SMNISTTask": "mnist",
    "tasks.images.PSMNISTTask": "mnist",
    "tasks.images.SFMNISTTask": "fashion_mnist",
    "tasks.images.SCIFARTask": "cifar10",
}


def preflight(task_cfg: Mapping[str, Any]) -> None:
    """Raise DataUnavailable (a UserError) when the task's image data cannot be found."""
    dataset = IMAGE_TASKS.get(task_cfg.get("_target_"))
    if dataset is not None:
        load_images(dataset, task_cfg.get("data_dir"))
