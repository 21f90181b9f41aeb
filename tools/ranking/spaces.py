"""Search spaces: which parameters each model is tuned over, from where, and how far.

Every model gets the same freedom: behaviour weights ``w:<behaviour>`` (folded into the
``behaviour_weights`` mapping by :func:`~.tuning.constructor_params`), the aggregation of
repeated events where the model has one, and its own hyper-parameters. Numeric axes start on a
grid wide enough for the datasets here and may be extended past either end by the tuner, up to
hard limits; an end that is a natural bound (weight 0, a share of 1) is marked ``closed``.

>>> search_space("ease", ["click", "purchase"])[0]     # doctest: +SKIP
Axis(name='l2', values=(10.0, ...), start=500.0, scale='log', ...)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .base import DEFAULT_BEHAVIOUR_WEIGHTS, resolve_target
from .interactions import AGGREGATIONS


@dataclass(frozen=True)
class Axis:
    """One tuned parameter.

    ``values`` are tried in every pass. On a numeric axis (``scale`` ``"log"`` or ``"linear"``)
    the search may step past the lowest/highest value, by the ratio (log) or difference (linear)
    of the two outermost values, down to ``low`` / up to ``high``. An end marked ``closed`` is a
    natural bound (a weight cannot go below 0, a share above 1): a value chosen there is not an
    edge. ``special`` values (such as ``None`` = "off") are tried too but never extended.
    """

    name: str
    values: tuple[Any, ...]
    start: Any
    scale: str = "choice"
    low: float = -math.inf
    high: float = math.inf
    closed: tuple[bool, bool] = (False, False)
    integer: bool = False
    special: tuple[Any, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.scale in ("log", "linear")

    def grid(self) -> list[Any]:
        """The values of one pass: numeric ones sorted, then the special ones, start included."""
        if not self.numeric:
            values = list(dict.fromkeys([*self.values, *self.special]))
            return values if self.start in values else [self.start, *values]
        numbers = sorted({*self.values, *([self.start] if self.start not in self.special else [])})
        return [*numbers, *self.special]

    def beyond(self, tried: Iterable[Any], side: str) -> Any | None:
        """The next value past the ``side`` ("low"/"high") end of ``tried``, or None at a limit."""
        numbers = sorted({float(v) for v in tried if is_number(v)})
        if not self.numeric or not numbers:
            return None
        edge = numbers[0] if side == "low" else numbers[-1]
        limit = self.low if side == "low" else self.high
        if (side == "low" and edge <= limit) or (side == "high" and edge >= limit):
            return None
        if self.scale == "log":
            positive = [v for v in numbers if v > 0]
            ratio = positive[-1] / positive[-2] if len(positive) >= 2 else 10.0
            ratio = max(ratio, 1.5)
            if edge <= 0:
                return None
            value = edge / ratio if side == "low" else edge * ratio
        else:
            step = (numbers[-1] - numbers[-2]) if len(numbers) >= 2 else 1.0
            value = edge - step if side == "low" else edge + step
        value = max(value, limit) if side == "low" else min(value, limit)
        if self.integer:
            value = math.floor(value) if side == "low" else math.ceil(value)
            if (side == "low" and value >= edge) or (side == "high" and value <= edge):
                return None
        return int(value) if self.integer else float(value)

    def at_limit(self, value: float, side: str) -> bool:
        return value <= self.low if side == "low" else value >= self.high


def is_number(value: Any) -> bool:
    """A real number (not a bool, not None)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- search spaces ----------------------------------------------------------------------------
def log_axis(name: str, values: Iterable[float], start: Any, low: float, high: float,
             closed: tuple[bool, bool] = (False, False), integer: bool = False,
             special: tuple[Any, ...] = ()) -> Axis:
    """A numeric axis stepped multiplicatively (0 allowed as a closed lower end)."""
    return Axis(name, tuple(values), start, "log", low, high, closed, integer, special)


def linear_axis(name: str, values: Iterable[float], start: Any, low: float, high: float,
                closed: tuple[bool, bool] = (False, False), integer: bool = False) -> Axis:
    """A numeric axis stepped additively."""
    return Axis(name, tuple(values), start, "linear", low, high, closed, integer)


