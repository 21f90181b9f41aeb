"""``whyrec demo``: a simulated shop whose behaviour → purchase effects are known.

The shop has a readable catalog (:mod:`.catalog`) and an event log drawn from a structural
model with confounding by design (:mod:`.simulate`). Because the true effects are computed
from both potential outcomes of every unit, the causal tool can be checked against them.

>>> shop = generate_shop(DemoConfig(users=50, items=60, days=14))
>>> sorted(shop.events["behaviour"].unique())[:2]
['cart', 'click']
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..schema import compute_event_keys, conform_events
from ..workspace import SourceRecord, Workspace
from .catalog import TOP_CATEGORIES, make_catalog
from .simulate import Exposures, Funnel, Mechanism, simulate_exposures, simulate_funnel

log = logging.getLogger(__name__)

#: The demo log always ends here, so the same seed gives the same files on any day.
END = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
GROUND_TRUTH_FILE = "ground_truth.json"
UNIT_DESCRIPTION = (
    "one (user, item) exposure: a user's first view of an item. Treatments are what the user "
    "then did on that item in the same visit — 'view' means viewed or clicked it again "
    "(two or more looks vs one), 'favourite' saved it, 'cart' added it to the cart — and the "
    "outcome is a purchase of that item (always within an hour of the first view). The effect is "
    "the average change in P(purchase) over all exposures; for view and favourite it is the total "
    "effect, including their paths through later behaviours (view -> favourite -> cart)."
)
#: Behaviour names in the ground truth, mapped to the simulator's treatment arrays.
TRUTH_BEHAVIOURS: tuple[str, ...] = ("favourite", "cart", "view")


@dataclass(frozen=True)
class DemoConfig:
    """Size and seed of the demo shop. The same config always gives the same shop."""

    users: int = 400
    items: int = 300
    days: int = 60
    seed: int = 7
    mechanism: Mechanism = Mechanism()

    def __post_init__(self) -> None:
        if self.users < 1 or self.days < 1:
            raise ValueError(f"the demo shop needs at least one user and one day, got {self}")


@dataclass(frozen=True)
class TrueEffect:
    """The true average effect of one behaviour on one outcome, and the naive contrast."""

    behaviour: str
    outcome: str
    effect: float
    naive: float


@dataclass(frozen=True)
class GroundTruth:
    """What the simulator knows: true effects per behaviour on the stated unit."""

    effects: tuple[TrueEffect, ...]
    unit: str
    n_units: int

    def effect(self, behaviour: str) -> float:
        """The true effect of ``behaviour`` on purchase; KeyError if not simulated."""
        for e in self.effects:
            if e.behaviour == behaviour:
                return e.effect
        raise KeyError(f"no ground truth for behaviour {behaviour!r}")

    def to_json(self) -> dict:
        return {"effects": [asdict(e) for e in self.effects], "unit": self.unit,
                "n_units": self.n_units}

    @classmethod
    def from_json(cls, data: dict) -> GroundTruth:
        return cls(effects=tuple(TrueEffect(**e) for e in data["effects"]), unit=data["unit"],
                   n_units=int(data["n_units"]))


@dataclass(frozen=True)
class DemoShop:
    """Events and catalog (canonical schema), the ground truth, and the simulator's unit table."""

    events: pd.DataFrame
    items: pd.DataFrame
    ground_truth: GroundTruth
    units: pd.DataFrame


@dataclass(frozen=True)
class DemoSummary:
    """What ``whyrec demo`` prints."""

    path: str
    events: int
    users: int
    items: int
    data_version: int
    seconds: float
    ground_truth: GroundTruth

    def to_text(self) -> str:
        lines = [f"demo shop written to {self.path} in {self.seconds:.1f} s "
                 f"(data version {self.data_version})",
                 f"  events  {self.events:,}", f"  users   {self.users:,}", f"  items   {self.items:,}",
                 "  true effects on P(purchase):"]
        lines += [f"    {e.behaviour:<10} {e.effect:+.3f}  (naive difference {e.naive:+.3f})"
                  for e in self.ground_truth.effects]
        return "\n".join(lines)


def generate_shop(config: DemoConfig = DemoConfig()) -> DemoShop:
    """Simulate the shop: catalog, sessions, funnel events and the true effects."""
    seeds = np.random.SeedSequence(config.seed).spawn(4)
    catalog = make_catalog(np.random.default_rng(seeds[0]), config.items)
    end_seconds = int(END.timestamp())
    exposures = simulate_exposures(np.random.default_rng(seeds[1]), catalog, config.users,
                                   config.days, end_seconds)
    price = catalog.items["price"].to_numpy(dtype=float)
    funnel = simulate_funnel(np.random.default_rng(seeds[2]), exposures, price,
                             catalog.top_category, config.mechanism)
    user_width = len(str(max(config.users - 1, 0)))
    item_ids = catalog.items["item_id"].to_numpy(dtype=object)
    user_ids = ("u" + pd.Index(np.arange(config.users)).astype(str).str.zfill(user_width)).to_numpy(dtype=object)
    events = _events(np.random.default_rng(seeds[3]), exposures, funnel, user_ids, item_ids)
    units = pd.DataFrame({
        "user_id": user_ids[exposures.user], "item_id": item_ids[exposures.item],
        "timestamp": pd.to_datetime(exposures.time, unit="s", utc=True),
        "user_prior_items": exposures.user_prior_items,
        "item_prior_users": exposures.item_prior_users,
        "taste_share": exposures.taste_share,
        "price": price[exposures.item],
        "top_category": np.array(TOP_CATEGORIES)[catalog.top_category[exposures.item]],
        "view": funnel.repeat_view, "favourite": funnel.favourite, "cart": funnel.cart,
        "purchase": funnel.purchase, "p_purchase": funnel.p_purchase,
        "effect_view": funnel.effect_repeat_view, "effect_favourite": funnel.effect_favourite,
        "effect_cart": funnel.effect_cart,
    })
    truth = GroundTruth(effects=tuple(_true_effect(units, b) for b in TRUTH_BEHAVIOURS),
                        unit=UNIT_DESCRIPTION, n_units=len(units))
    log.info("demo shop: %d users, %d items, %d exposures, %d events", config.users,
             config.items, len(units), len(events))
    return DemoShop(events=events, items=catalog.items, ground_truth=truth, units=units)


