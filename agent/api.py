"""The HTTP API (FastAPI): health, workspace stats, and the /v1 routes of the product."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from whyrec.tools.workspace import WorkspaceError

from .runtime import Runtime

log = logging.getLogger(__name__)


def build_api(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="whyrec", version="0.1.0",
                  description="Recommendations that explain themselves by your own behaviours.")

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, Any]:
        """Liveness, and whether the workspace opens."""
        try:
            version = runtime.workspace.data_version
            return {"status": "ok", "workspace": str(runtime.settings.workspace), "data_version": version}
        except WorkspaceError as exc:
            return {"status": "degraded", "error": str(exc)}

    @app.get("/v1/stats", tags=["meta"])
    def stats() -> dict[str, Any]:
        """What the workspace holds: events, users, items, behaviours, time span."""
        runtime.refresh()
        return runtime.workspace.stats().to_json()

    return app
