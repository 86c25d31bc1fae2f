"""Sequential image tasks: permutations, normalisation, splits, the CIFAR path on a
generated stand-in, and short real-data runs through `train.py`."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from common.errors import UserError
from tasks import image_sources
from tasks.image_sources import DataUnavailable
from tasks.images import (
    GRAY_MEAN,
    GRAY_STD,
    RGB_MEAN,
    RGB_STD,
    PSMNISTTask,
    SCIFARTask,
    SFMNISTTask,
    SMNISTTask,
    bitreversal_permutation,
    luma,
    random_permutation,
    split_indices,
)
from tests import fakes

ROOT = Path(__file__).resolve().parents[1]
REAL_MNIST = Path("/work/shared/data/mnist")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
DATA_ENV = ("HARNESS_DATA_DIR", "MNIST_DIR", "FASHION_MNIST_DIR", "CIFAR10_DIR", "HF_ENDPOINT")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    for var in DATA_ENV:
        monkeypatch.delenv(var, raising=False)


# -- permutations -------------------------------------------------------------------
def s4_bitreversal_permutation(n: int) -> np.ndarray:
    """S4's definition (src/utils/permutations.py), restated: halve-and-stack."""
    N = 1 << int(math.ceil(math.log(n) / math.log(2)))
    perm = np.arange(N).reshape(N, 1)
    for _ in range(int(math.log(N) / math.log(2))):
        half = perm.shape[0] // 2
        perm = np.hstack((perm[:half], perm[half:]))
    perm = perm.squeeze(0)
    return np.extract(perm < n, perm)


def test_bitrev_784():
    p = bitreversal_permutation(784)
    np.testing.assert_array_equal(p, s4_bitreversal_permutation(784))
    assert sorted(p.tolist()) == list(range(784))
    assert p[:12].tolist() == [0, 512, 256, 768, 128, 640, 384, 64, 576, 320, 192, 704]
    # definition: the 10-bit reversals of 0..1023 in order, keeping those < 784
    rev = [int(format(k, "010b")[::-1], 2) for k in range(1024)]
    assert p.tolist() == [r for r in rev if r < 784]
    # a power of two gives the plain bit-reversal involution
    q = bitreversal_permutation(16)
    assert q.tolist() == [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
    np.testing.assert_array_equal(q[q], np.arange(16))


def test_random_permutation_is_exprnn():
    p = random_permutation(784)
    assert sorted(p.tolist()) == list(range(784))
    assert p[:8].tolist() == [319, 576, 323, 107, 355, 716, 197, 20]  # RandomState(92916).permutation(784)
    np.testing.assert_array_equal(p, np.random.RandomState(92916).permutation(784))


@pytest.mark.parametrize("perm", ["bitrev", "random"])
def test_psmnist_applies_permutation(tmp_path, perm):
    tx, ty, vx, vy = fakes.write_idx_dataset(tmp_path / "m", n_train=20, n_test=7)
    task = PSMNISTTask(perm=perm, data_dir=str(tmp_path / "m"), batch_size=4)
    assert task.variant == f"psmnist,perm={perm},readout=mean" and task.data_source() is None  # not loaded yet
    task.setup("fit")
    order = bitreversal_permutation(784) if perm == "bitrev" else random_permutation(784)
    x = next(iter(task.test_dataloader()))["x"]
    want = vx[:4].reshape(4, 784)[:, order].astype(np.float32) / 255
    np.testing.assert_allclose(x[..., 0].numpy(), want, rtol=0, atol=1e-7)
    assert task.variant == f"psmnist,perm={perm},readout=mean,train20-test7"


# -- grayscale, splits ----------------------------------------------------------------
def test_luma_is_pil_convert_L():
    from PIL import Image

    rgb = np.random.default_rng(0).integers(0, 256, (64, 32, 3), dtype=np.uint8)
    rgb[0, :8] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [1, 2, 3], [128, 128, 127], [7, 250, 9]]
    np.testing.assert_array_equal(luma(rgb), np.asarray(Image.fromarray(rgb).convert("L")))


def test_split_is_s4_random_split():
    for n in (20, 10000, 60000):
        tr, va = split_indices(n)
        assert len(va) == n - int(n * 0.9) and len(tr) == int(n * 0.9)
        assert len(np.intersect1d(tr, va)) == 0 and len(np.union1d(tr, va)) == n
    a, b = torch.utils.data.random_split(range(60000), (54000, 6000), generator=torch.Generator().manual_seed(42))
    tr, va = split_indices(60000)
    assert list(a.indices) == tr.tolist() and list(b.indices) == va.tolist()


# -- the CIFAR path on a stand-in in the real on-disk format -------------------------
@pytest.fixture
def cifar_dir(tmp_path):
    tx, ty, vx, vy, _ = fakes.write_cifar_pickle(tmp_path / "c", per_batch=6, n_batches=5, n_test=5)
    return tmp_path / "c", (tx, ty, vx, vy)


