"""The learning-rate rules of a fair race (SPEC §6.2), in one place: the sweeps (harness/learning_rate.py,
harness/horizon.py: whether a run is needed, where a model stops climbing) and the page
(leaderboard/curves.py: the reference, the chosen rate, each point's window) call these and
decide nothing about rates themselves.

- **Grid.** A sweep declares `lr_grid` (≥ 4 log-spaced rates inside, `extend` more at each end)
  and `lr_reference: {at: {<axis key>: [candidates]}, extend: n}`. At a reference candidate every
  inner rate runs on every seed; when the rate chosen there on validation sits at an end of the
  rates run, the next declared rate beyond that end runs too, until the choice is bracketed or
  the declared grid ends (`grid_point`).
- **Reference point.** The largest candidate at which some rate solves (a majority of its seeds, or
  seed 0 alone where the reference compares rates on seed 0: `{at: {seed: 0, ...}}`, the track's);
  when none does, the smallest, the curve's easiest point. A candidate above one where every
  rate failed is not run (`choose_reference`), and waits while every rate run at an easier one
  has failed and rates remain to run there (`run_needed`). The rate is the one chosen on validation there;
  where rates were compared on seed 0 and that rate then fails seeds 1 and 2 there, every rate that
  solved seed 0 runs its other seeds and the best on validation of those that hold the point on every
  seed takes over, bracketed as on seed 0 (`candidate_grid`); when none holds, the next easier
  candidate is the reference (`held_on_every_seed`).
  On an axis that gets easier upwards (a state size: `Reference.easier`, common/rules.py) every
  "largest" here is the hardest, the smallest value, and "above" is below. A sweep that declares
  its axis not monotone (`monotone: false`, with no climb stop: `stop.climb_failures: null`) runs
  every candidate: a failure at one says nothing of another (Mamba on the state-size curve failed
  S = 1024 at every rate and solves the same MQAR setting at S = 256).
- **A point fails only after every rate.** Off the reference (other candidates included) the chosen
  rate runs on every seed; where it fails, every other rate of the grid (as run at the reference,
  also one a candidate's own grid did not reach) runs once, on seed 0,
  and a rate whose seed 0 solves runs the other seeds too (`run_needed`, `point_verdict`); so does
  one that solved a seed while it was the chosen rate, and one a candidate's own grid ran beyond
  the reference's, until a majority of its seeds decides.
- **Window.** How many rates solve a point (a majority of their seeds), of those tried there.

Old records (`lr_reference: {task.delay: 64}`, three rates, no extension) read as one candidate
and no extension: their reference stays where it was.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from common.rules import SEEDS, easiest_first, harder, majority, run_solved
from common.selection import Row, choose_lr, latest_runs, lr_of

SOLVED, FAILED, OPEN = "solved", "failed", "open"
MIN_INNER = 4  # rates inside the extensions: SPEC §6.2


def rate_key(lr: float | None) -> float | None:
    """Rates compared as numbers written in a YAML grid: 1e-3 from a grid and from a record are one rate."""
    return None if lr is None else float(f"{float(lr):.12g}")


def dotted(config: dict, key: str):
    node = config
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@dataclass(frozen=True)
class Reference:
    """Where a sweep chooses its rate: `fixed` keys (e.g. {"seed": 0}), the candidates of `key`
    (the memory axis), and how many declared rates lie beyond each end of the inner grid."""

    fixed: tuple = ()
    key: str | None = None
    candidates: tuple = ()
    extend: int = 0
    easier: str | None = None   # the axis's direction (common/rules.py): None, a memory axis, harder upwards
    monotone: bool = True       # a failure at a candidate stands for the harder ones (their runs are skipped)

    @property
    def seeds(self) -> int:
        """Seeds every rate runs at a candidate: one when the reference fixes the seed."""
        return 1 if any(k == "seed" for k, _ in self.fixed) else SEEDS

    def value_of(self, config: dict) -> float | None:
        v = dotted(config, self.key) if self.key else None
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    def matches_fixed(self, config: dict) -> bool:
        return all(dotted(config, k) == v for k, v in self.fixed)

    def matches(self, config: dict) -> bool:
        """A run at one of the reference's candidates."""
        return self.matches_fixed(config) and (self.key is None or self.value_of(config) in self.candidates)


