"""Build a model from its config node: `_target_` names the recurrent layer class,
the other keys go to the backbone or to the layer, by their signatures."""
from __future__ import annotations

import functools

from omegaconf import DictConfig, OmegaConf

from common.config import check_node, resolve_target, signature_params
from models.backbone import Backbone

# Filled in by the harness from what the task declares, never by a config.
TASK_PROVIDED = ("layer", "d_input", "d_output", "input_kind", "readout")


def build_model(cfg: DictConfig, *, d_input: int, d_output: int, input_kind: str, readout: str) -> Backbone:
    layer_cls = resolve_target(cfg._target_, "model")
    check_node(cfg, "model", [Backbone, layer_cls], reserved={"name": str}, provided=TASK_PROVIDED)
    kwargs = OmegaConf.to_container(cfg, resolve=True)
    kwargs.pop("_target_")
    kwargs.pop("name", None)
    backbone_keys = set(signature_params(Backbone)) - set(TASK_PROVIDED)
    backbone_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in backbone_keys}
    layer = functools.partial(_make_layer, layer_cls, kwargs)
    return Backbone(layer, d_input=d_input, d_output=d_output, input_kind=input_kind, readout=readout, **backbone_kw)


def _make_layer(layer_cls, kwargs: dict, d_model: int):
    return layer_cls(d_model=d_model, **kwargs)