def test_scifar_rgb(cifar_dir):
    directory, (tx, ty, vx, vy) = cifar_dir
    task = SCIFARTask(color="rgb", data_dir=str(directory), batch_size=4, readout="last")
    task.prepare_data()
    task.setup("fit")
    s = task.spec
    assert (s.input_kind, s.d_input, s.output_kind, s.d_output, s.readout, s.seq_len) == \
        ("real", 3, "classes", 10, "last", 1024)
    assert len(task.split("train")) == 27 and len(task.split("val")) == 3 and len(task.split("test")) == 5
    batches = list(task.test_dataloader())
    assert [len(b["y"]) for b in batches] == [4, 1]
    b = batches[0]
    assert b["x"].shape == (4, 1024, 3) and b["x"].dtype == torch.float32 and b["y"].dtype == torch.int64
    want = (vx[:4].reshape(4, 1024, 3) / 255.0 - np.array(RGB_MEAN)) / np.array(RGB_STD)
    np.testing.assert_allclose(b["x"].numpy(), want, atol=1e-5)
    np.testing.assert_array_equal(b["y"].numpy(), vy[:4])
    # step 33 is row 1, column 1; the channels are R, G, B
    assert b["x"][0, 33, 2].item() == pytest.approx((vx[0, 1, 1, 2] / 255 - 0.4465) / 0.261, abs=1e-5)
    # the validation images are the held-out 10% of the training images
    _, val_idx = split_indices(30)
    v = next(iter(task.val_dataloader()))
    np.testing.assert_array_equal(v["y"].numpy(), ty[val_idx])
    assert task.variant == "scifar,color=rgb,readout=last,train30-test5"
    assert task.data_source().startswith("pickle:") and "train 27, val 3" in task.data_source()
    # shuffled training batches cover the 27 training images once per epoch
    ys = torch.cat([t["y"] for t in task.train_dataloader()])
    assert sorted(ys.tolist()) == sorted(np.delete(ty, val_idx).tolist())


def test_scifar_gray(cifar_dir):
    directory, (tx, ty, vx, vy) = cifar_dir
    task = SCIFARTask(color="gray", data_dir=str(directory), batch_size=5)
    task.setup("fit")
    assert task.spec.d_input == 1
    x = next(iter(task.test_dataloader()))["x"]
    assert x.shape == (5, 1024, 1)
    from PIL import Image

    g = np.stack([np.asarray(Image.fromarray(img).convert("L")) for img in vx]).reshape(5, 1024, 1)
    np.testing.assert_allclose(x.numpy(), (g / 255.0 - GRAY_MEAN) / GRAY_STD, atol=1e-5)
    assert GRAY_MEAN == pytest.approx(122.6 / 255) and GRAY_STD == pytest.approx(61 / 255)


def test_setup_is_idempotent(cifar_dir, monkeypatch):
    directory, _ = cifar_dir
    calls = []
    real = image_sources.load_images

    def counting(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr("tasks.images.load_images", counting)
    task = SCIFARTask(data_dir=str(directory))
    task.prepare_data()
    task.setup("fit")
    first = task.split("train")
    task.setup("fit")
    task.setup("test")
    assert len(calls) == 1 and task.split("train") is first


def test_missing_data_is_a_user_error(tmp_path):
    assert issubclass(DataUnavailable, UserError)
    task = SCIFARTask(data_dir=str(tmp_path / "nothing"))
    with pytest.raises(DataUnavailable) as err:
        task.prepare_data()
    assert "\n" not in str(err.value) and "task.data_dir=" in str(err.value)


def test_mnist_family_shapes(tmp_path):
    tx, ty, vx, vy = fakes.write_idx_dataset(tmp_path / "f", n_train=30, n_test=7)
    for cls, name in ((SMNISTTask, "smnist"), (SFMNISTTask, "sfmnist")):
        task = cls(data_dir=str(tmp_path / "f"), batch_size=7)
        task.setup()
        b = next(iter(task.test_dataloader()))
        assert b["x"].shape == (7, 784, 1)
        np.testing.assert_allclose(b["x"][..., 0].numpy(), vx.reshape(7, 784) / 255.0, atol=1e-7)
        assert task.spec.readout == "mean" and task.variant == f"{name},readout=mean,train30-test7"


# -- through train.py -----------------------------------------------------------------
def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in DATA_ENV}
    env.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
               HF_DATASETS_CACHE=str(tmp / "cache"))
    return env


def _cmd(tmp: Path, *overrides: str) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), *overrides, f"results_dir={tmp}/results",
            f"checkpoint_dir={tmp}/ck", f"hydra.run.dir={tmp}/out"]


