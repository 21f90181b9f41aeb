"""The browser-kept state: per-user conversations, and nothing trusted from the browser."""

from __future__ import annotations

from whyrec.ui.state import MAX_MESSAGES, SAVED_USERS, UIState


def _chat(user: str, n: int = 2) -> UIState:
    return UIState(user_id=user, session_id=f"s-{user}", language="zh",
                   messages=[{"role": "user", "content": f"hi {i}"} for i in range(n)],
                   recommendations=[{"item_id": "i1", "title": "Red mug", "rank": 1}], focus="explain")


def test_round_trip_through_json() -> None:
    state = _chat("u1")
    assert UIState.from_json(state.to_json()) == state


def test_anything_malformed_from_the_browser_gives_a_fresh_state() -> None:
    good = _chat("u1").to_json()
    for bad in (None, "x", [], {"v": 99}, good | {"language": "fr"}, good | {"user_id": 5},
                good | {"messages": [{"role": "system", "content": "x"}]}, good | {"messages": "x"},
                good | {"saved": {"u2": "not a conversation"}}, good | {"unknown": 1} | {"v": 1, "explanation": 3}):
        assert UIState.from_json(bad) == UIState()


def test_switching_keeps_each_users_conversation_and_drops_a_reply_in_flight() -> None:
    first = _chat("u1")
    first.messages.append({"role": "assistant", "content": "", "metadata": {"title": "…", "status": "pending"}})
    second = first.switch_to("u2")
    assert second.user_id == "u2" and second.messages == [] and second.recommendations == []
    assert second.language == "zh" and "u1" in second.saved
    back = second.switch_to("u1")
    assert back.messages == first.messages[:-1] and back.session_id == "s-u1" and "u1" not in back.saved
    assert first.user_id == "u1" and len(first.messages) == 3  # switching returns a copy


def test_a_malformed_saved_conversation_is_not_restored() -> None:
    state = UIState(user_id="u1", saved={"u2": {"messages": [{"role": "robot", "content": 1}]}})
    assert state.switch_to("u2").messages == []


def test_the_browser_copy_stays_small() -> None:
    state = _chat("u0", n=MAX_MESSAGES + 20)
    for n in range(1, SAVED_USERS + 5):
        state = state.switch_to(f"u{n}")
        state.messages = [{"role": "user", "content": "x"}] * (MAX_MESSAGES + 20)
    kept = UIState.from_json(state.to_json())
    assert len(kept.saved) == SAVED_USERS and len(kept.messages) == MAX_MESSAGES
    assert all(len(c["messages"]) <= MAX_MESSAGES for c in kept.saved.values())
    assert "u0" not in kept.saved and "u1" not in kept.saved  # the oldest went first


def test_only_keeps_one_users_conversation() -> None:
    state = _chat("u1").switch_to("u2")
    state.messages = [{"role": "user", "content": "hello"}]
    state = state.switch_to("u3")
    assert set(state.saved) == {"u1", "u2"}
    assert set(state.only("u1").saved) == {"u1"}
    assert set(state.switch_to("u4").saved) == {"u1", "u2"}  # an empty conversation is not kept
