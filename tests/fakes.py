"""Tiny stand-in image datasets written in the real on-disk formats.

Each writer returns the arrays it wrote, as ``(train_x, train_y, test_x, test_y)``
in the layout ``tasks.image_sources.load_images`` returns (uint8 images
(N, H, W) or (N, H, W, 3), int64 labels), so tests can compare exactly.
"""

from __future__ import annotations

import io
import json
import os
import pickle

import numpy as np

from tasks.idx import write_idx

CLASS_NAMES = [str(i) for i in range(10)]


def _rng(seed):
    return np.random.default_rng(seed)


def make_gray(n: int, seed: int = 0, size: int = 28):
    r = _rng(seed)
    return r.integers(0, 256, (n, size, size), dtype=np.uint8), r.integers(0, 10, n).astype(np.int64)


def make_rgb(n: int, seed: int = 0):
    r = _rng(seed)
    return r.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), r.integers(0, 10, n).astype(np.int64)


# --- MNIST-style IDX -----------------------------------------------------------


def write_idx_dataset(
    directory,
    n_train: int = 20,
    n_test: int = 7,
    train_prefix: str = "train",
    test_prefix: str = "t10k",
    gz: bool = True,
    seed: int = 0,
):
    """Write ``<prefix>-images-idx3-ubyte[.gz]`` / ``<prefix>-labels-idx1-ubyte[.gz]``."""
    os.makedirs(directory, exist_ok=True)
    tx, ty = make_gray(n_train, seed)
    vx, vy = make_gray(n_test, seed + 1)
    ext = ".gz" if gz else ""
    for prefix, x, y in ((train_prefix, tx, ty), (test_prefix, vx, vy)):
        write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte{ext}"), x)
        write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte{ext}"), y.astype(np.uint8))
    return tx, ty, vx, vy


# --- CIFAR-10 python pickle batches ---------------------------------------------


def hwc_to_cifar_rows(x: np.ndarray) -> np.ndarray:
    """(N, 32, 32, 3) -> (N, 3072): the R plane, then G, then B, as in the real files."""
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2).reshape(len(x), 3072))


def write_cifar_pickle(directory, per_batch: int = 4, n_batches: int = 5, n_test: int = 3, seed: int = 0):
    """Write ``cifar-10-batches-py/{data_batch_1..N,test_batch,batches.meta}`` under ``directory``.

    Returns the arrays plus the batches directory path as a 5th element.
    """
    d = os.path.join(directory, "cifar-10-batches-py")
    os.makedirs(d, exist_ok=True)
    tx, ty = make_rgb(per_batch * n_batches, seed)
    vx, vy = make_rgb(n_test, seed + 1)

    def dump(name, x, y, batch_label):
        obj = {
            b"batch_label": batch_label.encode(),
            b"labels": [int(v) for v in y],  # a plain list, as in the real files
            b"data": hwc_to_cifar_rows(x),
            b"filenames": [f"img_{i}.png".encode() for i in range(len(x))],
        }
        with open(os.path.join(d, name), "wb") as f:
            pickle.dump(obj, f, protocol=2)

    for b in range(n_batches):
        sl = slice(b * per_batch, (b + 1) * per_batch)
        dump(f"data_batch_{b + 1}", tx[sl], ty[sl], f"training batch {b + 1} of {n_batches}")
    dump("test_batch", vx, vy, "testing batch 1 of 1")
    with open(os.path.join(d, "batches.meta"), "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in CLASS_NAMES], b"num_vis": 3072}, f, protocol=2)
    return tx, ty, vx, vy, d


# --- Hugging Face parquet layout --------------------------------------------------


def png_bytes(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def _hf_metadata(image_col: str) -> dict:
    features = {
        image_col: {"_type": "Image"},
        "label": {"names": CLASS_NAMES, "_type": "ClassLabel"},
    }
    return {b"huggingface": json.dumps({"info": {"features": features}}).encode()}


def write_parquet_split(path, x: np.ndarray, y: np.ndarray, image_col: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    os.makedirs(os.path.dirname(path), exist_ok=True)
    images = pa.array(
        [{"bytes": png_bytes(img), "path": None} for img in x],
        type=pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
    )
    table = pa.table({image_col: images, "label": pa.array(y, type=pa.int64())})
    table = table.replace_schema_metadata(_hf_metadata(image_col))
    pq.write_table(table, path)


# dataset -> (config folder as on the hub, image column)
HUB_LAYOUT = {
    "mnist": ("mnist", "image"),
    "fashion_mnist": ("fashion_mnist", "image"),
    "cifar10": ("plain_text", "img"),
}


def write_hf_parquet(directory, dataset: str, n_train: int = 12, n_test: int = 5, seed: int = 0):
    """Write ``<config>/train-00000-of-00001.parquet`` and ``test-...`` as the hub repos hold them."""
    folder, image_col = HUB_LAYOUT[dataset]
    if dataset == "cifar10":
        tx, ty = make_rgb(n_train, seed)
        vx, vy = make_rgb(n_test, seed + 1)
    else:
        tx, ty = make_gray(n_train, seed)
        vx, vy = make_gray(n_test, seed + 1)
    base = os.path.join(directory, folder)
    write_parquet_split(os.path.join(base, "train-00000-of-00001.parquet"), tx, ty, image_col)
    write_parquet_split(os.path.join(base, "test-00000-of-00001.parquet"), vx, vy, image_col)
    return tx, ty, vx, vy
