"""Tests for tasks/idx.py and tasks/image_sources.py (fast; no network)."""

from __future__ import annotations

import gzip
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tasks import image_sources as src  # noqa: E402
from tasks.idx import IdxFormatError, encode_idx, read_idx, write_idx  # noqa: E402
from tasks.image_sources import DataUnavailable, ImageArrays, find_images, load_images, subset_name  # noqa: E402
from tests import fakes  # noqa: E402

REAL_MNIST = Path("/work/shared/data/mnist")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
ENV_VARS = ("HARNESS_DATA_DIR", "MNIST_DIR", "FASHION_MNIST_DIR", "CIFAR10_DIR", "HF_ENDPOINT")


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    # Never touch the real default cache.
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "default-cache"))


@pytest.fixture
def no_debian(monkeypatch, tmp_path):
    monkeypatch.setattr(src, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "no-debian"))


def assert_same(arrays: ImageArrays, expected):
    tx, ty, vx, vy = expected[:4]
    for got, want in ((arrays.train_x, tx), (arrays.train_y, ty), (arrays.test_x, vx), (arrays.test_y, vy)):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    assert arrays.train_x.dtype == np.uint8 and arrays.train_y.dtype == np.int64


# --- IDX ------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_idx_roundtrip(tmp_path, gz, dtype):
    arr = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    if dtype == "u1":
        arr = np.arange(30, dtype=np.uint8).reshape(2, 3, 5) * 8
    path = tmp_path / ("a.idx" + (".gz" if gz else ""))
    write_idx(path, arr)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == gz
    back = read_idx(path)
    assert back.dtype == arr.dtype.newbyteorder("=") and back.shape == arr.shape
    np.testing.assert_array_equal(back, arr)
    back[0, 0, 0] = 1  # writable


def test_idx_header_layout_and_errors(tmp_path):
    raw = encode_idx(np.array([1, 2, 3], dtype=np.uint8))
    assert raw == bytes([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3])
    raw = encode_idx(np.array([[1], [2]], dtype=">i4"))
    assert raw[:12] == bytes([0, 0, 0x0C, 2, 0, 0, 0, 2, 0, 0, 0, 1]) and raw[12:] == b"\0\0\0\1\0\0\0\2"
    bad = tmp_path / "bad"
    bad.write_bytes(raw[:-1])
    with pytest.raises(IdxFormatError, match="holds"):
        read_idx(bad)
    bad.write_bytes(b"\1\0\x08\1\0\0\0\1x")
    with pytest.raises(IdxFormatError, match="magic"):
        read_idx(bad)
    bad.write_bytes(gzip.compress(bytes([0, 0, 0x42, 1, 0, 0, 0, 0])))
    with pytest.raises(IdxFormatError, match="type code"):
        read_idx(bad)


# --- real data ----------------------------------------------------------------------


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="real MNIST subset not present")
def test_real_mnist_subset(tmp_path):
    a = load_images("mnist", data_dir=str(REAL_MNIST), cache_dir=str(tmp_path / "c"))
    assert a.train_x.shape == (10000, 28, 28) and a.test_x.shape == (10000, 28, 28)
    assert a.train_x.dtype == np.uint8 and a.train_y.dtype == np.int64
    assert set(np.unique(a.train_y)) == set(range(10)) and set(np.unique(a.test_y)) == set(range(10))
    assert a.subset == "train10k"
    assert a.source == f"idx:{REAL_MNIST}"
    assert a.train_y[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first MNIST labels


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="real MNIST subset not present")
def test_real_mnist_via_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(REAL_MNIST))
    assert load_images("mnist", cache_dir=str(tmp_path)).source == f"idx:{REAL_MNIST}"
    monkeypatch.delenv("MNIST_DIR")
    monkeypatch.setenv("HARNESS_DATA_DIR", str(REAL_MNIST.parent))  # root with an mnist/ sub-directory
    a = load_images("mnist", cache_dir=str(tmp_path))
    assert a.source == f"idx:{REAL_MNIST}" and a.subset == "train10k"


@pytest.mark.skipif(not DEBIAN_FASHION.is_dir(), reason="dataset-fashion-mnist not installed")
def test_debian_fashion_mnist(tmp_path):
    a = load_images("fashion_mnist", cache_dir=str(tmp_path))
    assert a.source == f"debian:{DEBIAN_FASHION}"
    assert a.subset == "full"
    assert a.train_x.shape == (60000, 28, 28) and a.test_x.shape == (10000, 28, 28)
    assert a.train_y.shape == (60000,) and a.test_y.shape == (10000,)
    assert np.bincount(a.train_y).tolist() == [6000] * 10
    assert np.bincount(a.test_y).tolist() == [1000] * 10


