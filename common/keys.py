"""Key names shared by the run, the records and the leaderboard (one list each)."""
from __future__ import annotations

# Config keys that say where, how verbosely or on what hardware a run happens, or what is
# observed, not what it computes: left out of a run's identity. The leaderboard's setting
# key also leaves out what it averages or selects over (seed, learning rate).
NOT_IDENTITY = (
    "seed", "results_dir", "checkpoint_dir", "resume", "force", "threads", "lr_grid", "lr_index",
    "trainer.enable_progress_bar", "trainer.enable_model_summary", "trainer.log_every_n_steps",
    "trainer.accelerator", "trainer.devices", "trainer.strategy", "trainer.num_nodes",
    "sensitivity",  # the diagnostics observe a run; they change nothing it computes
    "lr_reference",  # how the learning rate was found; the rate itself is optimizer.lr
    "stop.climb_failures",  # whether a run happens at all, not what it computes
    "dense_state_max",  # likewise
    "model.layer.scan_impl",  # which kernel computes the same recurrence
)
SELECTED_OVER = ("optimizer.lr",)

# Keys that are part of a run's identity only once set: left out while they hold their default, so
# runs and records from before the key existed keep their identity (run key, setting).
UNSET = {"curve_axis": {"name": None, "key": None, "easier": None},  # common/schema.py: CurveAxis
         "stop.min_error_drop": None, "stop.not_before": None}         # common/schema.py: StopRule

# Keys that say where a run reads its data from, not what it computes (the task names the data: its
# dataset and split; the record's task.data_source says where it was read): held as None in a run's
# identity (run key, setting), so a published record keeps its key on a machine that keeps the data
# elsewhere. None, not dropped: a run that found its data through the environment holds None already.
LOCATION = ("task.data_dir",)

# The sensitivity numbers a run's summary, the logger and the leaderboard show.
SUMMARY_KEYS = ("act_m2_max", "grad_ratio", "state_sens_rel_max", "tau_max_over_T", "jac_fro_lag", "hess_top")


def _parent(config: dict, key: str) -> tuple[dict | None, str]:
    """The dict holding dotted `key` (None where a parent is missing) and the key's last part."""
    *parents, leaf = key.split(".")
    node = config
    for p in parents:
        node = node.get(p) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else None), leaf


def drop_unset(config: dict) -> dict:
    """`config` without the `UNSET` keys (dotted) that hold their default or are absent (in place, returned)."""
    for key, default in UNSET.items():
        node, leaf = _parent(config, key)
        if node is not None and node.get(leaf) in (None, default):
            node.pop(leaf, None)
    return config


def blank_location(config: dict) -> dict:
    """`config` with its `LOCATION` keys (dotted) set to None where present (in place, returned)."""
    for key in LOCATION:
        node, leaf = _parent(config, key)
        if node is not None and leaf in node:
            node[leaf] = None
    return config


def identity_part(config: dict, also: tuple[str, ...] = ()) -> dict:
    """What of `config` (a plain dict, changed in place) makes a run's identity, less the dotted keys `also`."""
    return drop_unset(blank_location(drop_keys(config, NOT_IDENTITY + also)))


def drop_keys(config: dict, dotted: tuple[str, ...] | list[str]) -> dict:
    """`config` without the dotted keys (in place, returned for chaining)."""
    for key in dotted:
        node, leaf = _parent(config, key)
        if node is not None:
            node.pop(leaf, None)
    return config
