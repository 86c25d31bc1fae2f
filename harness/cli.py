"""Command-line guard: check every override by composing the config before Hydra
runs, and turn user mistakes into one line on stderr (exit code 2), no traceback."""
from __future__ import annotations

import dataclasses
import difflib
import enum
import sys
import types
import typing
from collections.abc import Callable
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from common.errors import RunInterrupted, UserError
from common.names import check_names
from common.schema import RunSchema
from common.schema import register as register_schema

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
register_schema()  # conf/config.yaml names it first in its defaults list
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # the shell's code for Ctrl-C


def fail(message: str, log_dir: str | Path | None = None) -> int:
    """One `error:` line on stderr (and in the run's train.log when it has one)."""
    print(f"error: {message}", file=sys.stderr)
    if log_dir is not None and Path(log_dir).is_dir():
        try:
            with open(Path(log_dir) / "train.log", "a") as f:
                f.write(f"error: {message}\n")
        except OSError:
            pass  # the line is on stderr already; a full disk must not turn it into a traceback
    return EXIT_USER_ERROR


# Nodes whose keys are checked against their `_target_`'s signature at start-up: their YAML
# lists only what differs from the signature's defaults, so an override may name a key the
# YAML leaves out (`++` sets or adds it); a misspelt key still fails, with a did-you-mean.
SIGNATURE_NODES = ("model", "task", "optimizer", "sensitivity", "trainer")


def normalise_overrides(argv: list[str]) -> list[str]:
    """`model.d_state=32` is short for `model.layer.d_state=32` (SPEC §8 keeps the flat
    names): a `model.` key that is not one of the backbone's goes to the layer node.
    Overrides of signature-checked nodes become `++` (set or add)."""
    out = []
    for a in argv:
        if a.startswith("-") or "=" not in a or a.startswith(("+", "~")):
            out.append(a)
            continue
        key, value = a.split("=", 1)
        node, _, rest = key.partition(".")
        if node not in SIGNATURE_NODES or not rest:
            out.append(a)
            continue
        top = rest.split(".", 1)[0]
        own = _backbone_keys() | {"name", "layer"}
        # a near-miss of a backbone key stays put, so its error can say "did you mean"
        if node == "model" and top not in own and not difflib.get_close_matches(top, own, n=1, cutoff=0.75):
            rest = f"layer.{rest}"
        out.append(f"++{node}.{rest}={value}")
    return out


def _backbone_keys() -> set[str]:
    from models.build import backbone_keys  # imports torch: only when a model key is overridden

    return backbone_keys()


def sweep_without_multirun(argv: list[str]) -> str | None:
    if any(a in ("-m", "--multirun") for a in argv):
        return None
    overrides = [a for a in argv if not a.startswith("-") and "=" in a]
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except OverrideParseException:
        return None
    for o in parsed:
        if o.is_sweep_override():
            return f"{o.input_line} names several values: add -m to sweep over them (python train.py -m {o.input_line})"
    return None


def _combinations(overrides: list[str]) -> list[list[str]]:
    """The first value of every sweep, then each other value of each sweep in turn:
    every value a sweep names gets composed once, without the full product."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    choices: list[list[str]] = []
    for o in parsed:
        key = o.get_key_element()
        if o.is_sweep_override():
            choices.append([f"{key}={v}" for v in o.sweep_string_iterator()])
        else:
            choices.append([o.input_line])
    base = [c[0] for c in choices]
    combos = [base]
    for i, c in enumerate(choices):
        for alt in c[1:]:
            combos.append(base[:i] + [alt] + base[i + 1:])
    return combos


def _group_options(group: str) -> list[str]:
    folder = CONF_DIR / group
    return sorted(str(p.relative_to(folder).with_suffix("")) for p in folder.rglob("*.yaml"))


def _explain(err: Exception, overrides: list[str]) -> str:
    text = str(err)
    if isinstance(err, MissingConfigException) or "Could not find '" in text:
        missing = text.split("Could not find '", 1)[1].split("'", 1)[0] if "Could not find '" in text else ""
        group, _, option = missing.rpartition("/")
        if group and (CONF_DIR / group).is_dir():
            options = _group_options(group)
            hint = difflib.get_close_matches(option, options, n=1)
            return (f"unknown {group} {option!r}" + (f" (did you mean {group}={hint[0]}?)" if hint else "")
                    + f"; available: {', '.join(options)}")
    if "Could not override '" in text:
        key = text.split("Could not override '", 1)[1].split("'", 1)[0]
        inner = str(getattr(err.__cause__, "full_key", "") or "")
        if inner.startswith(key + "."):
            # the override's key exists; a key inside its (dict) value does not
            return (f"unknown key {inner} in the value of {key}: the declared {key} has no such key; "
                    f"to add it, write ++{key}=... (the value merges into the declared one)")
        parent, _, leaf = key.rpartition(".")
        known = _known_keys(parent, [o for o in overrides if not o.lstrip("+~").startswith(key + "=")])
        hint = difflib.get_close_matches(leaf, known, n=1)
        return (f"unknown key {key}" + (f" (did you mean {parent + '.' if parent else ''}{hint[0]}?)" if hint else "")
                + (f"; {parent or 'top level'} has: {', '.join(known)}" if known else ""))
    typed = _typed_key_problem(err.__cause__, overrides)
    if typed:
        return typed
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return type(err).__name__
    # Hydra often says "...raised while composing config:" and gives the reason on the next line.
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def _expected(tp) -> str:
    """A schema annotation in words: what a value of that key must be."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(tp))
        text = " or ".join(_expected(a) for a in args)
        return text + " (or null)" if nullable else text
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return "one of " + ", ".join(m.value for m in tp)
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(tp, "a value of type "
                                                                                             + getattr(tp, "__name__", str(tp)))


