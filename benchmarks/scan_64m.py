"""GPU check of the scan at 64M fp32 elements (C=4096, L=16384): forward time of each CUDA path
next to the bandwidth floor (read a and b, write h, at the measured copy bandwidth).

    python -m benchmarks.scan_64m            # prints one line per path; needs CUDA
"""
from __future__ import annotations

import torch

from benchmarks.timing import copy_bandwidth, time_ms
from models.scan import scan


def main(C: int = 4096, L: int = 16384) -> None:
    dev = torch.device("cuda")
    a = torch.empty(C, device=dev).uniform_(0.5, 0.999)
    b = torch.randn(1, L, C, device=dev)
    bw = copy_bandwidth(dev)
    floor_ms = (a.numel() + 2 * b.numel()) * 4 / bw * 1e3
    print(f"{torch.cuda.get_device_name()}: copy bandwidth {bw / 1e9:.0f} GB/s; C={C},L={L} fp32 "
          f"({b.numel() / 2**20:.0f}M elements): floor {floor_ms:.3f} ms", flush=True)
    with torch.no_grad():
        for impl in ("compiled", "parallel"):
            ms = time_ms(lambda: scan(a, b, impl=impl), dev, repeats=10, warmup=2)
            print(f"scan:{impl:9s} fwd {ms:8.3f} ms = {ms / floor_ms:5.1f} x floor", flush=True)


if __name__ == "__main__":
    main()
