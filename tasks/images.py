"""Sequential image classification: smnist, psmnist, sfmnist, scifar.

An image becomes a sequence of pixels in row-major order, one step per pixel,
classified from the pooled output (`readout`: `mean` over all steps, or `last`).

- smnist   MNIST, 784 steps x 1 input, pixel / 255.
- psmnist  MNIST with a fixed pixel permutation: step i shows pixel perm[i] of the
           row-major image (the convention of S4's `x[permutation]` and expRNN's
           `inputs[:, permutation]`).
           `bitrev`: S4's `bitreversal_permutation(784)`: take the bit-reversal
           permutation of the next power of two, 1024 (index k -> k with its 10 bits
           reversed), in order, and drop the entries >= 784. The result starts
           0, 512, 256, 768, 128, 640, 384, 64, 576, 320, ...
           `random`: expRNN's `np.random.RandomState(92916).permutation(784)`.
- sfmnist  Fashion-MNIST, as smnist.
- scifar   CIFAR-10, 1024 steps. `rgb`: 3 inputs per step, (x/255 - mean)/std with
           mean (0.4914, 0.4822, 0.4465), std (0.247, 0.243, 0.261). `gray`: 1 input,
           (g/255 - 122.6/255) / (61/255), where g is the 8-bit ITU-R 601-2 luma of
           PIL's `Image.convert("L")` (what S4's torchvision `Grayscale()` applies to
           CIFAR's PIL images): g = (19595 R + 38470 G + 7471 B + 2^15) >> 16,
           i.e. 0.299 R + 0.587 G + 0.114 B rounded.

Splits (as S4's `split_train_val(0.1)`): of the n training images, the first
int(0.9 n) of `torch.randperm(n, generator=torch.Generator().manual_seed(42))` train
and the rest validate (60,000 -> 54,000 / 6,000; MNIST's train10k subset -> 9,000 /
1,000). The official test set is only used by `trainer.test`. The variant names the
subset when it is not the official one (`train10k`); `data_source()` gives where the
images came from and the split sizes.

Images are kept as uint8 (n, L, C) tensors and normalised per batch. Data come from
`tasks.image_sources.load_images` (task.data_dir, environment, Debian package, hub).
"""
from __future__ import annotations

import logging
import math
from typing import Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from tasks.base import EpochShuffle, Task
from tasks.image_sources import ImageArrays, load_images
from tasks.spec import TaskSpec

log = logging.getLogger(__name__)

VAL_FRACTION = 0.1
SPLIT_SEED = 42
N_CLASSES = 10
RGB_MEAN = (0.4914, 0.4822, 0.4465)
RGB_STD = (0.247, 0.243, 0.261)
GRAY_MEAN = 122.6 / 255
GRAY_STD = 61.0 / 255
EXPRNN_PERM_SEED = 92916


# -- permutations and pixel transforms ----------------------------------------------
def bitreversal_permutation(n: int) -> np.ndarray:
    """S4's bit-reversal permutation of n indices (n need not be a power of two)."""
    bits = max(1, math.ceil(math.log2(n)))
    k = np.arange(1 << bits)
    rev = np.zeros_like(k)
    for b in range(bits):
        rev |= ((k >> b) & 1) << (bits - 1 - b)
    return rev[rev < n]


def random_permutation(n: int = 784) -> np.ndarray:
    """expRNN's fixed permutation: np.random.RandomState(92916).permutation(n)."""
    return np.random.RandomState(EXPRNN_PERM_SEED).permutation(n)


