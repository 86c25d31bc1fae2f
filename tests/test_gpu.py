"""A run on a GPU (trainer=gpu), where there is one: CI has none, benchmarks/device_check_track.sh
runs these on a lent machine. Both cases failed on an H200 before their fixes: the record named
the CPU (Lightning's teardown moves the module back to it before the record is written), and
the sensitivity probes died in cuDNN's RNN backward, which runs in training mode only."""
from __future__ import annotations

import pytest
import torch

from common.registry import model_names
from tests.helpers import train_here

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

SMALL = ["task=copy", "task.delay=10", "model.d_model=16", "model.n_layers=1", "debug=fast", "trainer=gpu"]


@pytest.mark.parametrize("model", [m for m in model_names() if "/" not in m])  # the ladder's are bare layers
def test_a_gpu_run_records_its_gpu_and_measures_its_sensitivity(tmp_path, model):
    rec = train_here(tmp_path, f"model={model}", *SMALL, "sensitivity.hessian=on")
    assert rec["status"] == "ok", rec["error"]
    assert rec["cost"]["device"] == torch.cuda.get_device_name(0)
    init = rec["sensitivity"]["init"]
    assert init["grad_ratio"] is not None and init["state_sens_rel_max"] is not None
    assert init["curvature"] and init["curvature"].get("error") is None, init["curvature"]  # a double backward ran
