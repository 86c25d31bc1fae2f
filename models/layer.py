"""The contract every recurrent layer fulfils: everything the backbone, the optimiser
and the sensitivity suite call on a layer is declared here, with one signature each.

A layer maps (batch, length, d_model) -> (batch, length, d_model), causally, and
implements `forward` and `state_size`. It declares what each of its parameters is
once, in `param_roles`: a role (the sensitivity suite's groups) and whether it is
*slow* (the optimiser's rule). Both the optimiser groups (tasks.optim) and the
suite's groups (`param_groups`) are derived from that one table.

Every layer sizes itself to a recurrent-state budget through one constructor
argument, `state: int | None = None` (the command line's `model.state=S`, the same
key for every model). When set, it decides the layer's size argument (`d_state`, or
the hidden size of the torch RNNs) so that `state_size()` is S, or the nearest size
the structure allows: the layer holds its state in units of `u` real numbers (one
hidden unit, an LSTM's (h, c) pair, a complex channel, one mode in every channel, ...)
and takes `round(S / u)` of them, halves rounding up (`state_units`), so its state is
within u/2 of S. A budget below one unit, or a size argument set beside it, is a
one-line ValueError; the size argument defaults to None (the layer's own default
size) so that a size the config sets can be told from one it leaves out. Each
layer's docstring names its unit and the size it sets.

The probe methods (`states`, `eigenvalues`, `gradient_flow`, `drive`,
`input_scale`) have a default here that returns None, meaning "this layer cannot
say"; the suite then leaves that measurement out of the record rather than
guessing. Callers never probe with hasattr.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch
from torch import nn

ROLES = ("recurrent", "angle", "norm", "other")
GROUPS = ROLES  # the sensitivity suite's name for the roles (M2, M8)


@dataclass(frozen=True)
class ParamRole:
    """What one parameter is.

    role: `recurrent` (eigenvalue magnitude, or the recurrent matrix of a dense or
          gated layer), `angle` (eigenvalue phase), `norm` (input normalisation γ,
          selective / input gates), `other` (input and output maps, skips).
    slow: trained with `lr * lr_factor` and no weight decay. The LRU paper's rule
          (App. D.2, SPEC §3): λ/ν, θ, γ and B for the LRU; A and Δ for SSMs.
          Everything else gets the base learning rate, with weight decay on
          matrices only.
    """

    role: str
    slow: bool

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"parameter role {self.role!r}: must be one of {', '.join(ROLES)}")


OTHER = ParamRole("other", slow=False)


def group_by_role(named_roles: Iterable[tuple[str, nn.Parameter, ParamRole]]) -> dict[str, list[nn.Parameter]]:
    """{role: parameters}, every role present (possibly empty)."""
    groups: dict[str, list[nn.Parameter]] = {r: [] for r in ROLES}
    for _, p, role in named_roles:
        groups[role.role].append(p)
    return groups


def require_input(layer: nn.Module, x: torch.Tensor | None) -> torch.Tensor:
    """x itself; a one-line error where an input-dependent probe was called without it."""
    if x is None:
        raise ValueError(f"{type(layer).__name__}.eigenvalues depends on the input: pass the layer input x")
    return x


def state_units(state: int | None, unit: int, *, layer: str, unit_name: str,
                size_key: str = "d_state", size: int | None = None) -> int | None:
    """How many units of `unit` real state numbers the budget `state` buys: round(S/u),
    halves up, so the state is within u/2 of S; None when no budget is set.

    `size` is the size argument the budget would decide: setting both is ambiguous,
    so it is an error rather than one silently winning."""
    if state is None:
        return None
    if size is not None:
        raise ValueError(f"model.state={state} and model.{size_key}={size}: the state budget sets "
                         f"{size_key}, so set only one of them")
    if state < unit:
        raise ValueError(f"model.state={state}: {layer} holds its state in units of {unit} "
                         f"({unit_name}), so it cannot be sized below {unit}")
    return (2 * state + unit) // (2 * unit)


class RecurrentLayer(nn.Module):
    """Base class. Subclasses implement `forward`, `state_size` and `param_roles`, and
    override the probe methods they can answer."""

    #: The recurrence is element-wise: state channel i depends on its own eigenvalue
    #: alone, so one forward-mode JVP with an all-ones tangent gives every channel's
    #: derivative at once (M3), and Σ|λ_i|^{2k} is ‖∂h_T/∂h_{T-k}‖² (M6).
    diagonal: bool = False

    #: `states` can be differentiated in forward mode (torch.func.jvp). When False
    #: (a fused kernel without forward-mode rules) the suite's M3 uses float64
    #: central differences instead: two passes per tangent.
    forward_ad: bool = True

    # -- what every layer declares ------------------------------------------------------
    def state_size(self) -> int:
        """Real numbers in the recurrent state (a complex channel counts twice, an
        LSTM's is h and c); `state=S` in the constructor sizes it (module docstring)."""
        raise NotImplementedError

    def param_roles(self) -> dict[str, ParamRole]:
        """Role of each parameter, keyed by its name in `named_parameters()`. A
        parameter left out is `OTHER` (base learning rate, not slow)."""
        return {}

    # -- derived from `param_roles`: never overridden -------------------------------------
    def named_roles(self) -> Iterator[tuple[str, nn.Parameter, ParamRole]]:
        """Every parameter with its role; a declared name that is not a parameter is an error."""
        declared = self.param_roles()
        params = dict(self.named_parameters())
        unknown = sorted(set(declared) - set(params))
        if unknown:
            raise ValueError(f"{type(self).__name__}.param_roles names no parameter: {', '.join(unknown)}")
        for name, p in params.items():
            yield name, p, declared.get(name, OTHER)

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters by role (every parameter in exactly one group), for the suite."""
        return group_by_role(self.named_roles())

    # -- probes: None where the layer cannot answer ----------------------------------------
    def states(self, x: torch.Tensor) -> torch.Tensor | None:
        """Every recurrent state for the layer input x (batch, L, d_model): (batch, L, S),
        S state channels (complex for complex layers)."""
        return None

    def eigenvalues(self, x: torch.Tensor | None = None) -> torch.Tensor | None:
        """The recurrence's decay factors λ. Time-invariant layers ignore x and return
        one per state channel, (S,); input-dependent ones (selective, gated) need the
        layer input x and return λ along it, (batch, L, S), or an average over it, (S,)."""
        return None

    def gradient_flow(self, x: torch.Tensor, lags: list[int]) -> dict[int, float] | None:
        """‖∂h_T/∂h_{T-k}‖_F² for each lag k (< L), averaged over the batch of x.

        Default: a diagonal layer with time-invariant eigenvalues has
        ∂h_T/∂h_{T-k} = diag(λ^k), so the value is Σ_i |λ_i|^{2k}."""
        if not self.diagonal:
            return None
        lam = self.eigenvalues(x)
        if lam is None or lam.ndim != 1:
            return None
        mod2 = lam.detach().abs().double() ** 2
        return {k: float((mod2**k).sum()) for k in lags}

    def drive(self, x: torch.Tensor, normalise: bool = True) -> torch.Tensor | None:
        """The recurrence's input u_t in h_t = λ ⊙ h_{t-1} + u_t, (batch, L, S), when it
        does not depend on the recurrent parameters (so M4's closed form applies);
        `normalise=False` leaves out the input scale γ."""
        return None

    def input_scale(self) -> torch.Tensor | None:
        """γ, the per-channel normalisation of the drive, (S,); None when there is none."""
        return None
