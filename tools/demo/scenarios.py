"""The two demo scenarios as funnel policies: who does what next, given the state so far.

``default`` — the shop whyrec has always shipped: one visit per exposure, the funnel mostly in
its textbook order (looks → favourite → cart → buy; now and then a look back or a late
favourite after the cart, so every choice stays possible), probabilities driven by quantities the log
itself measures before the exposure (the user's earlier looks, the item's earlier viewers, the
user's taste share, the price, the category). A linear-probability purchase model with a
constant cart effect. Easy on purpose: it checks the pipeline, not the estimator.

``adversarial`` — built to break estimators that lean on the wrong assumptions:

* the purchase model is non-linear (a softmax over next actions) with interactions;
* the cart effect varies with the shopper's latent taste for the category and with the price
  relative to their latent affluence; looking again has an effect that fades with each look;
  favourites have **no effect at all** (a pure marker of interest);
* buying depends on latent traits (true taste, affluence, item appeal) that the log shows only
  through proxies (the share of earlier looks in the category, the prices of earlier looks, how
  many people looked at the item); shoppers choose their next step from those visible things,
  so the proxies are the confounders and the effects stay identified — but only for an
  estimator that adjusts for them flexibly and in time order;
* carts bring shoppers back: looks (and favourites) after the cart are common, so adjusting for
  "looked again" measured after the cart would bias the cart effect;
* shoppers come back days later, so some purchases fall outside the horizon;
* behaviour drifts over time: a trend in carting and a promotion window (days 25–35) that
  raises carting and buying together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .funnel import BUY, CART, FAVOURITE, LEAVE, LOOK, State

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class Mechanism:
    """Coefficients of the default scenario (per decision, in the funnel's order)."""

    # purchase probability (linear): base + tau_* × state
    y_intercept: float = -0.006
    y_activity: float = 0.022
    y_popularity: float = 0.02
    y_taste: float = 0.22
    y_log_price: float = -0.025
    tau_repeat_view: float = 0.02
    tau_favourite: float = 0.045
    tau_cart: float = 0.20
    # first repeat look (logistic); later looks continue with ``look_again``
    r_intercept: float = -2.2
    r_activity: float = 0.25
    r_popularity: float = 0.18
    r_taste: float = 2.0
    look_again: float = 0.375
    # after a favourite or a cart: an occasional look back, and a late favourite after a cart
    look_later: float = 0.08
    favourite_later: float = 0.05
    # favourite (logistic)
    f_intercept: float = -3.6
    f_activity: float = 0.30
    f_popularity: float = 0.22
    f_taste: float = 2.4
    f_repeat_view: float = 0.7
    # cart (logistic)
    c_intercept: float = -4.1
    c_activity: float = 0.5
    c_popularity: float = 0.45
    c_taste: float = 3.0
    c_log_price: float = -0.45
    c_favourite: float = 1.0
    c_repeat_view: float = 0.6


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class DefaultPolicy:
    """The default scenario: one visit, textbook order, measured confounders, linear purchase."""

    activity: np.ndarray  # log1p(items the user looked at before), per exposure
    popularity: np.ndarray  # log1p(users who looked at the item before)
    taste: np.ndarray  # share of the user's earlier looks in the item's top category
    log_price: np.ndarray  # log(price / reference price)
    shift: np.ndarray  # per-category shift of the purchase probability
    mech: Mechanism = Mechanism()

    def probabilities(self, state: State) -> np.ndarray:
        m, u = self.mech, state.unit
        a, p, s, lp = self.activity[u], self.popularity[u], self.taste[u], self.log_price[u]
        r = (state.looks >= 2).astype(float)
        f = state.favourite.astype(float)
        c = state.cart.astype(float)
        p_first = _sigmoid(m.r_intercept + m.r_activity * a + m.r_popularity * p + m.r_taste * s)
        pl = np.where(state.stage == 0, p_first, np.where(state.stage == 1, m.look_again, m.look_later))
        pf = np.where(state.favourite, 0.0,
                      np.where(state.stage <= 1,
                               _sigmoid(m.f_intercept + m.f_activity * a + m.f_popularity * p + m.f_taste * s
                                        + m.f_repeat_view * r), m.favourite_later))
        pc = np.where(~state.cart & (state.stage <= 2),
                      _sigmoid(m.c_intercept + m.c_activity * a + m.c_popularity * p + m.c_taste * s
                               + m.c_log_price * lp + m.c_favourite * f + m.c_repeat_view * r), 0.0)
        py = np.clip(m.y_intercept + m.y_activity * a + m.y_popularity * p + m.y_taste * s
                     + m.y_log_price * lp + self.shift[u] + m.tau_repeat_view * r + m.tau_favourite * f
                     + m.tau_cart * c, 0.0, 1.0)
        out = np.empty((len(u), 5))
        out[:, LOOK] = pl
        out[:, FAVOURITE] = (1 - pl) * pf
        out[:, CART] = (1 - pl) * (1 - pf) * pc
        out[:, BUY] = (1 - pl) * (1 - pf) * (1 - pc) * py
        out[:, LEAVE] = 1 - out[:, :4].sum(axis=1)
        return out

    def gaps(self, action: np.ndarray, state: State, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        low = np.array([8.0, 200.0, 100.0, 300.0, 0.0])[action]
        width = np.array([42.0, 130.0, 150.0, 1600.0, 0.0])[action]
        return np.floor(low + width * u) + 1.0


@dataclass(frozen=True)
class AdversarialPolicy:
    """The adversarial scenario (see the module docstring), per exposure.

    Shoppers choose what to do next from what they (and the shop) can see: their share of
    earlier looks in the category, how many people looked at the item before, its price against
    the prices they usually look at, the day, and the item's history so far. Whether they then
    buy depends on what nobody sees — their true taste, the item's true appeal, their true
    affluence — of which those visible things are only proxies.
    """

    taste: np.ndarray  # latent: the user's taste weight for the item's top category (0..1)
    appeal: np.ndarray  # latent: the item's appeal
    price_gap: np.ndarray  # latent: log(price / 40) − 0.5 × the user's affluence
    seen_taste: np.ndarray  # visible: share of the user's earlier looks in the category
    seen_popularity: np.ndarray  # visible: log(1 + users who looked at the item before)
    seen_price_gap: np.ndarray  # visible: log price − mean log price of the user's earlier looks
    seen_activity: np.ndarray  # visible: log(1 + items the user looked at before)
    day: np.ndarray  # days since the log began, at the first look
    promo_start: float = 25.0
    promo_end: float = 35.0

    def quality(self, unit: np.ndarray) -> np.ndarray:
        """The hidden fit of shopper and item that drives buying."""
        return 2.2 * (self.taste[unit] - 0.125) + 0.6 * self.appeal[unit]

    def visible_interest(self, unit: np.ndarray) -> np.ndarray:
        return 2.0 * (self.seen_taste[unit] - 0.2) + 0.4 * (self.seen_popularity[unit] - 1.5)

    def cart_lift(self, unit: np.ndarray) -> np.ndarray:
        """How much a cart raises the log-odds of buying at each later step (heterogeneous)."""
        return 2.2 + 1.3 * np.tanh(1.2 * self.quality(unit)) - 1.1 * np.clip(self.price_gap[unit], 0.0, None)

    def probabilities(self, state: State) -> np.ndarray:
        u = state.unit
        visible = self.visible_interest(u)
        day = self.day[u] + state.elapsed / SECONDS_PER_DAY
        promo = ((day >= self.promo_start) & (day < self.promo_end)).astype(float)
        seen = np.minimum(state.looks - 1, 3).astype(float)
        cart = state.cart.astype(float)
        # What to do next, chosen from what is visible.
        s_look = (-0.9 + 0.6 * visible + 0.25 * self.seen_activity[u] - 0.5 * (state.looks - 1) + 1.2 * cart)
        s_cart = np.where(state.cart, -np.inf,
                          -2.3 + 0.8 * visible + 0.5 * np.tanh(2.0 * visible) + 0.55 * seen
                          - 0.9 * self.seen_price_gap[u] + 0.7 * promo + 0.012 * day)
        scores = np.stack([s_look, s_cart, np.zeros_like(s_look)], axis=1)
        scores -= scores.max(axis=1, keepdims=True)
        intent = np.exp(scores)
        intent /= intent.sum(axis=1, keepdims=True)
        # Otherwise they buy or leave, and that depends on what nobody sees.
        buy = _sigmoid(-2.6 + 0.9 * self.quality(u) + 0.3 * seen - 0.6 * self.price_gap[u] + 0.45 * promo
                       + cart * self.cart_lift(u))
        # A favourite is a side step, chosen from what is visible; it changes nothing after it.
        fav = np.where(state.favourite, 0.0, _sigmoid(-2.7 + 1.2 * visible + 0.35 * seen))
        out = np.empty((len(u), 5))
        out[:, FAVOURITE] = fav
        out[:, LOOK] = (1 - fav) * intent[:, 0]
        out[:, CART] = (1 - fav) * intent[:, 1]
        out[:, BUY] = (1 - fav) * intent[:, 2] * buy
        out[:, LEAVE] = (1 - fav) * intent[:, 2] * (1 - buy)
        return out

    def gaps(self, action: np.ndarray, state: State, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        # Looks: three in four within the visit, the rest a return days later (mean 1.5 days).
        later = np.clip((v - 0.75) / 0.25, 0.0, 1 - 1e-12)
        revisit = -np.log1p(-later) * 1.5 * SECONDS_PER_DAY
        look = np.where(v < 0.75, 20.0 + 380.0 * u, revisit)
        low = np.array([0.0, 5.0, 10.0, 30.0, 0.0])[action]
        width = np.array([0.0, 55.0, 190.0, 1170.0, 0.0])[action]
        other = low + width * u
        return np.floor(np.where(action == LOOK, look, other)) + 1.0
