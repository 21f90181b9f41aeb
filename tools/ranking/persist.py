"""Load a fitted ranker from the workspace, or fit and store it (keyed by the data version)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..workspace import Workspace
from .base import Ranker
from .whyrec import WhyrecRanker

log = logging.getLogger(__name__)


def load_or_fit(workspace: Workspace, factory: Callable[[], Ranker] = WhyrecRanker,
                name: str = "ranker", refit: bool = False) -> Ranker:
    """The workspace's fitted ranker: loaded from ``derived/<name>-v<data version>.pkl`` if it
    is there, else fitted on the workspace's events and catalog and saved there.
    """
    path = workspace.derived_file(name).with_suffix(".pkl")
    if path.exists() and not refit:
        try:
            ranker = Ranker.load(path)
            log.info("loaded %s from %s", ranker.name, path)
            return ranker
        except (OSError, ValueError, TypeError, EOFError) as exc:
            log.warning("cannot load %s (%s); refitting", path, exc)
    ranker = factory().fit(workspace.events(), workspace.items())
    ranker.save(path)
    log.info("fitted %s and saved it to %s", ranker.name, path)
    return ranker