def luma(rgb: np.ndarray) -> np.ndarray:
    """uint8 (..., 3) -> uint8 (...): PIL's convert("L") (ITU-R 601-2, fixed point)."""
    rgb = rgb.astype(np.uint32)
    return ((rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16).astype(np.uint8)


def split_indices(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) indices of n training images: S4's random_split with seed 42."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED)).numpy()
    n_train = int(n * (1.0 - VAL_FRACTION))
    return order[:n_train], order[n_train:]


class _Normalise:
    """Collate (uint8 sequence, label) pairs into a batch dict of float32 inputs."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        self.mean = torch.tensor(mean, dtype=torch.float32)
        self.std = torch.tensor(std, dtype=torch.float32)

    def __call__(self, items: list[tuple[torch.Tensor, torch.Tensor]]) -> dict[str, torch.Tensor]:
        x = torch.stack([i[0] for i in items]).to(torch.float32).div_(255.0)
        return {"x": (x - self.mean) / self.std, "y": torch.stack([i[1] for i in items])}


# -- the task -----------------------------------------------------------------------
class SequentialImageTask(Task):
    """Shared machinery; subclasses fix the dataset and add their protocol options."""

    name = "images"
    #: the image_sources name of the data this task reads; its YAML names it too, as
    #: `task.dataset`, so the start-up check (tasks/image_preflight.py) finds it in the
    #: config without importing this module (torch)
    dataset: str = "mnist"

    def __init__(
        self,
        dataset: str | None = None,
        data_dir: str | None = None,
        readout: Literal["mean", "last"] = "mean",
        batch_size: int = 64,
        seed: int = 0,
    ):
        super().__init__(seed)
        if dataset not in (None, type(self).dataset):
            raise ValueError(f"task.dataset={dataset}: task {self.name} reads {type(self).dataset}")
        if batch_size < 1:
            raise ValueError(f"task.batch_size={batch_size}: must be >= 1")
        self.data_dir, self.readout, self.batch_size = data_dir, readout, batch_size
        self._arrays: ImageArrays | None = None
        self._splits: dict[str, TensorDataset] = {}

    # -- what subclasses define ------------------------------------------------------
    seq_len: int = 784
    channels: int = 1

    def options(self) -> list[str]:
        """Protocol choices of this dataset for the variant (before `readout`)."""
        return []

    def to_sequences(self, images: np.ndarray) -> np.ndarray:
        """uint8 images -> uint8 (n, seq_len, channels)."""
        return images.reshape(len(images), self.seq_len, self.channels)

    def normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return (0.0,) * self.channels, (1.0,) * self.channels

    # -- Task ------------------------------------------------------------------------
    @property
    def spec(self) -> TaskSpec:
        return TaskSpec("real", self.channels, "classes", N_CLASSES, self.readout, self.seq_len)

    @property
    def variant(self) -> str:
        """Complete once the data are loaded (prepare_data/setup, before any record is
        written); before that it cannot name a non-official subset such as `train10k`."""
        subset = self._arrays.subset if self._arrays is not None else "full"
        return ",".join([self.name, *self.options(), f"readout={self.readout}"] + ([subset] if subset != "full" else []))

    def data_source(self) -> str | None:
        if self._arrays is None:
            return None
        a = self._arrays
        n_train, n_val = (len(i) for i in split_indices(len(a.train_y)))
        return (f"{a.source} (train {n_train}, val {n_val} = {VAL_FRACTION:.0%} of the training images held out "
                f"with seed {SPLIT_SEED}, test {len(a.test_y)})")

    def baselines(self) -> dict[str, float]:
        return {"chance_acc": 1.0 / N_CLASSES}

    def arrays(self) -> ImageArrays:
        """The raw images, loaded on first use (raises DataUnavailable when none is found)."""
        if self._arrays is None:
            self._arrays = load_images(self.dataset, self.data_dir)
        return self._arrays

    # -- LightningDataModule ------------------------------------------------------------
    def prepare_data(self) -> None:
        self.arrays()  # find (and cache) the data; fails fast with one line when there is none

    def setup(self, stage: str | None = None) -> None:
        if self._splits:
            return
        a = self.arrays()
        train_idx, val_idx = split_indices(len(a.train_y))
        train_seq = self.to_sequences(a.train_x)
        test_seq = self.to_sequences(a.test_x)

        def tensors(x: np.ndarray, y: np.ndarray) -> TensorDataset:
            return TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64)))

        self._splits = {
            "train": tensors(train_seq[train_idx], a.train_y[train_idx]),
            "val": tensors(train_seq[val_idx], a.train_y[val_idx]),
            "test": tensors(test_seq, a.test_y),
        }
        log.info("%s: %d train / %d val / %d test images from %s", self.name, len(train_idx), len(val_idx),
                 len(a.test_y), a.source)

    def split(self, name: str) -> TensorDataset:
        self.setup()
        return self._splits[name]

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        data = self.split(name)
        sampler = EpochShuffle(len(data), self.seed) if shuffle else None
        return DataLoader(data, batch_size=self.batch_size, sampler=sampler, num_workers=0,
                          collate_fn=_Normalise(*self.normalisation()))

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)


class SMNISTTask(SequentialImageTask):
    name = "smnist"
    dataset = "mnist"


class SFMNISTTask(SequentialImageTask):
    name = "sfmnist"
    dataset = "fashion_mnist"


class PSMNISTTask(SequentialImageTask):
    name = "psmnist"
    dataset = "mnist"

    def __init__(self, perm: Literal["bitrev", "random"] = "bitrev", **kwargs):
        super().__init__(**kwargs)
        self.perm = perm
        self.permutation = bitreversal_permutation(784) if perm == "bitrev" else random_permutation(784)

    def options(self) -> list[str]:
        return [f"perm={self.perm}"]

    def to_sequences(self, images: np.ndarray) -> np.ndarray:
        return images.reshape(len(images), 784)[:, self.permutation, None]


class SCIFARTask(SequentialImageTask):
    name = "scifar"
    dataset = "cifar10"
    seq_len = 1024

    def __init__(self, color: Literal["rgb", "gray"] = "rgb", **kwargs):
        super().__init__(**kwargs)
        self.color = color
        self.channels = 3 if color == "rgb" else 1

    def options(self) -> list[str]:
        return [f"color={self.color}"]

    def to_sequences(self, images: np.ndarray) -> np.ndarray:
        if self.color == "gray":
            images = luma(images)
        return images.reshape(len(images), 1024, self.channels)

    def normalisation(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        return (RGB_MEAN, RGB_STD) if self.color == "rgb" else ((GRAY_MEAN,), (GRAY_STD,))
