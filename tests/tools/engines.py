"""An engine for the job tests (ranking, causal) that is not the local one but runs its calls here: what a
cluster does to a job (its arguments and results pickled), without a cluster."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any

from whyrec.tools.engine import LocalEngine


class Pickling:
    """Runs each call in this process through pickling, with ``workers`` "workers" (what the
    job sizes its rounds by); ``sent`` records how many calls each ``map`` sent."""

    name = "pickling"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.sent: list[int] = []

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any],
            on_done: Callable[[int, Any], object] | None = None) -> list[Any]:
        self.sent.append(len(items))
        return LocalEngine().map(lambda item: pickle.loads(pickle.dumps(fn(pickle.loads(pickle.dumps(item))))),
                                 items, on_done)
