"""Equal state: `model.state=S` (one key, every model) sizes each recurrent layer so that
its state_size() is S, or the nearest size its structure allows (models/layer.py).

The expected rule per layer class is written out here, independently of the code: the
layer keeps its state in units of `u` real numbers and takes round(S/u) of them, halves
up; a budget below one unit is a one-line ValueError."""
from __future__ import annotations

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

from common.config import ConfigError
from common.registry import CONF_DIR, model_names
from harness.cli import normalise_overrides
from models.build import layer_factory

D_MODEL = 64

# Real numbers per unit of state, as each layer's docstring states it, from the layer node.
UNIT = {
    "RNN": lambda layer: 1,                             # h
    "GRU": lambda layer: 1,                             # h
    "LSTM": lambda layer: 2,                            # h and c
    "LRU": lambda layer: 2,                             # one complex channel
    "LinearRNN": lambda layer: layer.get("heads", 1),   # one state dimension in every head
    "S4D": lambda layer: 2 * D_MODEL,                   # one complex mode in every channel
    "Mamba": lambda layer: layer.get("expand", 2) * D_MODEL,  # one state per inner channel
}


@pytest.fixture(autouse=True)
def hydra_conf():
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        yield
    GlobalHydra.instance().clear()


def composed(*overrides: str):
    """The config as train.py composes it: flat `model.` keys routed by the CLI's own rule."""
    return compose("config", overrides=normalise_overrides(list(overrides)))


def expected_state(budget: int, unit: int) -> int:
    return unit * ((2 * budget + unit) // (2 * unit))


@pytest.mark.parametrize("budget", [64, 256, 1024])
@pytest.mark.parametrize("model", model_names())
def test_every_model_sizes_its_layer_to_the_state_budget(model: str, budget: int):
    cfg = composed(f"model={model}", "task=teacher", "model.mode=stack", f"model.d_model={D_MODEL}",
                   "model.n_layers=2", f"model.state={budget}")
    assert cfg.model.layer.state == budget  # the flat key reached the layer node
    kind = cfg.model.layer._target_.rsplit(".", 1)[1]
    unit = UNIT[kind](cfg.model.layer)
    if kind == "LinearRNN":
        # the paper init eigendecomposes each head's block (a 1024 x 1024 matrix takes tens of
        # seconds on two busy cores); the ring init is cheap and the sizing does not depend on it
        with open_dict(cfg):
            cfg.model.layer.init = "ring"
    make = layer_factory(cfg.model.layer)
    if budget < unit:
        with pytest.raises(ValueError, match=rf"^model\.state={budget}: .* units of {unit} ") as err:
            make(D_MODEL)
        assert "\n" not in str(err.value)
        return
    torch.manual_seed(0)
    size = make(D_MODEL).state_size()
    assert size == expected_state(budget, unit)
    assert abs(size - budget) <= unit / 2


def test_the_rounding_is_to_the_nearest_unit_with_halves_up():
    from models.lstm import LSTM
    from models.s4d import S4D

    assert [LSTM(4, state=s).state_size() for s in (2, 3, 4, 5)] == [2, 4, 4, 6]
    # S4D at width 4: units of 8 (one complex mode in each of 4 channels)
    assert [S4D(4, state=s).state_size() for s in (8, 11, 12, 13, 20)] == [8, 8, 16, 16, 24]


@pytest.mark.parametrize("model", model_names())
def test_a_size_argument_set_beside_the_budget_is_an_error(model: str):
    cfg = composed(f"model={model}", "task=teacher", "model.mode=stack", "model.state=256", "model.d_state=32")
    with pytest.raises(ValueError, match=r"model\.state=256 and model\.d_state=32: .* set only one"):
        layer_factory(cfg.model.layer)(D_MODEL)


def small_run(tmp_path) -> list[str]:
    return ["task.seq_len=20", "task.n_val=8", "task.n_test=8", "trainer.max_steps=1", "trainer.val_check_interval=1",
            f"results_dir={tmp_path / 'r'}", f"checkpoint_dir={tmp_path / 'ck'}"]


def test_model_state_reaches_every_layer_through_the_run_train_py_builds(tmp_path):
    """train.py's path: CLI routing, Hydra composition, defaults written in, the model built."""
    from harness.run import Run

    cfg = composed("model=lstm", "task=teacher", "model.state=96", "model.d_model=16", "model.n_layers=3",
                   *small_run(tmp_path))
    run = Run(cfg, output_dir=str(tmp_path / "o"))
    layers = run.model.recurrent_layers()
    assert len(layers) == 3 and all(layer.state_size() == 96 and layer.hidden == 48 for layer in layers)
    assert run.model.state_size() == 3 * 96
    assert run.cfg.model.layer.state == 96 and run.cfg.model.layer.d_state is None  # recorded as set


def test_a_budget_the_structure_cannot_reach_fails_the_run_with_one_line(tmp_path):
    from harness.run import Run

    cfg = composed("model=s4d", "task=teacher", "model.state=64", "model.d_model=64", *small_run(tmp_path))
    with pytest.raises(ConfigError, match=r"^model\.state=64: S4D holds its state in units of 128"):
        Run(cfg, output_dir=str(tmp_path / "o"))


def _curve_sweeps() -> list[str]:
    from leaderboard.sweeps import declared_sweeps

    return [s for s in declared_sweeps() if "state" not in s]


@pytest.mark.parametrize("sweep", _curve_sweeps())
def test_every_model_of_a_published_curve_holds_the_same_state(sweep: str):
    """Equal state per curve (issue: cpu track, third edition): each model a published sweep runs
    builds its layer at exactly the sweep's declared S, whatever S and width that curve runs at."""
    from benchmarks.track_step import track_models

    sizes = {}
    for model in track_models(sweep):
        cfg = composed(f"experiment=leaderboard/{sweep}", f"model={model}")
        torch.manual_seed(0)
        sizes[model] = layer_factory(cfg.model.layer)(cfg.model.d_model).state_size()
    assert set(sizes.values()) == {cfg.model.layer.state}, sizes
