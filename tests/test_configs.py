"""Every config in conf/ composes, passes the start-up checks and instantiates."""
from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from common.config import ConfigError
from common.registry import CONF_DIR as CONF
from common.registry import config_names as options
from harness.cli import normalise_overrides
from harness.run import Run


@pytest.fixture(autouse=True)
def hydra_conf():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        yield
    GlobalHydra.instance().clear()


def built(*overrides: str) -> Run:
    return Run(compose("config", overrides=normalise_overrides(list(overrides))))


@pytest.mark.parametrize("model", options("model"))
@pytest.mark.parametrize("task", options("task"))
def test_every_model_builds_on_every_task(model: str, task: str):
    bare = "mode: bare" in (CONF / "model" / f"{model}.yaml").read_text()
    if bare and task not in ("teacher",):
        with pytest.raises(ConfigError, match="mode=bare"):  # a bare layer cannot take tokens or map 784 -> 10
            built(f"model={model}", f"task={task}")
        return
    run = built(f"model={model}", f"task={task}")
    assert run.model.num_params() > 0 and run.model.state_size() > 0
    assert run.task.variant


@pytest.mark.parametrize("group", ["trainer", "optimizer", "debug", "experiment"])
def test_every_other_group_option_composes_and_builds(group: str):
    import torch

    for option in options(group):
        if group == "trainer" and option == "gpu" and not torch.cuda.is_available():
            with pytest.raises(ConfigError, match="no CUDA GPU is visible here"):
                built(f"{group}={option}")
            continue
        if group == "trainer" and option == "ddp" and 0 < torch.cuda.device_count() < 2:
            # accelerator auto picks the one GPU, and two DDP ranks need two (seen on an H200)
            with pytest.raises(ConfigError, match="only 1 GPU here; .*trainer.accelerator=cpu"):
                built(f"{group}={option}")
            continue
        # a curve sweep takes its learning rate from records of its reference sweep: none here
        built(f"{group}={option}", *(["lr_reference=null"] if group == "experiment" else []))


def test_runs_started_in_the_same_second_get_their_own_log_folders():
    first, second = (compose("config", return_hydra_config=True).hydra for _ in range(2))
    assert first.run.dir != second.run.dir and first.sweep.dir != second.sweep.dir


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("model.param=expp", "model.layer.param='expp' is invalid: Input should be 'exp', 'polar' or 're_im'"),
        ("model.d_model=abc", "model.d_model='abc' is invalid: Input should be a valid integer"),
        ("model.d_statte=3", "unknown key model.layer.d_statte (did you mean model.layer.d_state?)"),
        ("seed=-1", "seed=-1 is invalid"),
        ("results_dir=", "results_dir is empty"),
        ("results_dir=/proc/forbidden", "results_dir=/proc/forbidden: cannot write there"),
        ("task.delay=1000000", "this run needs about"),
        ("task.delay=0", "task.delay=0"),
        ("model.r_min=0.9995", "r_min < r_max"),
        ("optimizer.lr=-1", "optimizer.lr=-1"),
        ("trainer.max_steps=-1", "set trainer.max_steps"),
    ],
)
def test_bad_values_fail_with_one_line(override: str, fragment: str):
    with pytest.raises(ConfigError) as err:
        built(override)
    assert fragment in str(err.value) and "\n" not in str(err.value)
