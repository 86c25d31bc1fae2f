"""Train one model on one task and write its result record.

    python train.py model=lru task=copy task.delay=200 seed=1
    python train.py -m model=lru,lstm seed=0,1,2        # a sweep (Hydra multirun)
"""
from __future__ import annotations

import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from common.errors import RunInterrupted, UserError
from harness.cli import CONF_DIR, EXIT_INTERRUPTED, EXIT_USER_ERROR, fail, guard_cli
from tasks.image_preflight import preflight


# an absolute path, so that the entry also runs when imported (tests call it in-process)
@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from harness.sweep import note_outcome

    hc = HydraConfig.get()
    sweeping = hc.mode == RunMode.MULTIRUN
    published = str(hc.runtime.choices.get("experiment") or "").startswith("leaderboard/")
    try:
        preflight(cfg.task)  # before torch and Lightning load: missing data fails in a second
        from harness.run import train
        from harness.summary import print_summary

        record, parts = train(cfg, output_dir=hc.runtime.output_dir, skip_finished=sweeping, published=published)
    except UserError as err:
        fail(str(err), log_dir=hc.runtime.output_dir)
        note_outcome(hc.runtime.output_dir, "invalid")
        if sweeping:
            return  # one bad combination must not stop the rest of a sweep
        raise SystemExit(EXIT_USER_ERROR) from None
    except RunInterrupted as err:
        fail(str(err), log_dir=hc.runtime.output_dir)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except Exception:
        note_outcome(hc.runtime.output_dir, "failed")
        raise
    if record is None:
        note_outcome(hc.runtime.output_dir, parts["run"].skipped)
    elif "_path" in record:  # rank 0 wrote the record
        note_outcome(hc.runtime.output_dir, record["status"])
        print_summary(record, log_dir=hc.runtime.output_dir)


if __name__ == "__main__":
    sys.exit(guard_cli(main))
