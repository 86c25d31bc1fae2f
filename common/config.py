"""Start-up validation of `_target_` config nodes against the target's typed signature.

The signature of the class a node instantiates *is* its schema and holds the one
default of each value: an unknown key, a value of the wrong type or a value outside a
`Literal` fails here (types checked by pydantic), before any training, with one line
naming the key and what is allowed.
"""
from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Iterable
from typing import Any

from hydra.utils import get_class, get_method
from omegaconf import DictConfig, OmegaConf, open_dict
from pydantic import PydanticSchemaGenerationError, TypeAdapter, ValidationError

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


def _constructors(target: Any) -> list[Any]:
    """The functions whose keyword arguments `target(...)` accepts: a class's own __init__
    and, while that ends in `**kwargs`, the next __init__ up its class hierarchy, so a
    subclass declares only its own arguments and passes the rest to its base."""
    if not inspect.isclass(target):
        return [target]
    chain = []
    for cls in target.__mro__:
        if "__init__" not in vars(cls) or cls is object:
            continue
        chain.append(cls.__init__)
        kinds = {p.kind for p in inspect.signature(cls.__init__).parameters.values()}
        if inspect.Parameter.VAR_KEYWORD not in kinds:
            break
    return chain or [target.__init__]


def signature_params(target: Any) -> dict[str, inspect.Parameter]:
    params: dict[str, inspect.Parameter] = {}
    for fn in _constructors(target):
        for name, p in inspect.signature(fn).parameters.items():
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                params.setdefault(name, p)  # the subclass's own default wins
    return params


def type_hints(target: Any) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for fn in _constructors(target):
        try:
            for name, tp in typing.get_type_hints(fn).items():
                hints.setdefault(name, tp)
        except Exception:
            continue
    return hints


@functools.cache
def _adapter(tp: Any) -> TypeAdapter:
    return TypeAdapter(tp)


def check_value(where: str, value: Any, tp: Any) -> None:
    """pydantic checks `value` against the annotation (strict: no "3" for 3, no 1 for true)."""
    if tp is Any or tp is inspect.Parameter.empty:
        return
    try:
        _adapter(tp).validate_python(value, strict=True)
    except ValidationError as err:
        raise ConfigError(f"{where}={value!r} is invalid: {err.errors()[0]['msg']}") from None
    except PydanticSchemaGenerationError:
        return  # an annotation pydantic cannot describe (e.g. a callable): nothing to check


def with_defaults(node: DictConfig, targets: Iterable[Any], provided: Iterable[str] = ()) -> None:
    """Write every signature default the node leaves out into it, so the resolved
    config (hence the record and the run identity) names every value a run used."""
    provided = set(provided)
    for target in targets:
        for name, p in signature_params(target).items():
            if name in provided or name in node or p.default is inspect.Parameter.empty:
                continue
            default = list(p.default) if isinstance(p.default, tuple) else p.default
            with open_dict(node):
                node[name] = default


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
