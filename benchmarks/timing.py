"""Timing, peak-memory and bandwidth measurement helpers (one job: measuring).

* time: median wall-clock milliseconds over ``repeats`` calls after ``warmup``
  calls (CUDA: synchronised before and after each call).
* peak memory:
  - CUDA: ``torch.cuda.max_memory_allocated`` during one call, minus what was
    allocated before it;
  - CPU: torch has no allocator statistics on CPU, so one call is run under
    ``torch.profiler`` with ``profile_memory=True`` and the allocation/free events
    that torch's CPU allocator reports are replayed in time order; the peak of
    their running sum is returned.  It counts tensors created during the call
    (activations saved for backward, temporaries, outputs, gradients), not
    inputs that already existed, nor allocator caching or non-torch memory.
    Allocations that are freed inside one single op are not seen.
* bandwidth (CUDA): a large tensor clone, bytes read + written / median time.
"""
from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable

import torch

__all__ = ["time_ms", "peak_bytes", "cpu_peak_bytes", "cuda_peak_bytes", "copy_bandwidth", "sync"]


def sync(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_ms(fn: Callable[[], object], device="cpu", repeats: int = 5, warmup: int = 1) -> float:
    """Median wall-clock time of ``fn()`` in milliseconds."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the profiler's C++ start/stop chatter on file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _allocation_events(prof):
    """(time_ns, bytes) of every allocation (+) / free (-) seen by the profiler, time-ordered."""
    try:
        from torch._C._profiler import _EventType

        stack = list(prof.profiler.kineto_results.experimental_event_tree())
        out = []
        while stack:
            e = stack.pop()
            stack.extend(e.children)
            if e.tag == _EventType.Allocation and e.extra_fields.device.type == "cpu":
                out.append((e.start_time_ns, e.extra_fields.alloc_size))
        return sorted(out)
    except Exception:  # noqa: BLE001 - private API moved: coarser per-op accounting
        evs = [e for e in prof.events() if e.self_cpu_memory_usage]
        return sorted((e.time_range.start, e.self_cpu_memory_usage) for e in evs)


def cpu_peak_bytes(fn: Callable[[], object]) -> int:
    """Peak bytes held by torch's CPU allocator during ``fn()`` (profiler memory events)."""
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
        del out
    cur = peak = 0
    for _, nbytes in _allocation_events(prof):
        cur += nbytes
        peak = max(peak, cur)
    return peak


def cuda_peak_bytes(fn: Callable[[], object], device="cuda") -> int:
    """Peak bytes allocated by the CUDA caching allocator during ``fn()``, above the start."""
    torch.cuda.synchronize(device)
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    out = fn()
    torch.cuda.synchronize(device)
    del out
    return torch.cuda.max_memory_allocated(device) - base


def peak_bytes(fn: Callable[[], object], device="cpu") -> int:
    if torch.device(device).type == "cuda":
        return cuda_peak_bytes(fn, device)
    return cpu_peak_bytes(fn)


def copy_bandwidth(device="cuda", nbytes: int = 1 << 30, repeats: int = 20) -> float:
    """Device copy bandwidth in bytes/s: clone of an ``nbytes`` tensor (read + write)."""
    x = torch.empty(nbytes // 4, dtype=torch.float32, device=device).uniform_()
    ms = time_ms(lambda: x.clone(), device, repeats=repeats, warmup=3)
    return 2 * x.numel() * 4 / (ms * 1e-3)