def choice_axis(name: str, values: Iterable[Any], start: Any) -> Axis:
    """An unordered choice (no edges)."""
    return Axis(name, tuple(values), start)


def weight_axes(behaviours: Iterable[str], start: Mapping[str, float], negative: bool = False
                ) -> list[Axis]:
    """``w:<behaviour>`` axes: 0 (drop the behaviour) up to 30 and beyond; optionally negative."""
    values: tuple[float, ...] = (0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    low = 0.0
    if negative:
        values = (-0.3, -0.1, *values)
        low = -0.3
    return [log_axis(f"w:{b}", values, float(start[b]), low, 1000.0, closed=(True, False))
            for b in behaviours]


def _interaction_axes(behaviours: list[str]) -> list[Axis]:
    return [choice_axis("aggregation", AGGREGATIONS, "max"),
            *weight_axes(behaviours, {b: 1.0 for b in behaviours}),
            log_axis("half_life_days", (1.0, 7.0, 30.0, 180.0), None, 0.01, 36500.0,
                     special=(None,))]


def _space_popular(behaviours: list[str], target: str) -> list[Axis]:
    start = {b: 1.0 if b == target else 0.0 for b in behaviours}
    return [log_axis("window_days", (1.0, 3.0, 7.0, 14.0, 30.0, 90.0), None, 0.1, 36500.0,
                     special=(None,)),
            choice_axis("aggregation", AGGREGATIONS, "max"),
            *weight_axes(behaviours, start)]


def _space_itemknn(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("neighbours", (20, 50, 100, 200, 500, 1000), 100, 2, 20000, integer=True),
            log_axis("shrink", (0.0, 1.0, 3.0, 10.0, 30.0, 100.0), 10.0, 0.0, 100000.0,
                     closed=(True, False)),
            linear_axis("alpha", (0.0, 0.25, 0.5, 0.75, 1.0), 0.5, 0.0, 1.0, closed=(True, True)),
            *_interaction_axes(behaviours)]


def _space_ease(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("l2", (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0), 500.0, 0.01, 1e7),
            linear_axis("min_users", (1, 2, 3, 5), 2, 1, 50, closed=(True, False), integer=True),
            *_interaction_axes(behaviours)]


def _space_als(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("factors", (16, 32, 64, 128, 256, 512), 64, 2, 1024, integer=True),
            log_axis("regularization", (0.001, 0.01, 0.05, 0.1, 1.0, 10.0), 0.05, 1e-6, 1e5),
            log_axis("alpha", (0.3, 1.0, 3.0, 10.0, 30.0, 100.0), 10.0, 1e-3, 1e5),
            log_axis("iterations", (5, 15, 30), 15, 1, 60, integer=True),
            *_interaction_axes(behaviours)]


_HALF_LIVES = (0.25, 1.0, 3.0, 7.0, 14.0, 30.0, 60.0, 180.0, 365.0)


def _space_repeat(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("half_life_days", _HALF_LIVES, 30.0, 0.001, 36500.0),
            log_axis("recency_floor", (0.0, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0), 0.05, 0.0, 1.0,
                     closed=(True, True)),
            *weight_axes(behaviours, DEFAULT_BEHAVIOUR_WEIGHTS, negative=True)]


def _space_whyrec(behaviours: list[str], target: str) -> list[Axis]:
    return [choice_axis("similarity", ("cosine", "ease"), "cosine"),
            log_axis("neighbours", (10, 30, 100, 300, 1000), 100, 2, 20000, integer=True),
            linear_axis("alpha", (0.0, 0.25, 0.5, 0.75, 1.0), 0.5, 0.0, 1.0, closed=(True, True)),
            log_axis("shrink", (0.0, 1.0, 5.0, 20.0, 100.0), 5.0, 0.0, 1e5, closed=(True, False)),
            log_axis("l2", (10.0, 50.0, 200.0, 500.0, 2000.0), 200.0, 0.01, 1e7),
            log_axis("half_life_days", _HALF_LIVES, 30.0, 0.001, 36500.0),
            log_axis("recency_floor", (0.0, 0.01, 0.05, 0.1, 0.3, 1.0), 0.05, 0.0, 1.0,
                     closed=(True, True)),
            log_axis("similarity_weight", (0.1, 0.3, 1.0, 3.0, 10.0, 30.0), 1.0, 1e-4, 1e5),
            log_axis("repeat_weight", (0.0, 0.1, 0.3, 1.0, 3.0), 1.0, 0.0, 1e4,
                     closed=(True, False)),
            log_axis("repeat_conversion", (0.0, 0.5, 1.0, 2.0), 0.0, 0.0, 8.0,
                     closed=(True, False)),
            log_axis("popularity_weight", (0.0, 0.01, 0.05, 0.2, 0.5), 0.05, 0.0, 1e3,
                     closed=(True, False)),
            log_axis("conversion_weight", (0.0, 0.05, 0.2, 1.0), 0.0, 0.0, 1e3,
                     closed=(True, False)),
            log_axis("cycle_weight", (0.0, 0.1, 0.3, 1.0, 3.0), 0.0, 0.0, 1e4,
                     closed=(True, False)),
            *weight_axes(behaviours, DEFAULT_BEHAVIOUR_WEIGHTS, negative=True)]


def _space_sequential(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("steps", (1, 2, 3, 5, 10, 20), 5, 1, 200, closed=(True, False),
                     integer=True),
            linear_axis("step_power", (0.0, 0.5, 1.0, 2.0), 1.0, 0.0, 6.0, closed=(True, False)),
            log_axis("max_gap_days", (0.04, 1.0, 7.0, 30.0), None, 0.001, 3650.0,
                     special=(None,)),
            linear_axis("alpha", (0.0, 0.25, 0.5, 0.75, 1.0), 0.5, 0.0, 1.0, closed=(True, True)),
            choice_axis("to_target", (False, True), False),
            choice_axis("self_transitions", (True, False), True),
            choice_axis("collapse_repeats", (True, False), True),
            log_axis("half_life_days", (0.25, 1.0, 7.0, 30.0, 180.0), 7.0, 0.001, 36500.0,
                     special=(None,)),
            log_axis("last_n", (1, 3, 10, 30, 100), None, 1, 10000, closed=(True, False),
                     integer=True, special=(None,)),
            log_axis("popularity_weight", (0.0, 0.01, 0.03, 0.1, 0.3, 1.0), 0.0, 0.0, 1e4,
                     closed=(True, False)),
            *weight_axes(behaviours, {b: 1.0 for b in behaviours})]


SpaceBuilder = Callable[[list[str], str], list[Axis]]

#: The search space of each registered model, built for the behaviours present and the target.
SPACES: dict[str, SpaceBuilder] = {
    "popular": _space_popular,
    "itemknn": _space_itemknn,
    "ease": _space_ease,
    "als": _space_als,
    "repeat": _space_repeat,
    "whyrec": _space_whyrec,
    "sequential": _space_sequential,
}


#: The item-text term's strength, searched only when whyrec is given item vectors (0 = off).
TEXT_AXIS = log_axis("text_weight", (0.0, 0.01, 0.03, 0.1, 0.3, 1.0), 0.0, 0.0, 1e3, closed=(True, False))


def search_space(model: str, behaviours: Iterable[str], target: str | None = None,
                 with_text: bool = False) -> tuple[Axis, ...]:
    """The model's axes for data with these behaviours (weights of absent ones are left out;
    with one behaviour, no weights at all: they could only rescale). ``with_text`` adds
    whyrec's ``text_weight`` axis (when item vectors are given)."""
    if model not in SPACES:
        raise ValueError(f"no search space for model {model!r}; known: {sorted(SPACES)}")
    present = sorted(set(behaviours))
    axes = SPACES[model](present, resolve_target(present, target))
    if len(present) <= 1:
        axes = [a for a in axes if not a.name.startswith("w:")]
    if with_text and model == "whyrec":
        axes = [*axes, TEXT_AXIS]
    return tuple(axes)


__all__ = ["Axis", "SPACES", "choice_axis", "is_number", "linear_axis", "log_axis",
           "search_space", "weight_axes"]