# --- generated IDX -------------------------------------------------------------------


def test_idx_dir_prefixes_and_subset(tmp_path):
    want = fakes.write_idx_dataset(tmp_path / "d", n_train=20, n_test=7, train_prefix="train10k", gz=True)
    a = load_images("mnist", data_dir=str(tmp_path / "d"), cache_dir=str(tmp_path / "c"))
    assert_same(a, want)
    assert a.subset == "train20-test7"
    want = fakes.write_idx_dataset(tmp_path / "e", n_train=9, n_test=4, test_prefix="test", gz=False, seed=5)
    a = load_images("fashion_mnist", data_dir=str(tmp_path / "e"), cache_dir=str(tmp_path / "c"))
    assert_same(a, want)
    assert a.source == f"idx:{tmp_path / 'e'}"


def test_subset_names():
    assert subset_name("mnist", 60000, 10000) == "full"
    assert subset_name("mnist", 10000, 10000) == "train10k"
    assert subset_name("fashion_mnist", 12345, 10000) == "train12345"
    assert subset_name("cifar10", 50000, 10000) == "full"
    assert subset_name("cifar10", 60000, 10000) == "train60k"
    assert subset_name("cifar10", 50000, 5000) == "test5k"


def test_incomplete_idx_dir_is_reported(tmp_path, no_debian):
    d = tmp_path / "d"
    fakes.write_idx_dataset(d)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataUnavailable, match=r"incomplete IDX files: no complete test"):
        load_images("mnist", data_dir=str(d), cache_dir=str(tmp_path / "c"))


def test_corrupt_source_falls_through_and_is_named(tmp_path, monkeypatch):
    d = tmp_path / "d"
    fakes.write_idx_dataset(d, gz=False)
    p = d / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-5])
    monkeypatch.setattr(src, "DEBIAN_FASHION_MNIST_DIR", str(tmp_path / "nope"))
    with pytest.raises(DataUnavailable) as ei:
        load_images("fashion_mnist", data_dir=str(d), cache_dir=str(tmp_path / "c"))
    assert "unreadable: IdxFormatError" in str(ei.value)


def test_data_dir_overrides_env(tmp_path, monkeypatch):
    a_want = fakes.write_idx_dataset(tmp_path / "a", seed=1)
    fakes.write_idx_dataset(tmp_path / "b", seed=2)
    monkeypatch.setenv("MNIST_DIR", str(tmp_path / "b"))
    assert_same(load_images("mnist", data_dir=str(tmp_path / "a"), cache_dir=str(tmp_path / "c")), a_want)


# --- CIFAR-10 ---------------------------------------------------------------------


def test_cifar_pickle_batches(tmp_path):
    tx, ty, vx, vy, batches = fakes.write_cifar_pickle(tmp_path, per_batch=4, n_batches=5, n_test=3)
    for d in (tmp_path, batches):  # the parent or the batches directory itself
        a = load_images("cifar10", data_dir=str(d), cache_dir=str(tmp_path / "c"))
        assert a.train_x.shape == (20, 32, 32, 3) and a.test_x.shape == (3, 32, 32, 3)
        assert_same(a, (tx, ty, vx, vy))
        assert a.source == f"pickle:{batches}"
        assert a.subset == "train20-test3"


def test_cifar_channel_planes_interleaved(tmp_path):
    """Built by hand from the documented layout: 1024 R bytes, then G, then B."""
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    rows = np.zeros((2, 3072), dtype=np.uint8)
    r = np.arange(1024, dtype=np.uint32) % 251  # R(y, x) = (32*y + x) % 251
    rows[0, :1024] = r
    rows[0, 1024:2048] = 100  # G plane constant
    rows[0, 2048:] = 200  # B plane constant
    rows[1, 2048 + 5 * 32 + 7] = 255  # image 1: one blue pixel at (y=5, x=7)
    for name, lab in (("data_batch_1", [3, 4]), ("test_batch", [1, 2])):
        with open(d / name, "wb") as f:
            pickle.dump({b"data": rows, b"labels": lab, b"batch_label": b"x"}, f, protocol=2)
    a = load_images("cifar10", data_dir=str(tmp_path), cache_dir=str(tmp_path / "c"))
    x = a.train_x
    assert x.shape == (2, 32, 32, 3)
    assert x[0, 0, 1].tolist() == [1, 100, 200]
    assert x[0, 2, 3].tolist() == [(2 * 32 + 3) % 251, 100, 200]
    assert x[0, 31, 31].tolist() == [1023 % 251, 100, 200]
    assert x[1, 5, 7].tolist() == [0, 0, 255]
    assert int(x[1].sum()) == 255
    assert a.train_y.tolist() == [3, 4]