def parse_reference(spec, easier: str | None = None) -> Reference | None:
    """`{at: {key: value or [values]}, extend: n, monotone: bool}`, or the second edition's `{key: value}`; `easier`
    is the direction of the curve's axis (the sweep's `curve_axis.easier`, a record's `task.axis.easier`)."""
    if not spec:
        return None
    spec = dict(spec)
    new = isinstance(spec.get("at"), dict)
    at, extend = (spec["at"], int(spec.get("extend") or 0)) if new else (spec, 0)
    monotone = spec.get("monotone", True) if new else True
    if not isinstance(monotone, bool):
        raise ValueError(f"lr_reference.monotone={monotone!r}: true or false")
    fixed, key, candidates = [], None, ()
    for k, v in sorted(at.items()):
        if isinstance(v, (list, tuple)):
            if key is not None:
                raise ValueError(f"lr_reference: candidates for one key only, not {key} and {k}")
            key, candidates = k, tuple(sorted(float(x) for x in v))
        elif k.startswith("task.") and isinstance(v, (int, float)) and not isinstance(v, bool):
            key, candidates = k, (float(v),)  # an axis value: the one candidate
        else:
            fixed.append((k, v))
    return Reference(tuple(fixed), key, candidates, extend, easier, monotone)


def grid_of(lr_grid, model: str) -> list[float] | None:
    """A declared grid: a list, or {model name: list}; sorted, as rate keys."""
    if isinstance(lr_grid, dict):
        lr_grid = lr_grid.get(model)
    return sorted(rate_key(x) for x in lr_grid) if lr_grid else None


def check_grid(grid: list[float], extend: int) -> str | None:
    """What is wrong with a declared grid for a reference with `extend` rates beyond each end."""
    inner = grid[extend:len(grid) - extend]
    if len(inner) < MIN_INNER:
        return f"{len(inner)} rates inside the {extend} extension(s) at each end; declare at least {MIN_INNER}"
    steps = [math.log10(b / a) for a, b in zip(grid, grid[1:])]
    if min(steps) <= 0 or max(steps) > 2 * min(steps):
        return "rates not log-spaced (each step between neighbours within a factor 2 of the others, in log)"
    return None


def by_rate(records: list[dict]) -> dict[float, list[dict]]:
    """The runs at one point by rate, a rerun superseding the earlier record of its seed."""
    out: dict[float, list[dict]] = defaultdict(list)
    for r in latest_runs(records):
        out[rate_key(lr_of(r))].append(r)
    return dict(out)


def verdict(runs: list[dict], seeds: int = SEEDS, probe: bool = False) -> str:
    """One rate at one point: solved by a majority of its seeds, failed once a majority is out of
    reach (or, for a probe, once its first seed failed: a probe gets more seeds only after solving);
    at a reference that compares rates on one seed, by that seed."""
    k, n = sum(run_solved(r) for r in runs), len(runs)
    if seeds == 1:  # rates compared on one seed (a reference on seed 0): that seed decides
        return (SOLVED if k else FAILED) if n else OPEN
    total = max(n, seeds)
    if majority(k, total):
        return SOLVED
    if not majority(k + total - n, total) or (probe and n and not k):
        return FAILED
    return OPEN


def best_rate(runs: dict[float, list[dict]]) -> float:
    """The rate chosen on validation among these (common/selection.py: mean over shared seeds)."""
    row = Row(model="", label="", setting="", records=[r for rs in runs.values() for r in rs])
    choose_lr(row)
    return rate_key(row.lr)


