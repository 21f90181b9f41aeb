"""Backends: library switches are set in one place (whyrec.tools.settings.quiet_libraries)."""

from __future__ import annotations

import os

import pytest

from whyrec.agent import backends
from whyrec.agent.backends import BackendError, BackendSpec, LocalPhraser


def test_loading_a_local_model_leaves_the_environment_to_quiet_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    calls: list[None] = []
    monkeypatch.setattr(backends, "quiet_libraries", lambda: calls.append(None), raising=False)
    before = dict(os.environ)
    with pytest.raises(BackendError, match="directory"):  # no folder: fails after the switches
        LocalPhraser(BackendSpec("phrasing", "no model", plans_tools=False)).load()
    assert dict(os.environ) == before and calls == [None]
