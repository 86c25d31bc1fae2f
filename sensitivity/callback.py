"""A Lightning callback that runs the sensitivity suite on a fixed probe batch at
initialisation, optionally every K steps (to the logger), and at the end.

Cost. The suite's price is set by the probes that build every recurrent state of a
layer (M1's E|h|², M3, M4, M5, M6): one (sequences, L, state_size) tensor each, per
parameter tensor for M3. Those run on the first sequences of the probe batch only,
as many as keep sequences × L × state_size ≤ `max_state_elements` (at least one);
the output activity, the gradients (M2, M8) and the curvature (M7) use the whole
probe batch. Each measurement records its seconds, per probe in `probe_seconds`,
and `record()` the suite's total `seconds`.

A cheap setting for smoke runs: n_probe=4, hessian=off, max_state_elements=2**18.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import Literal

import lightning as L
import torch

from common.keys import SUMMARY_KEYS
from sensitivity import probes
from tasks.metrics import loss_fn


class _Clock:
    """Seconds spent per probe, summed over layers."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def rounded(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.seconds.items()}


def _max(values) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return max(vals) if vals else None


class SensitivitySuite(L.Callback):
    def __init__(
        self,
        enabled: bool = True,
        every_n_steps: int | None = None,
        n_probe: int = 32,
        burn_in: float = 0.25,
        lags: list[int] = (1, 10, 100, 1000),
        hessian: Literal["auto", "on", "off"] = "auto",
        hessian_max_params: int = 20000,
        hessian_max_len: int = 512,
        hessian_iters: int = 50,
        probes: int = 2,
        max_state_elements: int = 2**22,
    ):
        if n_probe < 1 or not 0 <= burn_in < 1 or hessian_iters < 1 or probes < 1 or max_state_elements < 1:
            raise ValueError("sensitivity: need n_probe >= 1, 0 <= burn_in < 1, hessian_iters >= 1, probes >= 1, "
                             "max_state_elements >= 1")
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"sensitivity.every_n_steps={every_n_steps}: must be >= 1 or null")
        self.enabled, self.every_n_steps, self.n_probe, self.burn_in = enabled, every_n_steps, n_probe, burn_in
        self.lags, self.hessian, self.hessian_max_params = sorted(set(lags)), hessian, hessian_max_params
        self.hessian_max_len = hessian_max_len
        self.hessian_iters, self.probes, self.max_state_elements = hessian_iters, probes, max_state_elements
        self.init: dict | None = None
        self.final: dict | None = None
        self.seconds = 0.0
        self._batch: dict | None = None  # the probe batch, drawn when training starts

    # -- what gets measured ------------------------------------------------------------
    def probe_batch(self, trainer) -> dict:
        batch = next(iter(trainer.datamodule.val_dataloader()))
        # a copy: after trainer.validate the split's tensors may be inference tensors, which autograd refuses
        return {k: v[: self.n_probe].clone() for k, v in batch.items()}

    def state_sequences(self, layer, n: int, length: int) -> int:
        """How many probe sequences the state-building probes of `layer` use (module docstring)."""
        return max(1, min(n, self.max_state_elements // max(1, length * layer.state_size())))

    def measure(self, module, batch: dict, optimizer=None) -> dict:
        # The probes differentiate the model in eval mode, and twice for the curvature: cuDNN's RNN
        # kernels have a backward in training mode only and no double backward, so on a GPU the
        # LSTM, GRU and tanh RNN are measured through torch's native kernels (seen on an H200).
        with torch.backends.cudnn.flags(enabled=False):
            return self._measure(module, batch, optimizer)

    def _measure(self, module, batch: dict, optimizer=None) -> dict:
        t0 = time.perf_counter()
        clock = _Clock()
        model, spec = module.model, module.spec
        batch = {k: v.to(module.device) for k, v in batch.items()}
        was_training = model.training
        model.eval()
        try:
            with clock("capture"):
                captured = probes.capture(model, batch["x"])
            n, seq_len = batch["x"].shape[:2]
            lag_star = min(100, max(1, seq_len // 2))
            lags = sorted(set(self.lags) | {lag_star})
            layers = []
            for layer, x, y in zip(model.recurrent_layers(), captured.inputs, captured.outputs):
                xs = x[: self.state_sequences(layer, n, seq_len)]
                with clock("activity"):
                    entry = probes.activity(layer, xs, y, self.burn_in)
                entry["state_sequences"] = xs.shape[0]
                with clock("state_sens"):
                    entry.update(probes.state_sensitivity(layer, xs, self.burn_in, self.probes))
                if "state_sens" in entry and entry.get("state_m2"):
                    entry["state_sens_rel"] = entry["state_sens"] / entry["state_m2"]
                with clock("theory"):
                    entry["theory"] = probes.theory_check(layer, xs, self.burn_in)
                with clock("memory"):
                    entry["memory"] = probes.memory(layer, xs, seq_len)
                with clock("grad_flow"):
                    flow = probes.gradient_flow(layer, xs, lags)
                entry["grad_flow"] = {str(k): v for k, v in flow.items()} if flow else None
                layers.append(entry)

            def probe_loss():
                return loss_fn(spec, model(batch["x"]), batch["y"])[0]

            with clock("gradients"):
                grads = probes.gradients(model, probe_loss)
            hess = None
            small = model.num_params() <= self.hessian_max_params and seq_len <= self.hessian_max_len
            if self.hessian == "on" or (self.hessian == "auto" and small):
                with clock("curvature"):
                    try:
                        hess = probes.curvature(model, probe_loss, self.hessian_iters)
                    except RuntimeError as err:  # an op without double backward
                        hess = {"hess_top": None, "dir_sharpness": None, "error": str(err).splitlines()[0][:200]}
        finally:
            model.train(was_training)
        flows = [e["grad_flow"].get(str(lag_star)) for e in layers if e["grad_flow"]]
        summary = {
            "act_m2_max": _max(e["act_m2"] for e in layers),
            "grad_ratio": grads["ratio"],
            "state_sens_rel_max": _max(e.get("state_sens_rel") for e in layers),
            "tau_max_over_T": _max((e["memory"] or {}).get("tau_max", float("nan")) / seq_len for e in layers),
            "jac_fro_lag": sum(flows) / len(flows) if flows else None,
            "hess_top": hess["hess_top"] if hess else None,
        }
        adam_lr = probes.adam_effective_lr(model, optimizer)
        seconds = time.perf_counter() - t0
        self.seconds += seconds
        return {
            **summary,
            "jac_lag": lag_star,
            "layers": layers,
            "grad_m2": grads["model"],
            "grad_m2_layers": grads["layers"],
            "probe_loss": grads["loss"],
            "curvature": hess,
            "adam_lr": adam_lr,
            "seconds": round(seconds, 3),
            "probe_seconds": clock.rounded(),
        }

    # -- Lightning hooks --------------------------------------------------------------------
    def on_train_start(self, trainer, pl_module) -> None:
        if not self.enabled:
            return
        self._batch = self.probe_batch(trainer)
        if self.init is None:  # a resumed run keeps the measurement of its true initialisation
            with torch.enable_grad():
                self.init = self.measure(pl_module, self._batch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.enabled or not self.every_n_steps or trainer.global_step % self.every_n_steps:
            return
        with torch.enable_grad():
            m = self.measure(pl_module, self._batch, trainer.optimizers[0] if trainer.optimizers else None)
        pl_module.log_dict({f"sens/{k}": float(m[k]) for k in SUMMARY_KEYS if m[k] is not None})

    def on_train_end(self, trainer, pl_module) -> None:
        self.measure_final(trainer, pl_module)

    def measure_final(self, trainer, pl_module) -> None:
        """The trained model's measurement; the run calls it itself when a fit resumed at its step
        cap had nothing left to train (Lightning then calls no training hook)."""
        if not self.enabled:
            return
        if self._batch is None:
            self._batch = self.probe_batch(trainer)
        if not all(bool(torch.isfinite(p).all()) for p in pl_module.model.parameters()):
            return  # diverged: nothing meaningful to measure
        with torch.enable_grad():
            self.final = self.measure(pl_module, self._batch, trainer.optimizers[0] if trainer.optimizers else None)

    def state_dict(self) -> dict:
        return {"init": self.init}

    def load_state_dict(self, state: dict) -> None:
        self.init = state.get("init")

    def record(self) -> dict | None:
        if not self.enabled:
            return None
        return {"init": self.init, "final": self.final, "seconds": round(self.seconds, 2)}