def test_cifar_pickle_refuses_foreign_objects(tmp_path, no_debian):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    for name in ("data_batch_1", "test_batch"):
        with open(d / name, "wb") as f:
            pickle.dump({b"data": Path("/"), b"labels": [0]}, f)
    with pytest.raises(DataUnavailable, match="refusing to load"):
        load_images("cifar10", data_dir=str(tmp_path), cache_dir=str(tmp_path / "c"))


def test_cifar_batches_in_numeric_order_and_incomplete(tmp_path, no_debian):
    tx, ty, vx, vy, batches = fakes.write_cifar_pickle(tmp_path, per_batch=1, n_batches=11, n_test=2)
    assert_same(load_images("cifar10", data_dir=batches, cache_dir=str(tmp_path / "c")), (tx, ty, vx, vy))
    os.unlink(os.path.join(batches, "test_batch"))
    with pytest.raises(DataUnavailable, match=r"incomplete CIFAR-10 batches in .* \(need data_batch_N and test_batch\)"):
        load_images("cifar10", data_dir=batches, cache_dir=str(tmp_path / "c"))


# --- parquet (hub layout) --------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "cifar10"])
def test_hf_parquet_layout(tmp_path, dataset):
    want = fakes.write_hf_parquet(tmp_path / "snap", dataset, n_train=12, n_test=5)
    a = load_images(dataset, data_dir=str(tmp_path / "snap"), cache_dir=str(tmp_path / "c"))
    assert_same(a, want)
    folder = fakes.HUB_LAYOUT[dataset][0]
    assert a.source == f"parquet:{tmp_path / 'snap' / folder}"
    assert a.subset == "train12-test5"
    shape = (32, 32, 3) if dataset == "cifar10" else (28, 28)
    assert a.train_x.shape[1:] == shape


def test_harness_data_dir_root_picks_the_right_dataset(tmp_path, monkeypatch, no_debian):
    root = tmp_path / "data"
    mn = fakes.write_hf_parquet(root / "mnist", "mnist", seed=1)
    fm = fakes.write_hf_parquet(root / "fashion_mnist", "fashion_mnist", seed=2)
    monkeypatch.setenv("HARNESS_DATA_DIR", str(root))
    assert_same(load_images("mnist", cache_dir=str(tmp_path / "c")), mn)
    assert_same(load_images("fashion_mnist", cache_dir=str(tmp_path / "c")), fm)
    # A root with only MNIST must not serve it as Fashion-MNIST.
    import shutil

    shutil.rmtree(root / "fashion_mnist")
    with pytest.raises(DataUnavailable, match=r"\$HARNESS_DATA_DIR="):
        load_images("fashion_mnist", data_dir=None, cache_dir=str(tmp_path / "c"))
    with pytest.raises(DataUnavailable, match="no IDX or parquet files"):
        load_images("fashion_mnist", data_dir=str(root), cache_dir=str(tmp_path / "c"))


# --- nothing available ---------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "cifar10"])
def test_unavailable_offline_is_fast_and_one_line(tmp_path, dataset, no_debian):
    t0 = time.perf_counter()
    with pytest.raises(DataUnavailable) as ei:
        load_images(dataset, cache_dir=str(tmp_path / "c"))
    assert time.perf_counter() - t0 < 3.0
    msg = str(ei.value)
    assert "\n" not in msg
    spec = src._SPECS[dataset]
    assert msg.startswith(f"no {spec.title} data found: tried ")
    for part in ("task.data_dir (not set)", f"${spec.env_var} (not set)", "$HARNESS_DATA_DIR (not set)",
                 f"hub {spec.hub_repo} (skipped: offline)"):
        assert part in msg
    if dataset == "fashion_mnist":
        assert "Debian dataset-fashion-mnist" in msg and "(not installed)" in msg
    else:
        assert "Debian" not in msg
    assert "task.data_dir=/path/to" in msg


def test_unavailable_reports_set_dirs_disabled_and_unreachable_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "missing"))
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    with pytest.raises(DataUnavailable) as ei:
        load_images("cifar10", cache_dir=str(tmp_path / "c"), allow_hub=False)
    msg = str(ei.value)
    assert f"$CIFAR10_DIR={tmp_path / 'missing'} (no such directory)" in msg
    assert f"$HARNESS_DATA_DIR={tmp_path} (no " in msg
    assert "hub uoft-cs/cifar10 (disabled)" in msg

    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(src, "_hub_reachable", lambda repo: False)
    with pytest.raises(DataUnavailable, match=r"hub uoft-cs/cifar10 \(unreachable\)"):
        load_images("cifar10", cache_dir=str(tmp_path / "c"))


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown image dataset"):
        load_images("svhn")


