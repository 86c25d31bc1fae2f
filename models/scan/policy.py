"""Which kernel runs a recurrence: the one place where impl="auto" is resolved.

Two kernel families, each with its own names:

* `scan` (models.scan.scan, the diagonal recurrence h_t = a_t h_{t-1} + b_t):
  "reference" (the sequential loop), "parallel" (chunked scan, eager),
  "compiled" (the same autograd rules, forward kernel through torch.compile);
* `selective` (models.selective_scan, Mamba's S6): "reference" (the loop),
  "scan" (exp(ΔA) and ΔBx materialised, then the `scan` family's auto),
  "fused" (a cache-blocked time loop with its own backward).

The choice is always an argument (a layer's config key or a call's `impl=`);
nothing global or in the environment changes what "auto" means.
"""
from __future__ import annotations

from typing import Literal, get_args

import torch

# The annotations of the layers' `scan_impl` arguments (so the config check knows the names).
ScanImpl = Literal["auto", "reference", "parallel", "compiled"]
SelectiveImpl = Literal["auto", "reference", "scan", "fused"]
SCAN_IMPLS: tuple[str, ...] = get_args(ScanImpl)
SELECTIVE_IMPLS: tuple[str, ...] = get_args(SelectiveImpl)
IMPLS = {"scan": SCAN_IMPLS, "selective": SELECTIVE_IMPLS}

# "auto" per family and device type; a device type not named takes the family's default.
# scan: torch.compile does not beat the eager parallel kernel on CPU, and is 8x the
#   bandwidth floor at 64M elements on an H200 (benchmarks/SCAN_64M_GPU.md).
# selective: the fused loop is blocked for CPU caches; on a GPU it would launch a few
#   small kernels per time step, so the materialising scan (a few large kernels) runs there.
_AUTO = {
    "scan": ({"cuda": "compiled"}, "parallel"),
    "selective": ({"cpu": "fused"}, "scan"),
}


def check_impl(family: str, impl: str, where: str = "impl") -> None:
    """A one-line ValueError unless `impl` names a kernel of `family`."""
    if impl not in IMPLS[family]:
        raise ValueError(f"{where}={impl}: must be one of {', '.join(IMPLS[family])}")


def resolve_impl(family: str, impl: str, device: torch.device | str) -> str:
    """The kernel that runs: `impl` itself, or for "auto" the choice for `device`."""
    check_impl(family, impl)
    if impl != "auto":
        return impl
    by_device, default = _AUTO[family]
    return by_device.get(torch.device(device).type, default)
