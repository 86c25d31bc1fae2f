"""Find, load and cache the raw image datasets behind the sequential-image tasks.

``load_images(dataset)`` returns the train/test images and labels of MNIST,
Fashion-MNIST or CIFAR-10 as numpy arrays, looking in these places in order:

1. ``data_dir`` (the task's ``task.data_dir``).  When it is not given, the
   environment instead: the per-dataset variable (``$MNIST_DIR``,
   ``$FASHION_MNIST_DIR``, ``$CIFAR10_DIR``) names the dataset's own
   directory; ``$HARNESS_DATA_DIR`` names a root that holds one sub-directory
   per dataset (``mnist/``, ``fashion_mnist/`` or ``fashion-mnist/``,
   ``cifar10/`` or ``cifar-10-batches-py/``; torchvision's ``MNIST/raw``
   style also works).  A dataset directory may hold

   * IDX files (MNIST, Fashion-MNIST): ``<train>-images-idx3-ubyte[.gz]``,
     ``<train>-labels-idx1-ubyte[.gz]``, where ``<train>`` is any prefix that
     starts with ``train`` (``train``, ``train10k``, ...), and the same for the
     test split with prefix ``t10k`` or ``test...``;
   * CIFAR-10 python batches (``data_batch_1``..``data_batch_5``,
     ``test_batch``), in the directory itself or in ``cifar-10-batches-py/``,
     the binary batches (``cifar-10-batches-bin/``), or the unextracted
     ``cifar-10-python.tar.gz``;
   * Hugging Face style parquet files (``train-*.parquet``, ``test-*.parquet``,
     searched up to 4 levels deep, e.g. ``mnist/train-00000-of-00001.parquet``
     or ``plain_text/train-00000-of-00001.parquet``).

2. Fashion-MNIST only: the Debian package ``dataset-fashion-mnist``, which
   installs ``/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``.

3. The Hugging Face hub (``ylecun/mnist``, ``zalando-datasets/fashion_mnist``,
   ``uoft-cs/cifar10``) through ``datasets.load_dataset``, only when
   ``allow_hub`` is true and neither ``HF_DATASETS_OFFLINE`` nor
   ``HF_HUB_OFFLINE`` is set, and only after a quick check (one HTTP HEAD
   request, 1.5 s at most, through the usual proxy variables) that the hub
   (``$HF_ENDPOINT``, default https://huggingface.co) answers.

When nothing is found, ``DataUnavailable`` is raised with one line naming
every source tried and how to supply the data; this takes well under 2 s
(``datasets`` is not even imported unless it is about to be used).

Prepared arrays are cached as one uncompressed ``.npz`` per dataset and
source under ``cache_dir`` (default ``$HARNESS_CACHE_DIR/images``, else
``~/.cache/harness/images``).  The cache key covers the dataset, the resolved
source path and the size and mtime of every source file, so a changed source
is re-read.  Files are written atomically (temp file + ``os.replace``).  Data
once loaded from the hub stays usable from this cache when the hub later
cannot be reached.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import pickle
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from common.errors import UserError
from tasks.idx import read_idx

log = logging.getLogger(__name__)

DatasetName = Literal["mnist", "fashion_mnist", "cifar10"]

# Bump when the cached array layout or the decoding changes.
_CACHE_FORMAT = 1
_HUB_CONNECT_TIMEOUT_S = 1.5
_PARQUET_MAX_DEPTH = 4
_SCAN_MAX_ENTRIES = 20000
_TRUE = {"1", "true", "yes", "on"}


class DataUnavailable(UserError, RuntimeError):
    """No source could supply the dataset. The message is one line (a UserError:
    the command line prints it without a traceback)."""


@dataclass
class ImageArrays:
    train_x: np.ndarray  # uint8, (N, H, W) grayscale or (N, H, W, 3) RGB
    train_y: np.ndarray  # int64 (N,)
    test_x: np.ndarray
    test_y: np.ndarray
    source: str  # e.g. "idx:/work/shared/data/mnist", "hub:ylecun/mnist"
    subset: str  # "full", or e.g. "train10k" when the splits are not the official sizes
    from_cache: bool = False  # True when the arrays came from the .npz cache


@dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    image_shape: tuple
    n_train: int
    n_test: int
    n_classes: int
    env_var: str
    aliases: tuple  # sub-directory names under $HARNESS_DATA_DIR / a data dir
    hub_repo: str
    debian_dir: str | None
    hint: str


_SPECS = {
    "mnist": _Spec(
        name="mnist",
        title="MNIST",
        image_shape=(28, 28),
        n_train=60000,
        n_test=10000,
        n_classes=10,
        env_var="MNIST_DIR",
        aliases=("mnist", "MNIST"),
        hub_repo="ylecun/mnist",
        debian_dir=None,
        hint=(
            "Put the MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) or the ylecun/mnist parquet "
            "files in a directory and pass task.data_dir=/path/to/dir (or set $MNIST_DIR), "
            "or allow hub access."
        ),
    ),
    "fashion_mnist": _Spec(
        name="fashion_mnist",
        title="Fashion-MNIST",
        image_shape=(28, 28),
        n_train=60000,
        n_test=10000,
        n_classes=10,
        env_var="FASHION_MNIST_DIR",
        aliases=("fashion_mnist", "fashion-mnist", "FashionMNIST"),
        hub_repo="zalando-datasets/fashion_mnist",
        debian_dir="/usr/share/datasets/fashion-mnist",
        hint=(
            "Install the Debian package (apt-get install dataset-fashion-mnist), or put the "
            "Fashion-MNIST IDX files or zalando-datasets/fashion_mnist parquet files in a "
            "directory and pass task.data_dir=/path/to/dir (or set $FASHION_MNIST_DIR), "
            "or allow hub access."
        ),
    ),
    "cifar10": _Spec(
        name="cifar10",
        title="CIFAR-10",
        image_shape=(32, 32, 3),
        n_train=50000,
        n_test=10000,
        n_classes=10,
        env_var="CIFAR10_DIR",
        aliases=("cifar10", "cifar-10", "CIFAR10", "cifar-10-batches-py"),
        hub_repo="uoft-cs/cifar10",
        debian_dir=None,
        hint=(
            "Download CIFAR-10 (python version) and pass "
            "task.data_dir=/path/to/cifar-10-batches-py (or set $CIFAR10_DIR), "
            "or allow hub access."
        ),
    ),
}

# The Debian path is looked up through this module attribute so tests can
# point it elsewhere.
DEBIAN_FASHION_MNIST_DIR = _SPECS["fashion_mnist"].debian_dir


# ---------------------------------------------------------------------------
# Found sources


@dataclass
class _Found:
    kind: str  # idx | pickle | cifar-bin | tar | parquet | hub
    label: str  # ImageArrays.source
    files: Sequence[str]  # files whose size/mtime key the cache
    load: Callable[[], tuple]  # -> (train_x, train_y, test_x, test_y)


class _NotHere(Exception):
    """A location holds no usable data; the message says why (for the error line)."""


def _listdir(path: str) -> list:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


# --- IDX --------------------------------------------------------------------

_IDX_RE = re.compile(r"^(?P<prefix>.+?)-(?P<what>images|labels)[-.]idx(?P<nd>[13])-ubyte(?P<gz>\.gz)?$")


def _is_train_prefix(p: str) -> bool:
    return p.lower().startswith("train")


def _is_test_prefix(p: str) -> bool:
    p = p.lower()
    return p == "t10k" or p.startswith("test")


def _find_idx(spec: _Spec, directory: str) -> _Found | None:
    pairs: dict = {}  # prefix -> {"images": path, "labels": path}
    for name in _listdir(directory):
        m = _IDX_RE.match(name)
        if not m:
            continue
        if (m["what"] == "images") != (m["nd"] == "3"):
            continue
        slot = pairs.setdefault(m["prefix"], {})
        path = os.path.join(directory, name)
        # Prefer the uncompressed file when both exist (faster to read).
        if m["what"] not in slot or not m["gz"]:
            slot[m["what"]] = path
    if not pairs:
        return None

    def pick(pred, exact: str):
        complete = [p for p in pairs if pred(p) and len(pairs[p]) == 2]
        if not complete:
            return None
        return exact if exact in complete else sorted(complete)[0]

    train = pick(_is_train_prefix, "train")
    test = pick(_is_test_prefix, "t10k")
    if train is None or test is None:
        missing = [s for s, p in (("train", train), ("test", test)) if p is None]
        raise _NotHere(f"incomplete IDX files: no complete {'/'.join(missing)} images+labels pair")
    files = [pairs[train]["images"], pairs[train]["labels"], pairs[test]["images"], pairs[test]["labels"]]

    def load():
        return tuple(read_idx(f) for f in files)

    return _Found("idx", f"idx:{directory}", files, load)


# --- CIFAR-10 python pickle batches ------------------------------------------

_BATCH_RE = re.compile(r"^data_batch_(\d+)$")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that only builds numpy arrays (and plain containers)."""

    _ALLOWED = {
        ("_codecs", "encode"),  # how Python 3 protocol-2 pickles spell bytes
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _unpickle_batch(fileobj, name: str):
    try:
        d = _NumpyOnlyUnpickler(fileobj, encoding="bytes").load()
    except Exception as e:  # noqa: BLE001 - any failure means "not a CIFAR batch"
        raise ValueError(f"{name}: not a CIFAR-10 python batch ({type(e).__name__}: {e})") from e
    if not isinstance(d, dict):
        raise ValueError(f"{name}: not a CIFAR-10 python batch (no dict)")
    data = d.get(b"data", d.get("data"))
    labels = d.get(b"labels", d.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{name}: CIFAR-10 batch lacks 'data' or 'labels'")
    data = np.asarray(data, dtype=np.uint8)
    if data.ndim != 2 or data.shape[1] != 3072:
        raise ValueError(f"{name}: CIFAR-10 batch data has shape {data.shape}, expected (N, 3072)")
    return data, np.asarray(labels, dtype=np.int64)


def _cifar_rows_to_hwc(rows: np.ndarray) -> np.ndarray:
    # Each row is the R plane, then G, then B, each 32x32 row-major.
    return np.ascontiguousarray(rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))


def _concat_batches(batches: list) -> tuple:
    x = np.concatenate([b[0] for b in batches]) if batches else np.zeros((0, 3072), np.uint8)
    y = np.concatenate([b[1] for b in batches]) if batches else np.zeros((0,), np.int64)
    return _cifar_rows_to_hwc(x), y


def _find_cifar_pickle(spec: _Spec, directory: str) -> _Found | None:
    for d in (directory, os.path.join(directory, "cifar-10-batches-py")):
        names = _listdir(d)
        train = sorted((int(m[1]), n) for n in names if (m := _BATCH_RE.match(n)))
        if not train and "test_batch" not in names:
            continue
        if not train or "test_batch" not in names:
            raise _NotHere(f"incomplete CIFAR-10 batches in {d} (need data_batch_N and test_batch)")
        train_files = [os.path.join(d, n) for _, n in train]
        test_file = os.path.join(d, "test_batch")

        def load(train_files=train_files, test_file=test_file):
            def read(path):
                with open(path, "rb") as f:
                    return _unpickle_batch(f, path)

            tx, ty = _concat_batches([read(p) for p in train_files])
            vx, vy = _concat_batches([read(test_file)])
            return tx, ty, vx, vy

        return _Found("pickle", f"pickle:{d}", train_files + [test_file], load)
    return None


# --- CIFAR-10 binary batches --------------------------------------------------

_BIN_RE = re.compile(r"^data_batch_(\d+)\.bin$")


def _read_cifar_bin(path: str) -> tuple:
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 3073:
        raise ValueError(f"{path}: size {raw.size} is not a multiple of 3073 (label + 3072 pixels)")
    recs = raw.reshape(-1, 3073)
    return recs[:, 1:], recs[:, 0].astype(np.int64)


def _find_cifar_bin(spec: _Spec, directory: str) -> _Found | None:
    for d in (directory, os.path.join(directory, "cifar-10-batches-bin")):
        names = _listdir(d)
        train = sorted((int(m[1]), n) for n in names if (m := _BIN_RE.match(n)))
        if not train or "test_batch.bin" not in names:
            continue
        train_files = [os.path.join(d, n) for _, n in train]
        test_file = os.path.join(d, "test_batch.bin")

        def load(train_files=train_files, test_file=test_file):
            tx, ty = _concat_batches([_read_cifar_bin(p) for p in train_files])
            vx, vy = _concat_batches([_read_cifar_bin(test_file)])
            return tx, ty, vx, vy

        return _Found("cifar-bin", f"cifar-bin:{d}", train_files + [test_file], load)
    return None


# --- CIFAR-10 python tarball --------------------------------------------------


def _find_cifar_tar(spec: _Spec, directory: str) -> _Found | None:
    path = os.path.join(directory, "cifar-10-python.tar.gz")
    if not os.path.isfile(path):
        return None

    def load():
        import tarfile

        train, test = [], None
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                base = os.path.basename(member.name)
                if not member.isfile():
                    continue
                if _BATCH_RE.match(base):
                    with tar.extractfile(member) as f:
                        train.append((int(_BATCH_RE.match(base)[1]), _unpickle_batch(f, f"{path}:{member.name}")))
                elif base == "test_batch":
                    with tar.extractfile(member) as f:
                        test = _unpickle_batch(f, f"{path}:{member.name}")
        if not train or test is None:
            raise ValueError(f"{path}: archive lacks data_batch_N or test_batch")
        tx, ty = _concat_batches([b for _, b in sorted(train, key=lambda t: t[0])])
        vx, vy = _concat_batches([test])
        return tx, ty, vx, vy

    return _Found("tar", f"tar:{path}", [path], load)


# --- Parquet (Hugging Face layout) ---------------------------------------------


def _walk_parquet(root: str, skip: frozenset = frozenset()) -> list:
    """Parquet files under ``root``, at most _PARQUET_MAX_DEPTH levels deep.

    Sub-directories named in ``skip`` (other datasets' folders) are not entered.
    """
    found, seen = [], 0
    stack = [(root, 0)]
    while stack:
        d, depth = stack.pop()
        for name in _listdir(d):
            seen += 1
            if seen > _SCAN_MAX_ENTRIES:
                return found
            if name.startswith("."):
                continue
            p = os.path.join(d, name)
            if name.endswith(".parquet") and os.path.isfile(p):
                found.append(p)
            elif depth < _PARQUET_MAX_DEPTH and name not in skip and os.path.isdir(p):
                stack.append((p, depth + 1))
    return found


def _split_of(path: str) -> str | None:
    name = os.path.basename(path).lower()
    parent = os.path.basename(os.path.dirname(path)).lower()
    if name.startswith("train") or parent == "train":
        return "train"
    if name.startswith("test") or parent == "test":
        return "test"
    return None


def _find_parquet(spec: _Spec, directory: str) -> _Found | None:
    others = frozenset(a for s in _SPECS.values() if s.name != spec.name for a in s.aliases) - set(spec.aliases)
    files = _walk_parquet(directory, others)
    if not files:
        return None
    groups: dict = {}  # folder holding the split files -> {"train": [...], "test": [...]}
    for f in files:
        split = _split_of(f)
        if split is None:
            continue
        folder = os.path.dirname(f)
        if os.path.basename(folder).lower() in ("train", "test"):
            folder = os.path.dirname(folder)
        groups.setdefault(folder, {"train": [], "test": []})[split].append(f)
    complete = [g for g in groups if groups[g]["train"] and groups[g]["test"]]
    if not complete:
        raise _NotHere("parquet files found but no folder with both train-* and test-* files")
    # Shallowest complete folder first, then alphabetical.
    folder = min(complete, key=lambda g: (g.count(os.sep), g))
    train_files = sorted(groups[folder]["train"])
    test_files = sorted(groups[folder]["test"])
    return _Found(
        "parquet",
        f"parquet:{folder}",
        train_files + test_files,
        lambda: _load_parquet(spec, train_files, test_files),
    )


# ---------------------------------------------------------------------------
# Decoding tables of encoded images (parquet files and hub datasets)


def _pick_columns(schema) -> tuple:
    import pyarrow as pa

    names = list(schema.names)
    image_col = next((n for n in ("image", "img") if n in names), None)
    if image_col is None:
        for field in schema:
            t = field.type
            if pa.types.is_struct(t) and t.get_field_index("bytes") >= 0:
                image_col = field.name
                break
    label_col = next((n for n in ("label", "labels", "fine_label") if n in names), None)
    if label_col is None:
        for field in schema:
            if pa.types.is_integer(field.type):
                label_col = field.name
                break
    if image_col is None or label_col is None:
        raise ValueError(f"cannot find image and label columns among {names}")
    return image_col, label_col


def _decode_table(table, spec: _Spec, where: str) -> tuple:
    """(images uint8, labels int64) from an Arrow table with encoded images."""
    import pyarrow as pa
    from PIL import Image

    image_col, label_col = _pick_columns(table.schema)
    col = table.column(image_col).combine_chunks()
    if pa.types.is_struct(col.type):
        blobs = col.field("bytes").to_pylist() if col.type.get_field_index("bytes") >= 0 else [None] * len(col)
        paths = col.field("path").to_pylist() if col.type.get_field_index("path") >= 0 else [None] * len(col)
    elif pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        blobs, paths = col.to_pylist(), [None] * len(col)
    else:
        raise ValueError(f"{where}: column {image_col!r} has type {col.type}, expected encoded images")
    labels = np.asarray(table.column(label_col).to_numpy(), dtype=np.int64)
    mode = "RGB" if len(spec.image_shape) == 3 else "L"
    out = np.empty((len(blobs),) + tuple(spec.image_shape), dtype=np.uint8)
    for i, (blob, p) in enumerate(zip(blobs, paths)):
        if blob is not None:
            img = Image.open(io.BytesIO(blob))
        elif p and os.path.isfile(p):
            img = Image.open(p)
        else:
            raise ValueError(f"{where}: row {i} has neither image bytes nor a readable path")
        if img.mode != mode:
            img = img.convert(mode)
        arr = np.asarray(img)
        if arr.shape != out.shape[1:]:
            raise ValueError(f"{where}: row {i} image has shape {arr.shape}, expected {out.shape[1:]}")
        out[i] = arr
    return out, labels


def _load_parquet(spec: _Spec, train_files: list, test_files: list) -> tuple:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def read(files):
        tables = []
        for f in files:
            t = pq.read_table(f)
            tables.append(t.select(list(_pick_columns(t.schema))))
        return _decode_table(pa.concat_tables(tables), spec, files[0])

    tx, ty = read(train_files)
    vx, vy = read(test_files)
    return tx, ty, vx, vy


# ---------------------------------------------------------------------------
# Hub


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _hub_offline() -> bool:
    return _env_true("HF_DATASETS_OFFLINE") or _env_true("HF_HUB_OFFLINE")


def _hub_reachable(repo: str, timeout: float = _HUB_CONNECT_TIMEOUT_S) -> bool:
    """Whether the hub answers an HTTP request within ``timeout`` seconds in total.

    Asks ``$HF_ENDPOINT/api/datasets/<repo>`` (through the usual proxy
    variables); any HTTP answer, even an error status, counts as reachable.
    A bare TCP connect is not enough: sandboxes with transparent proxies
    accept every connection and then never answer.
    """
    import urllib.error
    import urllib.request

    endpoint = (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")
    url = f"{endpoint}/api/datasets/{repo}"
    result = []

    def probe():
        try:
            req = urllib.request.Request(url, method="HEAD")
            with urllib.request.urlopen(req, timeout=timeout):
                pass
            result.append(True)
        except urllib.error.HTTPError:
            result.append(True)
        except Exception:  # noqa: BLE001 - URLError, timeouts, TLS errors, bad URL
            result.append(False)

    # DNS lookups ignore socket timeouts, so bound the whole probe with a thread.
    t = threading.Thread(target=probe, name="hub-probe", daemon=True)
    t.start()
    t.join(timeout)
    return bool(result and result[0])


def _load_hub(spec: _Spec) -> tuple:
    import datasets

    dd = datasets.load_dataset(spec.hub_repo)
    out = []
    for split in ("train", "test"):
        ds = dd[split]
        table = ds.with_format("arrow")[:]
        x, y = _decode_table(table, spec, f"hub:{spec.hub_repo}[{split}]")
        out += [x, y]
    return tuple(out)


# ---------------------------------------------------------------------------
# Cache


def _default_cache_dir() -> str:
    root = os.environ.get("HARNESS_CACHE_DIR")
    if root:
        return os.path.join(root, "images")
    return os.path.join(os.path.expanduser("~"), ".cache", "harness", "images")


def _cache_key(spec: _Spec, found: _Found) -> str:
    stats = []
    for f in found.files:
        st = os.stat(f)
        stats.append([os.path.realpath(f), st.st_size, st.st_mtime_ns])
    blob = json.dumps([_CACHE_FORMAT, spec.name, found.kind, found.label, stats], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _hub_cache_key(spec: _Spec) -> str:
    blob = json.dumps([_CACHE_FORMAT, spec.name, "hub", spec.hub_repo])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _cache_path(cache_dir: str, spec: _Spec, key: str) -> str:
    return os.path.join(cache_dir, f"{spec.name}-{key}.npz")


def _read_cache(path: str, spec: _Spec) -> ImageArrays | None:
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["dataset"]) != spec.name or int(z["format"]) != _CACHE_FORMAT:
                return None
            return ImageArrays(
                train_x=z["train_x"],
                train_y=z["train_y"],
                test_x=z["test_x"],
                test_y=z["test_y"],
                source=str(z["source"]),
                subset=str(z["subset"]),
                from_cache=True,
            )
    except Exception as e:  # noqa: BLE001 - a bad cache file is rebuilt
        log.warning("ignoring unreadable image cache %s (%s)", path, e)
        return None


def _write_cache(path: str, spec: _Spec, arrays: ImageArrays) -> None:
    directory = os.path.dirname(path)
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                train_x=arrays.train_x,
                train_y=arrays.train_y,
                test_x=arrays.test_x,
                test_y=arrays.test_y,
                source=np.array(arrays.source),
                subset=np.array(arrays.subset),
                dataset=np.array(spec.name),
                format=np.array(_CACHE_FORMAT),
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
    except OSError as e:
        log.warning("could not write image cache %s (%s); continuing without it", path, e)
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


# ---------------------------------------------------------------------------
# Validation and subset naming


def _count_tag(n: int) -> str:
    return f"{n // 1000}k" if n % 1000 == 0 and n else str(n)


def subset_name(spec_or_name, n_train: int, n_test: int) -> str:
    """"full" for the official split sizes, else e.g. "train10k" / "train10k-test5k"."""
    spec = _SPECS[spec_or_name] if isinstance(spec_or_name, str) else spec_or_name
    parts = []
    if n_train != spec.n_train:
        parts.append(f"train{_count_tag(n_train)}")
    if n_test != spec.n_test:
        parts.append(f"test{_count_tag(n_test)}")
    return "-".join(parts) or "full"


def _finish(spec: _Spec, raw: tuple, source: str) -> ImageArrays:
    tx, ty, vx, vy = raw
    out = []
    for split, x, y in (("train", tx, ty), ("test", vx, vy)):
        x = np.asarray(x)
        y = np.asarray(y)
        if x.dtype != np.uint8:
            raise ValueError(f"{split} images have dtype {x.dtype}, expected uint8")
        if x.ndim != 1 + len(spec.image_shape) or tuple(x.shape[1:]) != tuple(spec.image_shape):
            raise ValueError(f"{split} images have shape {x.shape}, expected (N, {', '.join(map(str, spec.image_shape))})")
        if y.ndim != 1 or len(y) != len(x):
            raise ValueError(f"{split}: {len(x)} images but labels of shape {y.shape}")
        if len(x) == 0:
            raise ValueError(f"{split} split is empty")
        y = y.astype(np.int64, copy=False)
        if y.min() < 0 or y.max() >= spec.n_classes:
            raise ValueError(f"{split} labels outside 0..{spec.n_classes - 1}")
        out += [np.ascontiguousarray(x), np.ascontiguousarray(y)]
    return ImageArrays(*out, source=source, subset=subset_name(spec, len(out[0]), len(out[2])))


# ---------------------------------------------------------------------------
# Search


def _find_in_dir(spec: _Spec, directory: str, include_self: bool = True) -> _Found:
    """The data in ``directory`` (or its per-dataset sub-directories); raises _NotHere."""
    candidates = []
    if include_self:
        candidates += [directory, os.path.join(directory, "raw")]
    for alias in spec.aliases:
        sub = os.path.join(directory, alias)
        candidates += [sub, os.path.join(sub, "raw")]
    candidates = [c for c in candidates if os.path.isdir(c)]
    if spec.name == "cifar10":
        finders = (_find_cifar_pickle, _find_cifar_bin, _find_cifar_tar, _find_parquet)
        what = "CIFAR-10 batches or parquet files"
    else:
        finders = (_find_idx, _find_parquet)
        what = "IDX or parquet files"
    problems = []
    for c in candidates:
        for finder in finders:
            try:
                found = finder(spec, c)
            except _NotHere as e:
                problems.append(str(e))
                continue
            if found is not None:
                return found
    if problems:
        raise _NotHere(problems[0])
    if not include_self:
        raise _NotHere(f"no {'/'.join(spec.aliases)} sub-directory with {what}")
    raise _NotHere(f"no {what}")


def _local_locations(spec: _Spec, data_dir: str | None) -> Iterable[tuple]:
    """(description, directory or None, include_self) in search order."""
    if data_dir is not None and str(data_dir) != "":
        yield "task.data_dir", os.fspath(data_dir), True
        return
    yield "task.data_dir", None, True
    yield f"${spec.env_var}", os.environ.get(spec.env_var) or None, True
    yield "$HARNESS_DATA_DIR", os.environ.get("HARNESS_DATA_DIR") or None, False


def _one_line(s: str, limit: int = 300) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def load_images(
    dataset: DatasetName,
    data_dir: str | None = None,
    cache_dir: str | None = None,
    allow_hub: bool = True,
) -> ImageArrays:
    """Load ``dataset`` from the first source that has it; see the module docstring."""
    if dataset not in _SPECS:
        raise ValueError(f"unknown image dataset {dataset!r}; expected one of {sorted(_SPECS)}")
    spec = _SPECS[dataset]
    cache_dir = os.fspath(cache_dir) if cache_dir else _default_cache_dir()
    tried = []

    def from_found(found: _Found) -> ImageArrays:
        path = _cache_path(cache_dir, spec, _cache_key(spec, found))
        cached = _read_cache(path, spec)
        if cached is not None:
            return cached
        t0 = time.perf_counter()
        arrays = _finish(spec, found.load(), found.label)
        log.info("loaded %s from %s in %.2fs", spec.title, found.label, time.perf_counter() - t0)
        _write_cache(path, spec, arrays)
        return arrays

    def try_dir(desc: str, directory: str, include_self: bool, label_kind: str | None = None):
        directory = os.path.abspath(os.path.expanduser(directory))
        if not os.path.isdir(directory):
            tried.append(f"{desc}={directory} (no such directory)")
            return None
        try:
            found = _find_in_dir(spec, directory, include_self)
        except _NotHere as e:
            tried.append(f"{desc}={directory} ({_one_line(e)})")
            return None
        if label_kind is not None:
            found.label = f"{label_kind}:{found.label.split(':', 1)[1]}"
        try:
            return from_found(found)
        except Exception as e:  # noqa: BLE001 - a broken source falls through to the next
            msg = _one_line(f"{type(e).__name__}: {e}")
            log.warning("%s: could not read %s: %s", desc, found.label, msg)
            tried.append(f"{desc}={directory} (unreadable: {msg})")
            return None

    # 1. data_dir, else environment variables
    for desc, directory, include_self in _local_locations(spec, data_dir):
        if directory is None:
            tried.append(f"{desc} (not set)")
            continue
        arrays = try_dir(desc, directory, include_self)
        if arrays is not None:
            return arrays

    # 2. Debian package (Fashion-MNIST)
    if spec.name == "fashion_mnist":
        deb = DEBIAN_FASHION_MNIST_DIR
        desc = f"Debian dataset-fashion-mnist {deb}"
        if not os.path.isdir(deb):
            tried.append(f"{desc} (not installed)")
        else:
            arrays = try_dir("Debian dataset-fashion-mnist", deb, True, label_kind="debian")
            if arrays is not None:
                return arrays

    # 3. Hugging Face hub
    desc = f"hub {spec.hub_repo}"
    if not allow_hub:
        tried.append(f"{desc} (disabled)")
    else:
        hub_path = _cache_path(cache_dir, spec, _hub_cache_key(spec))
        cached = _read_cache(hub_path, spec)
        if cached is not None:
            return cached
        if _hub_offline():
            tried.append(f"{desc} (skipped: offline)")
        elif not _hub_reachable(spec.hub_repo):
            tried.append(f"{desc} (unreachable)")
        else:
            try:
                arrays = _finish(spec, _load_hub(spec), f"hub:{spec.hub_repo}")
            except Exception as e:  # noqa: BLE001
                msg = _one_line(f"{type(e).__name__}: {e}")
                log.warning("hub %s failed: %s", spec.hub_repo, msg)
                tried.append(f"{desc} (failed: {msg})")
            else:
                _write_cache(hub_path, spec, arrays)
                return arrays

    raise DataUnavailable(f"no {spec.title} data found: tried {', '.join(tried)}. {spec.hint}")


__all__ = ["DataUnavailable", "ImageArrays", "load_images", "subset_name"]