def _schema_type(full_key: str):
    """The annotation of a dotted top-level key in common/schema.py, or None."""
    cls = RunSchema
    tp = None
    for part in full_key.split("."):
        if cls is None or not dataclasses.is_dataclass(cls):
            return None
        hints = typing.get_type_hints(cls)
        if part not in hints:
            return None
        tp = hints[part]
        cls = tp if dataclasses.is_dataclass(tp) else None
    return tp


def _typed_key_problem(cause: BaseException | None, overrides: list[str]) -> str | None:
    """'seed=1.5: seed must be an integer' for a value OmegaConf refused for a declared key
    (Hydra's own message, 'Error merging override seed=1.5', drops the reason)."""
    key = getattr(cause, "full_key", None)
    if not isinstance(cause, OmegaConfBaseException) or not key:
        return None
    tp = _schema_type(key)
    if tp is None or tp is typing.Any:
        return None
    given = next((o.lstrip("+~") for o in overrides if o.lstrip("+~").split("=", 1)[0] == key), None)
    return f"{given or key}: {key} must be {_expected(tp)}"


def _parse_problem(overrides: list[str]) -> str | None:
    """The first override Hydra's grammar refuses, with a hint to quote its value: an unquoted
    value may hold only ASCII letters, digits and a few symbols (no accents, spaces, brackets)."""
    parser = OverridesParser.create()
    for o in overrides:
        try:
            parser.parse_overrides([o])
        except OverrideParseException:
            if "=" not in o:
                return None
            key, value = o.split("=", 1)
            shown = f"{key.removeprefix('++')}={value}"
            quote = "'" if '"' in value else '"'
            outer = '"' if quote == "'" else "'"
            return (f"cannot parse {shown}: quote the value, e.g. {outer}{key.removeprefix('++')}={quote}{value}{quote}"
                    f"{outer} (the shell needs the outer quotes, Hydra the inner ones)")
    return None


def _known_keys(parent: str, overrides: list[str]) -> list[str]:
    try:
        cfg = compose("config", overrides=overrides)
        node = OmegaConf.select(cfg, parent) if parent else cfg
        return sorted(k for k in node.keys() if not str(k).startswith("_")) if node is not None else []
    except Exception:
        return []


def _config_dirs(argv: list[str]) -> list[str]:
    """Values of --config-dir / -cd, which Hydra adds to its search path."""
    dirs = []
    for i, a in enumerate(argv):
        if a in ("--config-dir", "-cd") and i + 1 < len(argv):
            dirs.append(argv[i + 1])
        elif a.startswith("--config-dir="):
            dirs.append(a.split("=", 1)[1])
    return dirs


def check_signature_nodes(cfg) -> None:
    """Every `_target_` node's keys against its class's signature (imports the classes)."""
    from common.config import check_node, resolve_target
    from models.build import BACKBONE_PROVIDED, LAYER_PROVIDED, Backbone

    for key in ("task", "optimizer", "sensitivity"):
        check_node(cfg[key], key, [resolve_target(cfg[key]._target_, key)], provided=("seed",))
    check_node(cfg.model, "model", [Backbone], reserved={"name": str, "layer": dict}, provided=BACKBONE_PROVIDED)
    check_node(cfg.model.layer, "model.layer", [resolve_target(cfg.model.layer._target_, "model.layer")],
               provided=LAYER_PROVIDED)


def check_overrides(argv: list[str]) -> str | None:
    """None when every override composes, else the one-line reason."""
    extra = _config_dirs(argv)
    multirun = any(a in ("-m", "--multirun") for a in argv)
    flag_values = {argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("--config-dir", "-cd")}
    overrides = [a for a in argv if not a.startswith("-") and a not in flag_values]
    if not overrides:
        return None
    if extra:
        paths = ",".join(f"file://{Path(d).resolve()}" for d in extra)
        overrides = [f"hydra.searchpath=[{paths}]", *overrides]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        try:
            combos = _combinations(overrides)
        except OverrideParseException as err:
            return _parse_problem(overrides) or f"cannot parse overrides: {str(err).splitlines()[0]}"
        for combo in combos:
            try:
                cfg = compose("config", overrides=combo)
                check_names(cfg)  # here, before Hydra makes a log folder named after the model
                if multirun:  # a sweep must not start with a job that cannot run
                    check_signature_nodes(cfg)
            except (ConfigCompositionException, MissingConfigException, OmegaConfBaseException, ValueError) as err:
                return str(err) if isinstance(err, UserError) else _explain(err, combo)
    GlobalHydra.instance().clear()
    return None


PRECHECKED_FLAGS = ("-m", "--multirun", "--config-dir", "-cd")


def guard_cli(main: Callable[[], None]) -> int:
    sys.argv[1:] = normalise_overrides(sys.argv[1:])
    problem = sweep_without_multirun(sys.argv[1:])
    if problem:
        return fail(problem)
    flags = [a.split("=", 1)[0] for a in sys.argv[1:] if a.startswith("-")]
    if all(f in PRECHECKED_FLAGS for f in flags):
        problem = check_overrides(sys.argv[1:])
        if problem:
            return fail(problem)
    try:
        if any(a.lstrip("+").startswith("experiment=leaderboard/") for a in sys.argv[1:]):
            from common.provenance import publishable_commit, writes_published

            target = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.lstrip("+").startswith("results_dir=")),
                          "leaderboard/results")
            if writes_published(target):
                publishable_commit()  # a declared sweep writes published records: not from uncommitted code
        main()
    except UserError as err:
        return fail(str(err))
    except RunInterrupted as err:
        fail(str(err))
        return EXIT_INTERRUPTED
    return 0
