"""Find the raw images behind the sequential-image tasks: MNIST, Fashion-MNIST, CIFAR-10.

Sources, tried in order (each one tried is named in the error when none has the data):

1. ``task.data_dir``; when unset, ``$MNIST_DIR`` / ``$FASHION_MNIST_DIR`` / ``$CIFAR10_DIR``
   (the dataset's own directory), then ``$HARNESS_DATA_DIR`` (a root with one
   sub-directory per dataset: ``mnist/``, ``fashion_mnist/``, ``cifar10/``, ...).
   A directory (or its ``raw/`` or per-dataset sub-directory) may hold IDX files
   (``train*-images-idx3-ubyte[.gz]`` and labels, test prefix ``t10k`` or ``test*``),
   CIFAR-10 python batches (``data_batch_N``, ``test_batch``, possibly in
   ``cifar-10-batches-py/``), or the hub's parquet files (``train-*.parquet``,
   ``test-*.parquet``, up to 3 folders deep).
2. Fashion-MNIST only: Debian's ``dataset-fashion-mnist`` (/usr/share/datasets/fashion-mnist).
3. The Hugging Face hub (``ylecun/mnist``, ``zalando-datasets/fashion_mnist``,
   ``uoft-cs/cifar10``).

Parquet files and the hub go through ``datasets``: it caches the tables (in ``cache_dir``,
default its ``HF_DATASETS_CACHE``), decodes the images and, offline (``HF_DATASETS_OFFLINE``
or ``HF_HUB_OFFLINE``), serves a hub dataset it has cached. IDX files and CIFAR batches
are read directly. ``find_images`` locates a source without reading it or importing
``datasets`` (seconds): the preflight's check, well under a second.
"""
from __future__ import annotations

import glob
import logging
import os
import pickle
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from common.errors import UserError
from tasks.idx import read_idx

log = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}
# Looked up at call time so tests can point it elsewhere.
DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


class DataUnavailable(UserError, RuntimeError):
    """No source could supply the dataset; the message is one line naming every source tried."""


@dataclass
class ImageArrays:
    train_x: np.ndarray  # uint8, (N, H, W) grayscale or (N, H, W, 3) RGB
    train_y: np.ndarray  # int64 (N,)
    test_x: np.ndarray
    test_y: np.ndarray
    source: str  # e.g. "idx:/work/shared/data/mnist", "hub:ylecun/mnist"
    subset: str  # "full", or e.g. "train10k" when the splits are not the official sizes


@dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    image_shape: tuple
    n_train: int
    env_var: str
    aliases: tuple  # its sub-directory names under a data root
    hub_repo: str
    files: str  # its own format, for the error's how-to
    n_test: int = 10000

    @property
    def hint(self) -> str:
        how = (f"put the {self.title} {self.files} or the {self.hub_repo} parquet files in a directory and pass "
               f"task.data_dir=/path/to/dir (or set ${self.env_var}), or allow hub access.")
        if self.name == "fashion_mnist":
            return f"Install the Debian package (apt-get install dataset-fashion-mnist), or {how}"
        return how[0].upper() + how[1:]


_IDX_FILES = "IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-...)"
_SPECS = {s.name: s for s in (
    _Spec("mnist", "MNIST", (28, 28), 60000, "MNIST_DIR", ("mnist", "MNIST"), "ylecun/mnist", _IDX_FILES),
    _Spec("fashion_mnist", "Fashion-MNIST", (28, 28), 60000, "FASHION_MNIST_DIR",
          ("fashion_mnist", "fashion-mnist", "FashionMNIST"), "zalando-datasets/fashion_mnist", _IDX_FILES),
    _Spec("cifar10", "CIFAR-10", (32, 32, 3), 50000, "CIFAR10_DIR",
          ("cifar10", "cifar-10", "CIFAR10", "cifar-10-batches-py"), "uoft-cs/cifar10",
          "python batches (the extracted cifar-10-batches-py)"),
)}

Loader = Callable[[], tuple]  # -> (train_x, train_y, test_x, test_y)


class _NotHere(Exception):
    """A directory holds no usable data; the message says why (for the error line)."""


