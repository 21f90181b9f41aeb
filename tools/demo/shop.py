"""``whyrec demo``: a simulated shop whose behaviour → purchase effects are known.

Two scenarios (``DemoConfig(scenario=...)``): ``default``, the easy shop the product has
always shipped, and ``adversarial``, built to break estimators that lean on the wrong
assumptions (:mod:`.scenarios`). Both draw a readable catalog (:mod:`.catalog`), who looks at
what (:mod:`.simulate`) and then each exposure's funnel as a sequence of decisions
(:mod:`.funnel`). Because the simulator knows every latent trait, it computes the true effect
of each behaviour for the causal tool's documented estimand (:mod:`.truth`) and writes it to
``ground_truth.json``: ``{"effects": [{"behaviour", "outcome", "effect", "segment"?}], ...}``.

>>> shop = generate_shop(DemoConfig(users=50, items=60, days=14))
>>> sorted(shop.events["behaviour"].unique())[:2]
['cart', 'click']
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..causal.estimand import choose_windows
from ..schema import compute_event_keys, conform_events
from ..workspace import SourceRecord, Workspace
from .catalog import TOP_CATEGORIES, make_catalog
from .funnel import BUY, CART, FAVOURITE, LOOK, FunnelLog, run_funnel
from .scenarios import AdversarialPolicy, DefaultPolicy, Mechanism
from .simulate import CATEGORY_SHIFT, REFERENCE_PRICE, SECONDS_PER_DAY, Exposures, simulate_exposures
from .truth import GroundTruth, TrueEffect, decision_truth, summarise

log = logging.getLogger(__name__)

#: The demo log always ends here, so the same seed gives the same files on any day.
END = datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
GROUND_TRUTH_FILE = "ground_truth.json"
SCENARIOS: tuple[str, ...] = ("default", "adversarial")
UNIT_DESCRIPTION = (
    "decision points: the moment right after any event of a shopper on an item (first view, "
    "another view, a favourite, a cart) while the item is not bought yet and the first view is at "
    "most D ago. The effect of a behaviour is the average over its decision points (where it has "
    "not happened yet, with a full H of log after them) of P(buy within H | the next action is the "
    "behaviour) minus P(buy within H | the next action is anything else, or nothing)."
)

__all__ = ["DemoConfig", "DemoShop", "DemoSummary", "GroundTruth", "TrueEffect", "build_demo_workspace",
           "generate_shop", "load_ground_truth"]


@dataclass(frozen=True)
class DemoConfig:
    """Size, seed and scenario of the demo shop. The same config always gives the same shop.

    ``truth_replays`` is how many futures the simulator replays per decision point to compute
    the true effects (more: a more precise truth, slower); 0 skips the ground truth (for speed
    benchmarks that do not need it).
    """

    users: int = 400
    items: int = 300
    days: int = 60
    seed: int = 7
    mechanism: Mechanism = Mechanism()
    scenario: str = "default"
    truth_replays: int = 8

    def __post_init__(self) -> None:
        if self.users < 1 or self.days < 1:
            raise ValueError(f"the demo shop needs at least one user and one day, got {self}")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown demo scenario {self.scenario!r}; choose one of {', '.join(SCENARIOS)}")
        if self.truth_replays < 0:
            raise ValueError("truth_replays must be 0 (no ground truth) or more")


@dataclass(frozen=True)
class DemoShop:
    """Events and catalog (canonical schema), the ground truth, the exposures and the
    per-decision-point truth (``decisions``: user_id, item_id, k, behaviour, treated, bought,
    followed_up, effect)."""

    events: pd.DataFrame
    items: pd.DataFrame
    ground_truth: GroundTruth
    units: pd.DataFrame
    decisions: pd.DataFrame


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
        truth = self.ground_truth
        lines = [f"demo shop ({truth.scenario} scenario, seed {truth.seed}) written to {self.path} in "
                 f"{self.seconds:.1f} s (data version {self.data_version})",
                 f"  events  {self.events:,}", f"  users   {self.users:,}", f"  items   {self.items:,}",
                 "  true effects on P(purchase within {horizon}) of doing the behaviour next:".format(
                     horizon=truth.estimand.get("horizon", "H"))]
        lines += [f"    {e.behaviour:<10} {e.effect:+.3f}  (naive difference "
                  f"{truth.naive.get(e.behaviour, float('nan')):+.3f})"
                  for e in truth.effects if e.segment is None]
        return "\n".join(lines)


def generate_shop(config: DemoConfig = DemoConfig()) -> DemoShop:
    """Simulate the shop: catalog, exposures, each exposure's funnel, and the true effects."""
    seeds = np.random.SeedSequence(config.seed).spawn(6)
    catalog = make_catalog(np.random.default_rng(seeds[0]), config.items)
    end_seconds = int(END.timestamp())
    price = catalog.items["price"].to_numpy(dtype=float)
    adversarial = config.scenario == "adversarial"
    latent_rng = np.random.default_rng(seeds[5])
    affluence = latent_rng.normal(size=config.users) if adversarial else None
    # An item's appeal shows in how many people look at it (its popularity), and only partly.
    appeal = (np.log(catalog.popularity) + 0.35 * latent_rng.normal(size=config.items)) if adversarial else None
    exposures = simulate_exposures(np.random.default_rng(seeds[1]), catalog, config.users, config.days,
                                   end_seconds, affluence=affluence, choice_rng=latent_rng,
                                   taste_concentration=0.35 if adversarial else 0.6)
    top = catalog.top_category[exposures.item]
    if adversarial:
        assert affluence is not None and appeal is not None
        log_price = np.log(price[exposures.item])
        policy: DefaultPolicy | AdversarialPolicy = AdversarialPolicy(
            taste=exposures.user_taste[exposures.user, top], appeal=appeal[exposures.item],
            price_gap=np.log(price[exposures.item] / REFERENCE_PRICE) - 0.5 * affluence[exposures.user],
            seen_taste=exposures.taste_share, seen_popularity=np.log1p(exposures.item_prior_users),
            seen_price_gap=log_price - _earlier_mean(exposures.user, exposures.time, log_price),
            seen_activity=np.log1p(exposures.user_prior_items),
            day=(exposures.time - (end_seconds - config.days * SECONDS_PER_DAY)) / SECONDS_PER_DAY)
    else:
        policy = DefaultPolicy(
            activity=np.log1p(exposures.user_prior_items), popularity=np.log1p(exposures.item_prior_users),
            taste=exposures.taste_share, log_price=np.log(price[exposures.item] / REFERENCE_PRICE),
            shift=np.array([CATEGORY_SHIFT[t] for t in TOP_CATEGORIES])[top], mech=config.mechanism)
    funnel = run_funnel(np.random.default_rng(seeds[2]), policy, len(exposures.time))
    user_width = len(str(max(config.users - 1, 0)))
    item_ids = catalog.items["item_id"].to_numpy(dtype=object)
    user_ids = ("u" + pd.Index(np.arange(config.users)).astype(str).str.zfill(user_width)).to_numpy(dtype=object)
    events = _events(np.random.default_rng(seeds[3]), exposures, funnel, user_ids, item_ids, end_seconds)
    units = pd.DataFrame({
        "user_id": user_ids[exposures.user], "item_id": item_ids[exposures.item],
        "timestamp": pd.to_datetime(exposures.time, unit="s", utc=True),
        "user_prior_items": exposures.user_prior_items, "item_prior_users": exposures.item_prior_users,
        "taste_share": exposures.taste_share, "price": price[exposures.item],
        "category": np.array(TOP_CATEGORIES)[top],
    })
    if adversarial:
        assert isinstance(policy, AdversarialPolicy)
        units["latent_taste"] = policy.taste
        units["latent_appeal"] = policy.appeal
        units["latent_price_gap"] = policy.price_gap
    windows = choose_windows(events)
    buy = funnel.event_action == BUY
    purchase_time = np.full(len(exposures.time), np.inf)
    times = exposures.time[funnel.event_unit] + funnel.event_offset
    in_log = times <= end_seconds
    np.minimum.at(purchase_time, funnel.event_unit[buy & in_log], times[buy & in_log])
    log_end = float(events["timestamp"].max().timestamp()) if len(events) else float(end_seconds)
    if config.truth_replays:
        rows = decision_truth(funnel, policy, exposures.time.astype(float), purchase_time, log_end, windows,
                              np.random.default_rng(seeds[4]), replays=config.truth_replays)
        effects, naive = summarise(rows, units)
    else:
        rows = pd.DataFrame({"unit": np.zeros(0, dtype=np.int64), "k": np.zeros(0, dtype=np.int64),
                             "behaviour": np.zeros(0, dtype=object), "treated": np.zeros(0, dtype=np.int64),
                             "bought": np.zeros(0, dtype=np.int64), "followed_up": np.zeros(0, dtype=bool),
                             "effect": np.zeros(0)})
        effects, naive = (), {}
    decisions = rows.assign(user_id=units["user_id"].to_numpy()[rows["unit"].to_numpy()],
                            item_id=units["item_id"].to_numpy()[rows["unit"].to_numpy()])
    truth = GroundTruth(effects=effects, unit=UNIT_DESCRIPTION, n_units=len(units),
                        estimand={**windows.to_json(), "decision_points": {
                            b: int(((decisions["behaviour"] == b) & decisions["followed_up"]).sum())
                            for b in ("view", "favourite", "cart")}},
                        scenario=config.scenario, seed=config.seed, naive=naive)
    log.info("demo shop (%s): %d users, %d items, %d exposures, %d events", config.scenario, config.users,
             config.items, len(units), len(events))
    return DemoShop(events=events, items=catalog.items, ground_truth=truth, units=units, decisions=decisions)


