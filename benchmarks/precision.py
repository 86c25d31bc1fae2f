"""Which precision should the GPU trainer preset use? Times one layer fwd+bwd at batch 32,
L 784, width 128 in fp32 and under bf16 autocast (Lightning's "bf16-mixed").

    python -m benchmarks.precision
"""
from __future__ import annotations

import torch

from benchmarks.layers import config_layer
from benchmarks.timing import time_ms

# The fused cuDNN kernels against the LRU's complex scan: the two kinds of kernel the choice depends on.
COMPARED = ("lstm", "gru", "lru")


def main() -> None:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    B, L, H = 32, 784, 128
    layers = {name: config_layer(name) for name in COMPARED}
    print(f"| layer | fp32 fwd+bwd ms | bf16-mixed fwd+bwd ms | ({device}) |\n|---|--:|--:|---|")
    for name, make in layers.items():
        torch.manual_seed(0)
        module = make(H).to(device)
        x = torch.randn(B, L, H, device=device, requires_grad=True)
        times = []
        for dtype in (None, torch.bfloat16):
            def step():
                with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                    y = module(x)
                y.float().pow(2).mean().backward()
            times.append(time_ms(step, device, repeats=10, warmup=3))
        print(f"| {name} | {times[0]:.2f} | {times[1]:.2f} | |", flush=True)


if __name__ == "__main__":
    main()
