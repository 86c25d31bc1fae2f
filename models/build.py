"""Build a model from its config node. The node names the backbone's keys at its top
level and the recurrent layer's keys under `layer:` (with the layer's `_target_`), so
no key is routed by name."""
from __future__ import annotations

import functools
from collections.abc import Callable

from omegaconf import DictConfig, OmegaConf

from common.config import check_node, resolve_target, signature_params
from models.backbone import Backbone
from models.layer import RecurrentLayer

# Filled in from what the task declares (backbone) or by the backbone (layer), never by a config.
BACKBONE_PROVIDED = ("layer", "d_input", "d_output", "input_kind", "readout")
LAYER_PROVIDED = ("d_model",)


def backbone_keys() -> set[str]:
    """The model node's own keys (the backbone's); everything else lives under `layer:`."""
    return set(signature_params(Backbone)) - set(BACKBONE_PROVIDED)


def layer_factory(layer_cfg: DictConfig, where: str = "model.layer") -> Callable[[int], RecurrentLayer]:
    """`d_model -> layer`: the layer node checked against its class's signature."""
    if "_target_" not in layer_cfg:
        raise ValueError(f"{where} needs a _target_ naming the recurrent layer class")
    layer_cls = resolve_target(layer_cfg._target_, f"{where}")
    check_node(layer_cfg, where, [layer_cls], provided=LAYER_PROVIDED)
    kwargs = OmegaConf.to_container(layer_cfg, resolve=True)
    for meta in ("_target_", "_partial_"):
        kwargs.pop(meta, None)
    return functools.partial(layer_cls, **kwargs)


def build_model(cfg: DictConfig, *, d_input: int, d_output: int, input_kind: str, readout: str) -> Backbone:
    check_node(cfg, "model", [Backbone], reserved={"name": str, "layer": dict}, provided=BACKBONE_PROVIDED)
    if "layer" not in cfg:
        raise ValueError("model.layer is missing: a model config names its recurrent layer under layer: {_target_: ...}")
    layer = layer_factory(cfg.layer)
    backbone_kw = {k: v for k, v in OmegaConf.to_container(cfg, resolve=True).items() if k not in ("name", "layer")}
    return Backbone(layer, d_input=d_input, d_output=d_output, input_kind=input_kind, readout=readout, **backbone_kw)
