"""Start-up validation of `_target_` config nodes against the target's typed signature.

The signature of the class a node instantiates *is* its schema: an unknown key, a
value of the wrong type or a value outside a `Literal` fails here, before any
training, with one line naming the key and what is allowed.
"""
from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal, Union

from hydra.utils import get_class, get_method
from omegaconf import DictConfig, ListConfig, OmegaConf

from common.errors import UserError


class ConfigError(UserError, ValueError):
    """A user-facing configuration mistake; its message is one line."""


def resolve_target(path: str, where: str) -> Any:
    try:
        return get_class(path)
    except Exception:
        try:
            return get_method(path)
        except Exception as err:
            raise ConfigError(f"{where}._target_={path!r} cannot be imported ({err})") from None


def signature_params(target: Any) -> dict[str, inspect.Parameter]:
    fn = target.__init__ if inspect.isclass(target) else target
    params = dict(inspect.signature(fn).parameters)
    params.pop("self", None)
    return {n: p for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def type_hints(target: Any) -> dict[str, Any]:
    fn = target.__init__ if inspect.isclass(target) else target
    try:
        return typing.get_type_hints(fn)
    except Exception:
        return {}


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _matches(value: Any, tp: Any) -> bool:
    if tp is Any or tp is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(tp)
    if origin is Literal:
        return value in typing.get_args(tp)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin in (list, tuple, typing.Sequence) or tp in (list, tuple):
        if not isinstance(value, (list, tuple, ListConfig)):
            return False
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return not args or all(_matches(v, args[0]) for v in value)
    if origin is dict or tp is dict:
        return isinstance(value, (dict, DictConfig))
    if isinstance(tp, type):
        return isinstance(value, tp)
    return True


def check_value(where: str, value: Any, tp: Any) -> None:
    if not _matches(value, tp):
        raise ConfigError(f"{where}={value!r} is invalid: expected {_describe(tp)}")


def check_node(
    node: DictConfig,
    where: str,
    targets: Iterable[Any],
    *,
    reserved: dict[str, Any] | None = None,
    provided: Iterable[str] = (),
) -> None:
    """Check every key of `node` against the union of the targets' signatures.

    `reserved` maps extra allowed keys to their types (metadata such as a model's
    `name`); `provided` names constructor arguments the harness fills in itself and
    that a config must not set.
    """
    reserved = reserved or {}
    provided = set(provided)
    allowed: dict[str, Any] = dict(reserved)
    for target in targets:
        hints = type_hints(target)
        for name, p in signature_params(target).items():
            if name in provided:
                continue
            allowed.setdefault(name, hints.get(name, p.annotation))
    data = OmegaConf.to_container(node, resolve=True)
    for key, value in data.items():
        if key in ("_target_", "_partial_", "_recursive_", "_convert_"):
            continue
        if key not in allowed:
            hint = _closest(key, allowed)
            raise ConfigError(
                f"unknown key {where}.{key}" + (f" (did you mean {where}.{hint}?)" if hint else "")
                + f"; allowed: {', '.join(sorted(allowed))}"
            )
        check_value(f"{where}.{key}", value, allowed[key])


def _closest(key: str, options: Iterable[str]) -> str | None:
    import difflib

    hits = difflib.get_close_matches(key, list(options), n=1, cutoff=0.75)
    return hits[0] if hits else None