@dataclass
class GridPoint:
    rates: list[float]                       # the rates this point needs: inner grid plus the extensions called for
    missing: list[float]                     # of those, the ones not yet run on every seed
    chosen: float | None = None              # best on validation once none is missing


def grid_point(runs: dict[float, list[dict]], grid: list[float], extend: int, seeds: int) -> GridPoint:
    """Which rates a reference candidate needs: the inner grid, then one more declared rate beyond
    an end each time the rate chosen among those run sits at that end."""
    lo, hi = extend, len(grid) - 1 - extend
    while True:
        rates = grid[lo:hi + 1]
        missing = [lr for lr in rates if len(runs.get(lr, ())) < seeds]
        if missing:
            return GridPoint(rates, missing)
        chosen = best_rate({lr: runs[lr] for lr in rates})
        if chosen == rates[0] and lo > 0:
            lo -= 1
        elif chosen == rates[-1] and hi < len(grid) - 1:
            hi += 1
        else:
            return GridPoint(rates, [], chosen)


@dataclass
class Choice:
    """The reference of one setting: its point, the rate chosen there, the rates run there."""

    value: float | None = None
    rate: float | None = None
    rates: list[float] = field(default_factory=list)
    waiting: str | None = None               # why it is not decided yet
    failed_at: float | None = None           # a candidate where every rate failed: those above are not run


def _rates(rates) -> str:
    return ", ".join(f"{x:g}" for x in rates)


def candidates(points: dict[float | None, list[dict]], ref: Reference,
               grid: list[float] | None) -> list[tuple[float | None, GridPoint, dict[float, list[dict]]]]:
    """Each candidate from the easiest (increasing order on a memory axis) with what its grid needs and
    its runs by rate, up to and including the first one where every rate failed (the harder ones are not run,
    unless the axis is declared not monotone)."""
    out = []
    for value in easiest_first(ref.candidates, ref.easier) or (None,):
        runs = by_rate([r for r in points.get(value, []) if ref.matches_fixed(r.get("config") or {})])
        gp = candidate_grid(points.get(value, []), runs, ref, grid)
        out.append((value, gp, runs))
        if ref.monotone and ref.key and gp.rates and not gp.missing and all(verdict(runs[lr], ref.seeds) == FAILED for lr in gp.rates):
            break
    return out


def choose_reference(points: dict[float | None, list[dict]], ref: Reference, grid: list[float] | None) -> Choice:
    """The reference point and rate of one setting from its runs at each candidate (`points`: runs
    by axis value; None for a reference without an axis key)."""
    settled = candidates(points, ref, grid)
    for value, gp, _ in settled:
        if gp.missing or not gp.rates:
            at = f"{ref.key} = {value:g}" if ref.key else "the reference"
            seeds = " and ".join(f"{k} {v}" for k, v in ref.fixed if k == "seed") or "every seed"
            return Choice(waiting=f"no run at lr {_rates(gp.missing) or 'of the grid'} at {at} on {seeds} yet")
    last, last_gp, last_runs = settled[-1]
    every_failed = ref.key and all(verdict(last_runs[lr], ref.seeds) == FAILED for lr in last_gp.rates)
    failed_at = last if every_failed else None
    solving = [v for v, gp, runs in settled if any(verdict(runs[lr], ref.seeds) == SOLVED for lr in gp.rates)]
    for at, gp, _ in reversed(settled):                  # settled runs easiest first: the hardest first
        rate = held_on_every_seed(points.get(at, []), gp, ref) if at in solving else None
        if rate is not None:
            return Choice(at, rate, gp.rates, failed_at=failed_at)
    at, gp, _ = settled[0]
    return Choice(at, gp.chosen, gp.rates, failed_at=failed_at)


