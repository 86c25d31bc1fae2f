"""Keep a run's console output to what a researcher reads: no duplicated Lightning
lines (Hydra's root handler would repeat them), no advertising tips, no
deprecation chatter from libraries."""
from __future__ import annotations

import logging
import warnings


class _DropTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in record.getMessage() and "litlogger" not in record.getMessage()


def quiet_libraries() -> None:
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # Metrics are torchmetrics objects, already reduced across ranks when computed.
    warnings.filterwarnings("ignore", message=r".*sync_dist=True.*")
    warnings.filterwarnings("ignore", message=r".*it is recommended to use `Trainer\(devices=1, num_nodes=1\)`.*")
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logger = logging.getLogger(name)
        logger.propagate = False
        logger.addFilter(_DropTips())
        for handler in logger.handlers:
            handler.addFilter(_DropTips())
