"""Who may do what to an alert: pure decisions, including two-person closure."""

import pytest

from sealguard.alerts.lifecycle import AlertState, Verb, decide

OPEN = AlertState("open", "SEAL-003")
ID = {"alice": "person:1", "bob": "person:2", "a": "person:3"}


def test_acknowledge_stops_paging_and_tells_receivers() -> None:
    d = decide(OPEN, "acknowledge", "alice", two_person=False, identity=ID["alice"])
    assert (d.state.status, d.state.acknowledged_by, d.stop_paging, d.notify) == ("acknowledged", "alice", True,
                                                                                   "acknowledge")  # fmt: skip
    assert d.history == [("acknowledged", {})]
    again = decide(d.state, "acknowledge", "bob", two_person=False, identity=ID["bob"])
    assert (again.code, again.error) == (409, "already acknowledged by alice")


def test_resolve_without_the_two_person_rule() -> None:
    d = decide(OPEN, "resolve", "alice", two_person=False, identity=ID["alice"])
    assert d.state.status == "resolved" and d.released and d.notify == "resolve"
    assert [a for a, _ in d.history] == ["acknowledged", "resolved"]


def test_two_person_closure() -> None:
    first = decide(OPEN, "resolve", "alice", two_person=True, identity=ID["alice"])
    assert first.state.status == "acknowledged" and first.state.resolve_requested_by == "alice"
    assert not first.released
    assert [a for a, _ in first.history] == ["acknowledged", "resolve_requested"]
    same = decide(first.state, "resolve", "alice", two_person=True, identity=ID["alice"])
    assert same.code == 409 and "second person" in (same.error or "")
    second = decide(first.state, "resolve", "bob", two_person=True, identity=ID["bob"])
    assert second.state.status == "resolved" and second.released
    assert second.history == [("resolved", {"confirms": "alice", "confirms_identity": "person:1",
                                            "identity": "person:2"})]  # fmt: skip


def test_two_people_are_two_identities_not_two_names() -> None:
    """Alice asks, her name at the identity provider changes, she confirms: still one person, refused;
    and two people who share a name are still two."""
    asked = decide(OPEN, "resolve", "Carol (carol)", two_person=True, identity="person:7").state
    renamed = decide(asked, "resolve", "Carol B. (carol)", two_person=True, identity="person:7")
    assert renamed.code == 409 and renamed.state.status == "acknowledged"
    namesake = decide(asked, "resolve", "Carol (carol)", two_person=True, identity="person:8")
    assert namesake.state.status == "resolved"


@pytest.mark.parametrize("verb", ["acknowledge", "resolve", "assign"])
def test_nothing_changes_a_resolved_alert(verb: Verb) -> None:
    d = decide(AlertState("resolved", "SEAL-003"), verb, "alice", two_person=False, identity=ID["alice"],
               assignee="bob")  # fmt: skip
    assert d.code == 409


def test_comment_and_assign() -> None:
    assert decide(OPEN, "comment", "alice", two_person=False, identity=ID["alice"]).code == 422
    assert decide(
        OPEN, "comment", "alice", two_person=False, identity=ID["alice"], note="called the driver"
    ).history == [("commented", {})]
    assert (
        decide(AlertState("resolved", "X"), "comment", "a", two_person=False, identity=ID["a"], note="late note").error
        is None
    )
    d = decide(OPEN, "assign", "alice", two_person=False, identity=ID["alice"], assignee="bob")
    assert d.state.assignee == "bob" and d.state.status == "open" and not d.stop_paging


def test_the_two_person_rule_counts_people_not_tokens() -> None:
    machine = decide(OPEN, "resolve", "ticket-bot", two_person=True, identity=None)
    assert machine.code == 403 and "two people" in (machine.error or "")
    assert decide(OPEN, "resolve", "ticket-bot", two_person=False, identity=None).state.status == "resolved"
