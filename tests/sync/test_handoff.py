"""The forward pass's read, handed to the first pass of the way back of a record it created."""

from __future__ import annotations

import time

from bridgeline.model import TargetRef
from bridgeline.sync.engine import HandedOff, Handoff


def _ref(n: int) -> TargetRef:
    return TargetRef(system="servicenow", kind="change_request", id=f"sys{n}", number=f"CHG{n}")


def test_a_context_is_taken_once() -> None:
    handoff = Handoff()
    handoff.put(_ref(1), {"version": {"id": "1"}}, {"state": "new"})
    assert handoff.take("servicenow", "sys1") == HandedOff({"version": {"id": "1"}}, {"state": "new"})
    assert handoff.take("servicenow", "sys1") is None
    assert handoff.take("remedy", "sys1") is None
    assert handoff.used == 1


def test_an_old_context_is_never_used(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    handoff = Handoff(ttl=30.0)
    handoff.put(_ref(1), {"version": {"id": "1"}})
    later = time.monotonic() + 31
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert handoff.take("servicenow", "sys1") is None


def test_it_keeps_a_bounded_number() -> None:
    handoff = Handoff(size=3)
    for n in range(10):
        handoff.put(_ref(n), {"n": n})
    assert len(handoff._kept) <= 3
    assert handoff.take("servicenow", "sys9") == HandedOff({"n": 9}, None)
    assert handoff.take("servicenow", "sys0") is None