def held_on_every_seed(runs_at: list[dict], gp: GridPoint, ref: Reference) -> float | None:
    """The rate of a candidate some rate solves, once the curve's seeds have run there: where the
    reference compares rates on seed 0 alone, the rate chosen on that seed may fail seeds 1 and 2
    (a point is solved only by a majority of seeds). Then the choice passes to the rates that solve
    the point on every seed (their seeds 1 and 2 run once the chosen rate failed: `run_needed`), and
    when none does the candidate is no reference (None: the next easier one is tried)."""
    if ref.seeds >= SEEDS:
        return gp.chosen
    runs = by_rate([r for r in runs_at if rate_key(lr_of(r)) in gp.rates])
    if verdict(runs.get(gp.chosen, []), SEEDS) != FAILED:
        return gp.chosen                      # solved on every seed, or its seeds 1 and 2 not run yet
    # every rate that solved seed 0 runs its other seeds before the choice passes on: the first to
    # hold would otherwise win by the order the sweep lists them (selective copy, Mamba: 1e-2 held
    # first, having run its seeds while it was the chosen rate elsewhere; 1e-3, which solved seed 0
    # there, never ran its other seeds, and the choice sat at the top of the rates run)
    if any(verdict(rs, SEEDS, probe=True) == OPEN for rs in runs.values()):
        return gp.chosen
    held = {lr: rs for lr, rs in runs.items() if verdict(rs, SEEDS) == SOLVED}
    return best_rate(held) if held else None


def candidate_grid(runs_at: list[dict], runs: dict[float, list[dict]], ref: Reference,
                   grid: list[float] | None, lr: float | None = None) -> GridPoint:
    """The rates a reference candidate needs (`runs`: its runs on the reference's seeds by rate;
    `runs_at`: every run there): `grid_point`'s, and where the choice passes to a rate held on every
    seed (`held_on_every_seed`) that sits at an end of them, the next declared rate beyond, as
    `grid_point` brackets the choice on seed 0: on seed 0 first, then on the other seeds if it solves
    there (an open rate), until the held choice is bracketed or the declared grid ends."""
    gp = grid_point(runs, grid or sorted(set(runs) | ({lr} if lr is not None else set())),
                    ref.extend if grid else 0, ref.seeds)
    if not grid or gp.missing or ref.seeds >= SEEDS:
        return gp
    while True:
        held = held_on_every_seed(runs_at, gp, ref)
        if held is None or held == gp.chosen:
            return gp
        if held not in grid:
            return gp
        i = grid.index(held)
        if held == gp.rates[-1] and i + 1 < len(grid):
            beyond = grid[i + 1]
        elif held == gp.rates[0] and i > 0:
            beyond = grid[i - 1]
        else:
            return gp
        gp = GridPoint(sorted([*gp.rates, beyond]), [] if beyond in runs else [beyond], gp.chosen)
        if gp.missing:
            return gp


def point_verdict(runs: dict[float, list[dict]], chosen: float | None, rates: list[float],
                  seeds: int = SEEDS) -> tuple[str, list[float], list[float]]:
    """A point off (or at) the reference: solved when some rate solves it, failed only when every
    rate of the grid has failed there; with the window (rates solving) and the rates tried."""
    tried = sorted(runs)
    verdicts = {lr: verdict(runs[lr], seeds, probe=lr != chosen) for lr in tried}
    window = [lr for lr in tried if verdicts[lr] == SOLVED]
    if window:
        return SOLVED, window, tried
    grid = set(rates) | set(tried)
    if all(verdicts.get(lr) == FAILED for lr in grid):
        return FAILED, window, tried
    return OPEN, window, tried