def _earlier_mean(user: np.ndarray, when: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per exposure, the mean of ``values`` over the user's exposures strictly earlier (the
    overall mean for a user's first)."""
    frame = pd.DataFrame({"user": user, "time": when, "v": values})
    grouped = frame.groupby(["user", "time"], sort=True)["v"].agg(["sum", "count"])
    per_user = grouped.groupby(level="user")
    before_sum = per_user["sum"].cumsum() - grouped["sum"]
    before_n = per_user["count"].cumsum() - grouped["count"]
    mean = (before_sum / before_n.where(before_n > 0)).fillna(float(values.mean()))
    return mean.reindex(pd.MultiIndex.from_arrays([user, when])).to_numpy()


def _events(rng: np.random.Generator, exposures: Exposures, funnel: FunnelLog, user_ids: np.ndarray,
            item_ids: np.ndarray, end_seconds: int) -> pd.DataFrame:
    """Turn the funnel into timestamped events (repeat looks: three in ten are clicks); events
    after the log's end are not in the log."""
    unit = funnel.event_unit
    action = funnel.event_action
    when = exposures.time[unit] + funnel.event_offset.astype(np.int64)
    # run_funnel lists every first look before any other event, so mark them by position.
    first_look = np.zeros(len(unit), dtype=bool)
    first_look[: len(exposures.time)] = True
    kind = np.full(len(unit), 0, dtype=np.int64)  # 0 view, 1 click, 2 favourite, 3 cart, 4 purchase
    repeat = (action == LOOK) & ~first_look
    kind[repeat] = np.where(rng.random(int(repeat.sum())) < 0.3, 1, 0)
    kind[action == FAVOURITE] = 2
    kind[action == CART] = 3
    kind[action == BUY] = 4
    keep = when <= end_seconds
    unit, when, kind = unit[keep], when[keep], kind[keep]
    n_sessions = int(exposures.session.max(initial=0)) + 1
    session_names = pd.Index(np.arange(n_sessions)).astype(str).str.zfill(len(str(n_sessions - 1)))
    behaviours = np.array(["view", "click", "favourite", "cart", "purchase"], dtype=object)
    frame = pd.DataFrame({
        "user_id": pd.Categorical.from_codes(exposures.user[unit], user_ids),
        "item_id": pd.Categorical.from_codes(exposures.item[unit], item_ids),
        "behaviour": pd.Categorical.from_codes(kind, behaviours),
        "timestamp": pd.to_datetime(when, unit="s", utc=True),
        "session_id": pd.Categorical.from_codes(exposures.session[unit], "s" + session_names),
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
        source = SourceRecord(path=f"whyrec-demo:scenario={config.scenario},seed={config.seed},"
                                   f"users={config.users},items={config.items},days={config.days}",
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
