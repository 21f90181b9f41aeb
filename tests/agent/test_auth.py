"""API keys: malformed entries refuse to start; only digests are kept; guessing is braked."""

from __future__ import annotations

import pytest

from whyrec.agent.auth import FailureBrake, KeyConfigError, KeyRing, Principal


@pytest.mark.parametrize(("entry", "problem"), [
    ("bobkey-long:", "nothing after ':'"),     # once an admin key by accident
    (":u089", "no key before ':'"),            # once an empty key accepted as u089
    ("short:u1", "at least 8 characters"),
    ("has space-key:u1", "whitespace"),
])
def test_malformed_entries_are_refused_by_name(entry: str, problem: str) -> None:
    with pytest.raises(KeyConfigError, match=problem) as refused:
        KeyRing.parse(("good-admin-key", entry))
    assert "entry 2" in str(refused.value)
    assert entry.split(":")[0] not in str(refused.value) or not entry.split(":")[0]  # the key is not printed


def test_a_repeated_key_is_refused() -> None:
    with pytest.raises(KeyConfigError, match="repeats"):
        KeyRing.parse(("same-key-123", "same-key-123:u1"))


def test_empty_and_unknown_keys_never_match() -> None:
    ring = KeyRing.parse(("admin-key-1", "alice-key-1:alice"))
    assert ring.principal("") is None and ring.principal(None) is None and ring.principal("nope") is None
    assert ring.principal("admin-key-1") == Principal(None, admin=True)
    assert ring.principal("alice-key-1") == Principal("alice", admin=False)


def test_only_digests_are_kept() -> None:
    ring = KeyRing.parse(("admin-key-1", "alice-key-1:alice"))
    held = repr(vars(ring))
    assert "admin-key-1" not in held and "alice-key-1" not in held


def test_the_brake_stops_guessing_per_client() -> None:
    brake = FailureBrake(limit=3, window=60.0)
    for _ in range(3):
        assert brake.retry_after("10.0.0.1") == 0.0
        brake.failed("10.0.0.1")
    assert brake.retry_after("10.0.0.1") > 50.0
    assert brake.retry_after("10.0.0.2") == 0.0
