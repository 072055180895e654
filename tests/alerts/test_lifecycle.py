"""Who may do what to an alert: pure decisions, including two-person closure."""

import pytest

from sealguard.alerts.lifecycle import AlertState, decide

OPEN = AlertState("open", "SEAL-003")


def test_acknowledge_stops_paging_and_tells_receivers() -> None:
    d = decide(OPEN, "acknowledge", "alice", two_person=False)
    assert (d.state.status, d.state.acknowledged_by, d.stop_paging, d.notify) == ("acknowledged", "alice", True,
                                                                                   "acknowledge")  # fmt: skip
    assert d.history == [("acknowledged", {})]
    again = decide(d.state, "acknowledge", "bob", two_person=False)
    assert (again.code, again.error) == (409, "already acknowledged by alice")


def test_resolve_without_the_two_person_rule() -> None:
    d = decide(OPEN, "resolve", "alice", two_person=False)
    assert d.state.status == "resolved" and d.released and d.notify == "resolve"
    assert [a for a, _ in d.history] == ["acknowledged", "resolved"]


def test_two_person_closure() -> None:
    first = decide(OPEN, "resolve", "alice", two_person=True)
    assert first.state.status == "acknowledged" and first.state.resolve_requested_by == "alice"
    assert not first.released
    assert [a for a, _ in first.history] == ["acknowledged", "resolve_requested"]
    same = decide(first.state, "resolve", "alice", two_person=True)
    assert same.code == 409 and "second person" in (same.error or "")
    second = decide(first.state, "resolve", "bob", two_person=True)
    assert second.state.status == "resolved" and second.released
    assert second.history == [("resolved", {"confirms": "alice"})]


@pytest.mark.parametrize("verb", ["acknowledge", "resolve", "assign"])
def test_nothing_changes_a_resolved_alert(verb: str) -> None:
    d = decide(AlertState("resolved", "SEAL-003"), verb, "alice", two_person=False, assignee="bob")  # type: ignore[arg-type]
    assert d.code == 409


def test_comment_and_assign() -> None:
    assert decide(OPEN, "comment", "alice", two_person=False).code == 422
    assert decide(OPEN, "comment", "alice", two_person=False, note="called the driver").history == [("commented", {})]
    assert decide(AlertState("resolved", "X"), "comment", "a", two_person=False, note="late note").error is None
    d = decide(OPEN, "assign", "alice", two_person=False, assignee="bob")
    assert d.state.assignee == "bob" and d.state.status == "open" and not d.stop_paging


def test_the_two_person_rule_counts_people_not_tokens() -> None:
    machine = decide(OPEN, "resolve", "ticket-bot", two_person=True, by_person=False)
    assert machine.code == 403 and "two people" in (machine.error or "")
    assert decide(OPEN, "resolve", "ticket-bot", two_person=False, by_person=False).state.status == "resolved"
