"""All of whyrec's configuration, in one object. The environment is read and written here only.

:meth:`Settings.from_env` reads whyrec's variables; :func:`quiet_libraries` sets the switches the
libraries whyrec uses read at import (no telemetry, no model-hub look-ups): nothing may download
at run time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_WORKSPACE = "whyrec-workspace"
DEFAULT_PORT = 7860


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Build with :meth:`from_env`; override with :meth:`with_overrides`.

    Environment variables (all optional):

    ``WHYREC_WORKSPACE``   workspace directory (default ./whyrec-workspace)
    ``WHYREC_CHROMA_URL``  use a Chroma server (``http://127.0.0.1:8000``) instead of the embedded store
    ``WHYREC_LLM``         ``offline`` (default without an endpoint), ``openai``, ``smollm2`` or ``hf:<dir>``
    ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` / ``WHYREC_OPENAI_MODEL``  any OpenAI-compatible endpoint
    ``WHYREC_LLM_TIMEOUT`` seconds before an LLM call falls back to the offline composer (default 30)
    ``WHYREC_API_KEYS``    ``key`` or ``key:user_id`` entries, comma-separated (a bound key sees one user)
    ``WHYREC_HOST`` / ``WHYREC_PORT``  where ``whyrec serve`` listens (default 127.0.0.1:7860)
    ``WHYREC_TRUSTED_PROXIES``  addresses or networks (``172.30.50.10``, ``10.0.0.0/8``) of reverse
                           proxies whose ``X-Forwarded-For`` / ``-Proto`` are believed (default: none)
    ``WHYREC_LOG_LEVEL``   logging level (default INFO); ``WHYREC_DEBUG=1`` logs message text too
    ``WHYREC_PSEUDONYM_KEY``  key for ``whyrec ingest --pseudonymise`` (keyed hash of user ids)
    ``WHYREC_TUNE_BUDGET`` CPU seconds the first fit (and ``whyrec tune``) may spend tuning the
                           ranker on the workspace's validation split (default 600)
    ``WHYREC_SESSIONS``    where chat sessions live: ``memory`` (default, one process), ``sqlite[:PATH]``
                           (a file every replica on this host reaches; default ``<workspace>/sessions.sqlite3``)
                           or ``postgresql://USER:PASSWORD@HOST:PORT/DB`` (replicas on several hosts)
    """

    workspace: Path = Path(DEFAULT_WORKSPACE)
    chroma_url: str | None = None
    llm: str = "offline"
    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    llm_timeout: float = 30.0
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    trusted_proxies: tuple[str, ...] = ()
    log_level: str = "INFO"
    debug: bool = False
    max_request_bytes: int = 1_000_000
    max_events_per_request: int = 10_000
    max_message_chars: int = 4000
    refit_wait_seconds: float = 60.0
    pseudonym_key: str | None = field(default=None, repr=False)
    tune_budget_seconds: float = 600.0   # auto-tuning budget (CPU seconds); the search stops earlier once converged
    retune_fraction: float = 0.2         # retune when the events grew by this share since the last tuning
    sessions: str = "memory"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        llm = env.get("WHYREC_LLM") or ("openai" if env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_KEY")
                                        else "offline")
        keys = tuple(k.strip() for k in env.get("WHYREC_API_KEYS", "").split(",") if k.strip())
        return cls(
            workspace=Path(env.get("WHYREC_WORKSPACE", DEFAULT_WORKSPACE)),
            chroma_url=env.get("WHYREC_CHROMA_URL") or None,
            llm=llm,
            openai_api_key=env.get("OPENAI_API_KEY") or None,
            openai_base_url=env.get("OPENAI_BASE_URL") or None,
            openai_model=env.get("WHYREC_OPENAI_MODEL", "gpt-4o-mini"),
            llm_timeout=float(env.get("WHYREC_LLM_TIMEOUT", "30")),
            api_keys=keys,
            host=env.get("WHYREC_HOST", "127.0.0.1"),
            port=int(env.get("WHYREC_PORT", str(DEFAULT_PORT))),
            trusted_proxies=tuple(p.strip() for p in env.get("WHYREC_TRUSTED_PROXIES", "").split(",") if p.strip()),
            log_level=env.get("WHYREC_LOG_LEVEL", "INFO").upper(),
            debug=env.get("WHYREC_DEBUG", "") in ("1", "true", "yes"),
            pseudonym_key=env.get("WHYREC_PSEUDONYM_KEY") or None,
            tune_budget_seconds=float(env.get("WHYREC_TUNE_BUDGET", "600")),
            sessions=env.get("WHYREC_SESSIONS") or "memory",
        )

    @property
    def keys_configured(self) -> bool:
        return bool(self.api_keys)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced; ``None`` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


#: Library switches, set before those libraries are imported (their defaults reach the network).
LIBRARY_ENVIRONMENT: dict[str, str] = {
    "GRADIO_ANALYTICS_ENABLED": "False",   # Gradio's usage analytics and version check
    "ANONYMIZED_TELEMETRY": "False",       # Chroma's telemetry
    "HF_HUB_OFFLINE": "1",                 # models load from site-packages, never from the hub
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",   # no "Loading weights" bar on a chat terminal or a server log
}


def quiet_libraries(environ: MutableMapping[str, str] | None = None) -> None:
    """Set :data:`LIBRARY_ENVIRONMENT` (values a user set themselves are kept)."""
    env = os.environ if environ is None else environ
    for name, value in LIBRARY_ENVIRONMENT.items():
        env.setdefault(name, value)