def run_needed(config: dict, lr: float, seed: int, points: dict[float | None, list[dict]], ref: Reference,
               grid: list[float] | None, choice: Choice) -> tuple[str, str] | None:
    """Whether a declared run must happen, from the runs of its setting already recorded (`points`:
    by axis value). None: run it. Otherwise (outcome, why) for the sweep's report: `not_needed`
    (the rules do not call for it), `waiting` (it depends on runs not finished yet: run the sweep
    again) or `beyond_horizon` (a candidate above one where every rate failed)."""
    lr = rate_key(lr)
    value = ref.value_of(config)
    if ref.matches(config):
        below = [(v, gp, runs) for v, gp, runs in candidates(points, ref, grid)
                 if ref.monotone and v is not None and harder(value, v, ref.easier)]
        failed = [v for v, gp, runs in below if not gp.missing
                  and all(verdict(runs[r], ref.seeds) == FAILED for r in gp.rates)]
        if failed:
            return "beyond_horizon", f"every rate failed at {ref.key} = {failed[0]:g}"
        # nor while every rate run at an easier candidate failed and its grid has rates still to run
        # (a rate beyond an end): those decide whether this one is above a failed candidate (MQAR, rnn:
        # pairs = 8 ran 1-2 h a rate, all at the step cap, while pairs = 2 waited for its rate beyond)
        pending = [v for v, gp, runs in below if gp.missing and runs
                   and all(verdict(rs, ref.seeds) == FAILED for rs in runs.values())]
        if pending:
            return "waiting", (f"every rate run at {ref.key} = {pending[0]:g} failed so far: the rates still "
                               f"to run there decide whether this point runs")
        runs = by_rate([r for r in points.get(value, []) if ref.matches_fixed(r.get("config") or {})])
        gp = candidate_grid(points.get(value, []), runs, ref, grid, lr)
        if lr in gp.rates:
            return None
        if gp.missing:
            return "waiting", f"lr {lr:g} is beyond an end of the grid: it runs only if the rates inside choose that end"
        if choice.rate is None or choice.waiting or choice.value == value:
            return "not_needed", f"the choice at this point ({gp.chosen:g}) is bracketed without lr {lr:g}"
        # a candidate that is not the reference is a point of the curve like any other: where the chosen
        # rate fails it, every rate run at the reference is tried there, also one its own grid did not
        # reach (else the point, and the climb above it, wait for a run the sweep never makes)
    runs = by_rate(points.get(value, []))
    if lr == choice.rate:
        # once a majority of its seeds failed here the point is settled (`verdict`): the last seed
        # could not change that, only add a run to the step cap (MQAR, pairs = 2: the LRU's chosen
        # rate sat at 1/N for all 8,000 steps on seeds 0 and 1, ~16 min each). A curve point only:
        # an image table has no criterion, and every seed is a sample of its mean
        if value is not None and verdict(runs.get(lr, []), SEEDS) == FAILED:
            return "not_needed", f"the chosen lr {lr:g} failed this point on a majority of the seeds"
        return None
    outside = lr not in choice.rates
    not_run_there = "not_needed", f"lr {lr:g} is not among the rates run at the reference point"
    # a rate outside the reference's grid that ran here anyway (a candidate's own grid reached it)
    # counts for the point (point_verdict): where its seed 0 solved, its other seeds decide
    if outside and lr not in runs:
        return not_run_there
    # on every seed, as the page and the climb judge a point: a reference that compares rates on
    # seed 0 alone would call the chosen rate solved on that seed while its seeds 1 and 2 fail, and
    # the point would wait forever for rates the sweep never runs
    main = verdict(runs.get(choice.rate, []), SEEDS)
    if main == SOLVED:
        return "not_needed", f"the chosen lr {choice.rate:g} solves this point"
    if main == OPEN:
        return "waiting", f"the chosen lr {choice.rate:g} has not settled this point yet"
    mine = runs.get(lr, [])
    if seed == 0:   # outside the reference's grid, only to settle a rate already open here
        if outside and verdict(mine, SEEDS, probe=True) != OPEN:
            return not_run_there
        return None
    if not any(r.get("seed") == 0 for r in mine):
        return "waiting", f"lr {lr:g} runs more seeds only if its seed 0 solves this point"
    # judged as point_verdict judges it: a seed this rate solved while it was the chosen one (the
    # reference moved since) keeps it open after a failed seed 0, and only its last seed settles it
    if verdict(mine, SEEDS, probe=True) == FAILED:
        return "not_needed", f"lr {lr:g} failed this point (seed 0, or a majority of its seeds)"
    return None
