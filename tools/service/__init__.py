"""The service layer: one typed facade over the domain, used by the agent, API, UI and CLI.
See :class:`~whyrec.tools.service.service.WhyrecService`.
"""

from ..explain.results import Explanation, WhatIfResult, WhyNot
from ..ranking.catalog import ItemFilter
from ..schema import BEHAVIOURS, FUNNEL
from ..settings import Settings
from .errors import (
    EventProblem,
    Forbidden,
    InvalidEvents,
    InvalidRequest,
    NotFound,
    ServiceError,
    Unavailable,
    UnknownItem,
    UnknownUser,
    UserPending,
    WorkspaceError,
)
from .results import (
    CausalGraph,
    Effects,
    EventsAdded,
    HistoryEvent,
    HistorySearch,
    ItemInfo,
    ItemSearch,
    Reason,
    Recommendations,
    RecommendedItem,
    ServiceStatus,
    UserHistory,
    UserStats,
)
from .service import WhyrecService

__all__ = [
    "BEHAVIOURS", "FUNNEL", "CausalGraph", "Effects", "EventProblem", "EventsAdded", "Explanation", "Forbidden",
    "HistoryEvent", "HistorySearch", "InvalidEvents", "InvalidRequest", "ItemFilter", "ItemInfo",
    "ItemSearch", "NotFound", "Reason", "RecommendedItem", "Recommendations", "ServiceError",
    "ServiceStatus", "Settings", "Unavailable", "UnknownItem", "UnknownUser", "UserPending", "UserHistory", "UserStats",
    "WhatIfResult", "WhyNot", "WhyrecService", "WorkspaceError",
]