def test_scifar_without_data_fails_fast(tmp_path):
    t0 = time.perf_counter()
    proc = subprocess.run(_cmd(tmp_path, "task=scifar"), cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - t0
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode != 0, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: no CIFAR-10 data found"), proc.stderr
    for source in ("task.data_dir", "$CIFAR10_DIR", "$HARNESS_DATA_DIR", "hub uoft-cs/cifar10"):
        assert source in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    print(f"train.py task=scifar without data: exit {proc.returncode} after {elapsed:.1f} s")
    # Generous: the time is importing torch + lightning (~5-8 s of CPU), the data check itself takes < 0.1 s.
    assert elapsed < 30
    assert not (tmp_path / "results").exists()


def _record(results: Path) -> dict:
    files = list(results.glob("*.json"))
    assert len(files) == 1, files
    return json.loads(files[0].read_text())


def test_real_data_runs(tmp_path):
    """smnist on the real MNIST subset and sfmnist on Debian's Fashion-MNIST, a few steps
    each through train.py (both processes at once to keep the suite short)."""
    runs = {}
    if REAL_MNIST.is_dir():
        runs["smnist"] = ["task=smnist", f"task.data_dir={REAL_MNIST}"]
    if DEBIAN_FASHION.is_dir():
        runs["sfmnist"] = ["task=sfmnist"]
    if not runs:
        pytest.skip("neither the MNIST subset nor Debian's Fashion-MNIST is installed")
    procs = {}
    for name, task_args in runs.items():
        tmp = tmp_path / name
        tmp.mkdir()
        cmd = _cmd(tmp, "model=lstm", *task_args, "debug=fast", "trainer.max_steps=4",
                   "trainer.val_check_interval=4", "model.d_model=16", "model.n_layers=1",
                   "sensitivity.enabled=false")
        procs[name] = (tmp, subprocess.Popen(cmd, cwd=tmp, env=_env(tmp), stdout=subprocess.PIPE,
                                             stderr=subprocess.PIPE, text=True))
    try:
        results = {name: (tmp, proc.communicate(timeout=300)[1], proc.returncode) for name, (tmp, proc) in procs.items()}
    finally:
        for _, proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for name, (tmp, err, returncode) in results.items():
        assert returncode == 0, err[-3000:]
        rec = _record(tmp / "results")
        assert rec["status"] == "ok" and rec["task"]["name"] == name
        assert rec["outcome"] == "complete"  # no solve criterion and no patience: the whole schedule, not a bound
        acc = rec["metrics"]["test"]["acc"]
        assert acc is not None and math.isfinite(acc) and 0 <= acc <= 1
        assert math.isfinite(rec["metrics"]["test"]["loss"])
        if name == "smnist":
            assert rec["task"]["variant"] == "smnist,readout=mean,train10k"
            assert "train 9000, val 1000" in rec["task"]["data_source"]
        else:
            assert rec["task"]["variant"] == "sfmnist,readout=mean"
            assert rec["task"]["data_source"].startswith("debian:")
            assert "train 54000, val 6000" in rec["task"]["data_source"]


def test_every_image_task_config_names_its_dataset_for_the_preflight():
    """The fast check reads `task.dataset` from the config: every YAML whose target is an
    image task names it, and the class refuses a name that is not its own."""
    from omegaconf import OmegaConf

    import tasks.images
    from common.config import resolve_target

    seen = {}
    for path in sorted((ROOT / "conf" / "task").glob("*.yaml")):
        node = OmegaConf.load(path).get("task") or {}
        cls = resolve_target(node["_target_"], "task")
        if isinstance(cls, type) and issubclass(cls, tasks.images.SequentialImageTask):
            assert node.get("dataset") == cls.dataset, path.name
            seen[path.stem] = cls.dataset
    assert set(seen.values()) == {"mnist", "fashion_mnist", "cifar10"}, seen
    with pytest.raises(ValueError, match="task.dataset=cifar10: task smnist reads mnist"):
        tasks.images.SMNISTTask(dataset="cifar10")


def test_preflight_loads_neither_torch_nor_datasets(tmp_path):
    """What makes `train.py` fail in a second: no heavy import on the way to the error."""
    code = ("import sys, time; t = time.perf_counter()\n"
            "from tasks.image_preflight import preflight\n"
            "try:\n    preflight({'_target_': 'tasks.images.SCIFARTask', 'dataset': 'cifar10', 'data_dir': None})\n"
            "except Exception as e:\n    print(type(e).__name__, e)\n"
            "print(sorted(m for m in ('torch', 'lightning', 'datasets') if m in sys.modules), time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(tmp_path), capture_output=True,
                         text=True, timeout=60, check=True).stdout.splitlines()
    assert out[0].startswith("DataUnavailable no CIFAR-10 data found: tried task.data_dir (not set)"), out
    heavy, seconds = out[1].rsplit(" ", 1)
    assert heavy == "[]" and float(seconds) < 2.0, out
