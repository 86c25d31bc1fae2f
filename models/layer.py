"""The contract every recurrent layer fulfils.

A layer maps (batch, length, d_model) -> (batch, length, d_model), causally. It
declares its parameters by role so that the optimiser (learning-rate factor, no
weight decay) and the sensitivity suite can treat every model alike.
"""
from __future__ import annotations

from torch import nn

GROUPS = ("recurrent", "angle", "norm", "other")


class RecurrentLayer(nn.Module):
    """Base class: subclasses implement `forward` and `param_groups`."""

    #: True when the recurrence is element-wise (diagonal), so one forward-mode
    #: JVP yields every channel's state sensitivity at once.
    diagonal: bool = False

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by role: `recurrent` (eigenvalue magnitude or recurrent
        matrix), `angle` (eigenvalue phase), `norm` (input normalisation / gates),
        `other`. Every parameter appears in exactly one group."""
        raise NotImplementedError

    def slow_params(self) -> list[nn.Parameter]:
        """Parameters trained with `lr * lr_factor` and no weight decay."""
        groups = self.param_groups()
        return groups["recurrent"] + groups["angle"] + groups["norm"]

    def state_size(self) -> int:
        """Real numbers in the recurrent state (a complex channel counts twice)."""
        raise NotImplementedError

    def _complete(self, groups: dict[str, list[nn.Parameter]]) -> dict[str, list[nn.Parameter]]:
        """Fill missing groups and put every undeclared parameter into `other`."""
        out = {g: list(groups.get(g, [])) for g in GROUPS}
        seen = {id(p) for ps in out.values() for p in ps}
        out["other"] += [p for p in self.parameters() if id(p) not in seen]
        return out