# --- hub ---------------------------------------------------------------------------------


def _parquet_files(snap, dataset) -> dict:
    base = Path(snap) / fakes.HUB_LAYOUT[dataset][0]
    return {split: str(base / f"{split}-00000-of-00001.parquet") for split in ("train", "test")}


def test_hub_path_with_stubbed_datasets(tmp_path, monkeypatch, no_debian):
    datasets = pytest.importorskip("datasets")
    want = fakes.write_hf_parquet(tmp_path / "snap", "cifar10", n_train=6, n_test=4)
    calls = []
    real_load_dataset = datasets.load_dataset

    def fake_load_dataset(repo, *args, **kwargs):
        calls.append((repo, kwargs))
        return real_load_dataset("parquet", data_files=_parquet_files(tmp_path / "snap", "cifar10"),
                                 cache_dir=str(tmp_path / "hf-cache"))

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    monkeypatch.setattr(src, "_hub_reachable", lambda repo: True)
    monkeypatch.delenv("HF_DATASETS_OFFLINE")
    monkeypatch.delenv("HF_HUB_OFFLINE")
    assert find_images("cifar10", cache_dir=str(tmp_path / "c")) == "hub:uoft-cs/cifar10" and not calls
    a = load_images("cifar10", cache_dir=str(tmp_path / "c"))
    assert calls == [("uoft-cs/cifar10", {"cache_dir": str(tmp_path / "c")})]
    assert a.source == "hub:uoft-cs/cifar10"
    assert_same(a, want)
    with pytest.raises(DataUnavailable, match="disabled"):
        load_images("cifar10", cache_dir=str(tmp_path / "c"), allow_hub=False)


def _seed_hub_cache(cache, repo: str, config: str, data_files: dict) -> None:
    """Leave `cache` as `datasets` leaves it after loading ``repo`` from the hub:
    <namespace>___<name>/<config>/<version>/<commit>/ with the prepared arrow files."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    Parquet(data_files=data_files, cache_dir=str(cache / "build"), dataset_name=repo.split("/")[1],
            config_name=config).download_and_prepare()
    (built,) = (cache / "build").glob("*/*/0.0.0")
    target = cache / repo.replace("/", "___") / config / "0.0.0"
    target.mkdir(parents=True)
    built.rename(target / "0123456789abcdef")


def test_offline_hub_data_come_from_the_datasets_cache(tmp_path, no_debian):
    """Offline (the fixture sets HF_*_OFFLINE), a hub dataset `datasets` has cached is used."""
    pytest.importorskip("datasets")
    cache = tmp_path / "hf"
    with pytest.raises(DataUnavailable, match=r"hub ylecun/mnist \(skipped: offline\)"):
        find_images("mnist", cache_dir=str(cache))
    want = fakes.write_hf_parquet(tmp_path / "snap", "mnist", n_train=8, n_test=3)
    _seed_hub_cache(cache, "ylecun/mnist", "mnist", _parquet_files(tmp_path / "snap", "mnist"))
    assert find_images("mnist", cache_dir=str(cache)) == "hub:ylecun/mnist"
    a = load_images("mnist", cache_dir=str(cache))
    assert a.source == "hub:ylecun/mnist" and a.subset == "train8-test3"
    assert_same(a, want)
    with pytest.raises(DataUnavailable, match="disabled"):
        load_images("mnist", cache_dir=str(cache), allow_hub=False)


# --- finding without reading; caching by `datasets` ------------------------------------------


def test_find_images_does_not_read(tmp_path, monkeypatch):
    d = tmp_path / "d"
    fakes.write_idx_dataset(d)

    def boom(*a, **k):
        raise AssertionError("find_images read the data")

    monkeypatch.setattr(src, "read_idx", boom)
    assert find_images("mnist", data_dir=str(d)) == f"idx:{d}"
    with pytest.raises(DataUnavailable, match="no IDX or parquet files"):
        find_images("mnist", data_dir=str(tmp_path))


def test_parquet_cache_follows_its_source(tmp_path):
    """`datasets` caches parquet tables under cache_dir and re-reads a changed file."""
    snap, cache = tmp_path / "snap", tmp_path / "cache"
    want = fakes.write_hf_parquet(snap, "mnist", n_train=10, n_test=4, seed=1)
    assert_same(load_images("mnist", data_dir=str(snap), cache_dir=str(cache)), want)
    assert any(cache.rglob("*.arrow"))
    new = fakes.write_hf_parquet(snap, "mnist", n_train=10, n_test=4, seed=2)
    train = snap / "mnist" / "train-00000-of-00001.parquet"
    st = os.stat(train)
    os.utime(train, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert_same(load_images("mnist", data_dir=str(snap), cache_dir=str(cache)), new)