def _true_effect(units: pd.DataFrame, behaviour: str) -> TrueEffect:
    treated = units[behaviour].to_numpy() == 1
    y = units["purchase"].to_numpy(dtype=float)
    naive = float(y[treated].mean() - y[~treated].mean()) if treated.any() and (~treated).any() else float("nan")
    return TrueEffect(behaviour=behaviour, outcome="purchase",
                      effect=round(float(units[f"effect_{behaviour}"].mean()), 6),
                      naive=round(naive, 6))


def _events(rng: np.random.Generator, exposures: Exposures, funnel: Funnel,
            user_ids: np.ndarray, item_ids: np.ndarray) -> pd.DataFrame:
    """Turn units into timestamped events: view, extra looks, favourite, cart, purchase."""
    n = len(exposures.time)
    unit = np.arange(n)
    t0 = exposures.time
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = [(unit, t0, np.full(n, "view", dtype=object))]
    # Repeat looks: one or more extra views or clicks within the next few minutes.
    again = unit[funnel.repeat_view == 1]
    extra = 1 + rng.poisson(0.6, size=len(again))
    look_unit = np.repeat(again, extra)
    gaps = rng.integers(8, 50, size=len(look_unit))
    cum = np.cumsum(gaps)
    first = np.r_[0, np.cumsum(extra)[:-1]]
    offsets = cum - np.repeat(cum[first] - gaps[first], extra) if len(look_unit) else gaps
    kinds = np.where(rng.random(len(look_unit)) < 0.3, "click", "view").astype(object)
    parts.append((look_unit, t0[look_unit] + offsets, kinds))
    for name, flag, lo, hi in (("favourite", funnel.favourite, 260, 380),
                               ("cart", funnel.cart, 400, 600),
                               ("purchase", funnel.purchase, 700, 2_500)):
        chosen = unit[flag == 1]
        parts.append((chosen, t0[chosen] + rng.integers(lo, hi, size=len(chosen)),
                      np.full(len(chosen), name, dtype=object)))
    ev_unit = np.concatenate([p[0] for p in parts])
    ev_time = np.concatenate([p[1] for p in parts])
    ev_kind = np.concatenate([p[2] for p in parts])
    # Categoricals keep the string columns cheap to build at millions of events.
    n_sessions = int(exposures.session.max(initial=0)) + 1
    session_names = pd.Index(np.arange(n_sessions)).astype(str).str.zfill(len(str(n_sessions - 1)))
    behaviours = np.array(["view", "click", "favourite", "cart", "purchase"], dtype=object)
    kind_codes = pd.Index(behaviours).get_indexer(ev_kind)
    frame = pd.DataFrame({
        "user_id": pd.Categorical.from_codes(exposures.user[ev_unit], user_ids),
        "item_id": pd.Categorical.from_codes(exposures.item[ev_unit], item_ids),
        "behaviour": pd.Categorical.from_codes(kind_codes, behaviours),
        "timestamp": pd.to_datetime(ev_time, unit="s", utc=True),
        "session_id": pd.Categorical.from_codes(exposures.session[ev_unit], "s" + session_names),
    })
    frame = conform_events(frame)
    frame["event_key"] = compute_event_keys(frame)
    return frame.sort_values(["timestamp", "event_key"], kind="stable").reset_index(drop=True)


def build_demo_workspace(path: str | Path, config: DemoConfig = DemoConfig(),
                         replace: bool = False) -> DemoSummary:
    """Write the demo shop into a workspace at ``path`` plus ``ground_truth.json`` beside it.

    Refuses a workspace that already holds events unless ``replace`` is given (then the event
    log and catalog are replaced in one atomic commit).
    """
    started = time.perf_counter()
    shop = generate_shop(config)
    workspace = Workspace.create(path)
    with workspace.lock():
        workspace.reload()
        if workspace.manifest.event_parts and not replace:
            raise ValueError(f"{workspace.path} already holds events; choose an empty folder "
                             "or pass replace=True (--replace) to overwrite it with the demo shop")
        source = SourceRecord(path=f"whyrec-demo:seed={config.seed},users={config.users},"
                                   f"items={config.items},days={config.days}",
                              sha256="", rows_read=len(shop.events), rows_added=len(shop.events),
                              rows_rejected=0, ingested_at=END.isoformat())
        version = workspace.commit(shop.events, shop.items, [source], replace_events=replace)
        truth_path = workspace.path / GROUND_TRUTH_FILE
        tmp = truth_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(shop.ground_truth.to_json(), indent=2), encoding="utf-8")
        tmp.replace(truth_path)
    return DemoSummary(path=str(workspace.path), events=len(shop.events),
                       users=int(shop.events["user_id"].nunique()), items=len(shop.items),
                       data_version=version, seconds=time.perf_counter() - started,
                       ground_truth=shop.ground_truth)


def load_ground_truth(workspace_path: str | Path) -> GroundTruth | None:
    """The ground truth of a demo workspace, or ``None`` if the workspace is not a demo."""
    path = Path(workspace_path) / GROUND_TRUTH_FILE
    if not path.exists():
        return None
    return GroundTruth.from_json(json.loads(path.read_text(encoding="utf-8")))