def _ls(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


# -- IDX ------------------------------------------------------------------------------
_IDX_RE = re.compile(r"^(?P<prefix>.+?)-(?P<what>images|labels)[-.]idx[13]-ubyte(\.gz)?$")


def _idx(spec: _Spec, d: str) -> tuple[str, Loader] | None:
    pairs: dict[str, dict[str, str]] = {}
    # Compressed names first, so an uncompressed copy (faster to read) replaces them.
    for name in sorted(_ls(d), key=lambda n: (not n.endswith(".gz"), n)):
        if m := _IDX_RE.match(name):
            pairs.setdefault(m["prefix"], {})[m["what"]] = os.path.join(d, name)
    if not pairs:
        return None

    def pick(is_split: Callable[[str], bool], usual: str) -> str | None:
        complete = sorted(p for p, f in pairs.items() if is_split(p.lower()) and len(f) == 2)
        return usual if usual in complete else next(iter(complete), None)

    train = pick(lambda p: p.startswith("train"), "train")
    test = pick(lambda p: p == "t10k" or p.startswith("test"), "t10k")
    if train is None or test is None:
        missing = "/".join(s for s, p in (("train", train), ("test", test)) if p is None)
        raise _NotHere(f"incomplete IDX files: no complete {missing} images+labels pair")
    files = [pairs[p][w] for p in (train, test) for w in ("images", "labels")]
    return f"idx:{d}", lambda: tuple(read_idx(f) for f in files)


# -- CIFAR-10 batches -------------------------------------------------------------------
class _NumpyOnlyUnpickler(pickle.Unpickler):
    """A batch is a dict of numpy arrays and lists; anything else in it is refused, not run."""

    _ALLOWED = {("_codecs", "encode"), ("numpy", "ndarray"), ("numpy", "dtype")} | {
        (f"numpy.{core}.multiarray", f) for core in ("core", "_core") for f in ("_reconstruct", "scalar")}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a CIFAR batch")


def _read_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    with open(path, "rb") as f:
        d = _NumpyOnlyUnpickler(f, encoding="bytes").load()
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise ValueError(f"{path}: not a CIFAR-10 python batch (no data and labels)")
    rows = np.asarray(d[b"data"], dtype=np.uint8)
    if rows.ndim != 2 or rows.shape[1] != 3072:
        raise ValueError(f"{path}: batch data has shape {rows.shape}, expected (N, 3072)")
    # Each row holds the R plane, then G, then B, each 32x32 row-major.
    return rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(d[b"labels"], dtype=np.int64)


def _cifar(spec: _Spec, d: str) -> tuple[str, Loader] | None:
    for where in (d, os.path.join(d, "cifar-10-batches-py")):
        names = _ls(where)
        train = sorted((n for n in names if re.fullmatch(r"data_batch_\d+", n)), key=lambda n: int(n[11:]))
        if train and "test_batch" in names:
            paths = [os.path.join(where, n) for n in (*train, "test_batch")]

            def load():
                xs, ys = zip(*map(_read_batch, paths[:-1]))
                return (np.concatenate(xs), np.concatenate(ys), *_read_batch(paths[-1]))

            return f"pickle:{where}", load
        if train or "test_batch" in names:
            raise _NotHere(f"incomplete CIFAR-10 batches in {where} (need data_batch_N and test_batch)")
    return None


# -- parquet files and the hub, through `datasets` ---------------------------------------------
def _load_hf(path: str, **kwargs) -> tuple:
    import datasets

    dd, out = datasets.load_dataset(path, **kwargs), []
    for ds in (dd["train"], dd["test"]):
        image = next((k for k, f in ds.features.items() if isinstance(f, datasets.Image)), None)
        label = next((k for k, f in ds.features.items() if isinstance(f, datasets.ClassLabel)), "label")
        if image is None:
            raise ValueError(f"no image column among {list(ds.features)}")
        cols = ds.select_columns([image, label]).with_format("numpy")[:]
        out += [cols[image], cols[label]]
    return tuple(out)


def _parquet(spec: _Spec, d: str, cache_dir: str | None) -> tuple[str, Loader] | None:
    others = {a for s in _SPECS.values() if s is not spec for a in s.aliases} - set(spec.aliases)
    groups: dict[str, dict[str, list[str]]] = {}  # folder -> split -> files
    for depth in range(4):
        for f in sorted(glob.glob(os.path.join(glob.escape(d), *["*"] * depth, "*.parquet"))):
            parts = os.path.relpath(f, d).lower().split(os.sep)
            parent = parts[-2] if depth else ""
            split = next((s for s in ("train", "test") if parts[-1].startswith(s) or parent == s), None)
            if split is None or others & set(os.path.relpath(f, d).split(os.sep)[:-1]):
                continue  # another dataset's folder under a shared root is not this dataset
            folder = os.path.dirname(os.path.dirname(f) if parent == split else f)
            groups.setdefault(folder, {"train": [], "test": []})[split].append(f)
    if not groups:
        return None
    complete = [g for g in groups if groups[g]["train"] and groups[g]["test"]]
    if not complete:
        raise _NotHere("parquet files found but no folder with both train-* and test-* files")
    folder = min(complete, key=lambda g: (g.count(os.sep), g))
    return f"parquet:{folder}", lambda: _load_hf("parquet", data_files=groups[folder], cache_dir=cache_dir)


def _in_datasets_cache(spec: _Spec, cache_dir: str | None) -> bool:
    """Whether `datasets` would serve the hub dataset offline: the test its
    CachedDatasetModuleFactory makes, without importing it."""
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    root = os.path.expanduser(cache_dir or os.environ.get("HF_DATASETS_CACHE") or os.path.join(home, "datasets"))
    return any(os.path.isdir(p) for p in glob.glob(os.path.join(root, spec.hub_repo.replace("/", "___"), "*", "*", "*")))


def _hub_reachable(repo: str, timeout: float = 1.5) -> bool:
    """Whether the hub answers an HTTP request within ``timeout`` s (any status counts).

    A connect is not enough: transparent proxies accept every connection and never
    answer, and `datasets` would wait out its own, much longer, timeouts."""
    import urllib.error
    import urllib.request

    url = f"{(os.environ.get('HF_ENDPOINT') or 'https://huggingface.co').rstrip('/')}/api/datasets/{repo}"
    answered = threading.Event()

    def probe():
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
        except urllib.error.HTTPError:
            pass
        except Exception:  # noqa: BLE001 - URLError, timeouts, TLS errors, bad URL
            return
        answered.set()

    # DNS lookups ignore socket timeouts, so the whole probe is bounded by a thread.
    threading.Thread(target=probe, name="hub-probe", daemon=True).start()
    return answered.wait(timeout)


# -- search ---------------------------------------------------------------------------------
def _find_in_dir(spec: _Spec, d: str, include_self: bool, cache_dir: str | None) -> tuple[str, Loader]:
    dirs = [d, os.path.join(d, "raw")] if include_self else []
    dirs += [os.path.join(d, a, *r) for a in spec.aliases for r in ((), ("raw",))]
    is_cifar = spec.name == "cifar10"
    problems = []
    for c in filter(os.path.isdir, dirs):
        for finder in (_cifar if is_cifar else _idx, lambda s, c: _parquet(s, c, cache_dir)):
            try:
                if found := finder(spec, c):
                    return found
            except _NotHere as e:
                problems.append(str(e))
    what = "CIFAR-10 batches or parquet files" if is_cifar else "IDX or parquet files"
    raise _NotHere(problems[0] if problems else
                   f"no {what}" if include_self else f"no {'/'.join(spec.aliases)} sub-directory with {what}")


def _sources(spec: _Spec, data_dir, cache_dir, allow_hub: bool, tried: list[str]) -> Iterator[tuple[str, str, Loader]]:
    """(where, source label, loader) of each source that looks usable, in search order;
    every source passed over is noted in ``tried``."""
    if data_dir:
        dirs = [("task.data_dir", os.fspath(data_dir), True)]
    else:
        tried.append("task.data_dir (not set)")
        dirs = [(f"${spec.env_var}", os.environ.get(spec.env_var), True),
                ("$HARNESS_DATA_DIR", os.environ.get("HARNESS_DATA_DIR"), False)]
    if spec.name == "fashion_mnist":
        dirs.append(("Debian dataset-fashion-mnist", DEBIAN_FASHION_MNIST_DIR, True))
    for desc, d, include_self in dirs:
        if not d:
            tried.append(f"{desc} (not set)")
            continue
        d = os.path.abspath(os.path.expanduser(d))
        debian = desc.startswith("Debian")
        if not os.path.isdir(d):
            tried.append(f"{desc}={d} ({'not installed' if debian else 'no such directory'})")
            continue
        try:
            label, load = _find_in_dir(spec, d, include_self, cache_dir)
        except _NotHere as e:
            tried.append(f"{desc}={d} ({_one_line(e)})")
            continue
        yield f"{desc}={d}", ("debian:" + label.split(":", 1)[1]) if debian else label, load

    desc = f"hub {spec.hub_repo}"
    offline = any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE"))
    if not allow_hub:
        tried.append(f"{desc} (disabled)")
    elif offline and not _in_datasets_cache(spec, cache_dir):
        tried.append(f"{desc} (skipped: offline)")
    elif not offline and not _hub_reachable(spec.hub_repo):
        cached = _in_datasets_cache(spec, cache_dir)
        tried.append(f"{desc} (unreachable{'; set HF_DATASETS_OFFLINE=1 to use its cached copy' if cached else ''})")
    else:
        yield desc, f"hub:{spec.hub_repo}", lambda: _load_hf(spec.hub_repo, cache_dir=cache_dir)


def _one_line(s, limit: int = 300) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def _spec(dataset: str) -> _Spec:
    if dataset not in _SPECS:
        raise ValueError(f"unknown image dataset {dataset!r}; expected one of {sorted(_SPECS)}")
    return _SPECS[dataset]


def _unavailable(spec: _Spec, tried: list[str]) -> DataUnavailable:
    return DataUnavailable(f"no {spec.title} data found: tried {', '.join(tried)}. {spec.hint}")


def subset_name(dataset: str, n_train: int, n_test: int) -> str:
    """"full" for the official split sizes, else e.g. "train10k" / "train10k-test5k"."""
    spec = _spec(dataset)
    tag = lambda n: f"{n // 1000}k" if n % 1000 == 0 and n else str(n)  # noqa: E731
    parts = [f"{split}{tag(n)}" for split, n, official in
             (("train", n_train, spec.n_train), ("test", n_test, spec.n_test)) if n != official]
    return "-".join(parts) or "full"


def _checked(spec: _Spec, raw: tuple, source: str) -> ImageArrays:
    out = []
    for split, x, y in (("train", *raw[:2]), ("test", *raw[2:])):
        x, y = np.ascontiguousarray(x), np.asarray(y)
        if x.dtype != np.uint8 or x.shape[1:] != spec.image_shape or not len(x):
            raise ValueError(f"{split} images are {x.dtype} {x.shape}, expected uint8 (N, {spec.image_shape})")
        if y.shape != (len(x),) or y.min() < 0 or y.max() > 9:
            raise ValueError(f"{split}: {len(x)} images but labels of shape {y.shape} (values must be 0..9)")
        out += [x, np.ascontiguousarray(y, dtype=np.int64)]
    return ImageArrays(*out, source=source, subset=subset_name(spec.name, len(out[0]), len(out[2])))


def find_images(dataset: str, data_dir=None, cache_dir=None, allow_hub: bool = True) -> str:
    """The first source that looks usable, without reading it; DataUnavailable when none does."""
    spec, tried = _spec(dataset), []
    for _, label, _ in _sources(spec, data_dir, cache_dir, allow_hub, tried):
        return label
    raise _unavailable(spec, tried)


def load_images(dataset: str, data_dir=None, cache_dir=None, allow_hub: bool = True) -> ImageArrays:
    """The images of ``dataset`` from the first source that can be read (see the module doc);
    a source that fails to read is named in the error and the search goes on."""
    spec, tried = _spec(dataset), []
    for where, label, load in _sources(spec, data_dir, cache_dir, allow_hub, tried):
        try:
            return _checked(spec, load(), label)
        except Exception as e:  # noqa: BLE001 - a broken source falls through to the next
            msg = _one_line(f"{type(e).__name__}: {e}")
            log.warning("%s: could not read %s: %s", where, label, msg)
            tried.append(f"{where} (unreadable: {msg})")
    raise _unavailable(spec, tried)


__all__ = ["DataUnavailable", "ImageArrays", "find_images", "load_images", "subset_name"]
