"""What a person may do to an alert, and what it leads to: a pure decision, stored by the caller.

``open -> acknowledged -> resolved``. Acknowledging stops escalation. For the two-person rules, a first
``resolve`` only records the request (the alert stays ``acknowledged``); a different person confirms it.

A person is told apart by ``identity`` (``person:{id}``: a local account, or one issuer and subject at
the identity provider), never by the name shown: names change, and two people may share one.
"""

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Verb = Literal["acknowledge", "resolve", "comment", "assign"]


@dataclass(frozen=True, slots=True)
class AlertState:
    status: str
    rule_id: str
    acknowledged_by: str | None = None
    resolve_requested_by: str | None = None
    assignee: str | None = None
    resolve_requested_id: str | None = None  # the identity of who asked, which the confirmer must not be


@dataclass(frozen=True, slots=True)
class Decision:
    """``error`` set: refused (HTTP 409 or 422), nothing changes. Otherwise the new state and history."""

    state: AlertState
    history: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (action, detail)
    notify: str | None = None  # "acknowledge" or "resolve": tell the receivers already paged
    stop_paging: bool = False  # cancel pending pages and escalation tiers
    released: bool = False  # resolved by a person: the engine may open a new alert for the key
    error: str | None = None
    code: int = 200


def decide(state: AlertState, verb: Verb, actor: str, *, two_person: bool, identity: str | None,
           assignee: str | None = None, note: str | None = None) -> Decision:  # fmt: skip
    """What ``actor`` (shown by that name; ``identity`` None: an API token, not a person) doing ``verb``
    leads to."""
    if verb == "comment":
        if not (note and note.strip()):
            return Decision(state, error="a comment needs a note", code=422)
        return Decision(state, [("commented", {})])
    if state.status == "resolved":
        return Decision(state, error=f"the alert is already resolved; it cannot be {verb}d", code=409)
    if verb == "assign":
        if not assignee:
            return Decision(state, error="assign needs an assignee", code=422)
        return Decision(replace(state, assignee=assignee), [("assigned", {"assignee": assignee})])
    if verb == "acknowledge":
        if state.status == "acknowledged":
            return Decision(state, error=f"already acknowledged by {state.acknowledged_by}", code=409)
        return Decision(replace(state, status="acknowledged", acknowledged_by=actor), [("acknowledged", {})],
                        notify="acknowledge", stop_paging=True)  # fmt: skip
    # resolve
    history: list[tuple[str, dict[str, Any]]] = []
    notify: str | None = None
    if state.status == "open":
        state = replace(state, status="acknowledged", acknowledged_by=actor)
        history.append(("acknowledged", {"implied_by": "resolve"}))
        notify = "acknowledge"
    if two_person and identity is None:
        return Decision(state, error=f"{state.rule_id} is resolved by two people signed in as themselves; an API token"
                        " is not a person", code=403)  # fmt: skip
    if two_person:
        requested = state.resolve_requested_by
        if requested is None:
            history.append(("resolve_requested", {"two_person_rule": state.rule_id, "identity": identity}))
            return Decision(replace(state, resolve_requested_by=actor, resolve_requested_id=identity), history,
                            notify=notify, stop_paging=True)  # fmt: skip
        # a request from before identities were recorded can only be told apart by its name
        same = state.resolve_requested_id == identity if state.resolve_requested_id else requested == actor
        if same:
            return Decision(state, error=f"{state.rule_id} needs a second person to confirm the resolution;"
                            f" {actor} already asked for it (whatever the name shown now)", code=409)  # fmt: skip
        history.append(("resolved", {"confirms": requested, "confirms_identity": state.resolve_requested_id,
                                     "identity": identity}))  # fmt: skip
    else:
        history.append(("resolved", {}))
    return Decision(replace(state, status="resolved"), history, notify="resolve", stop_paging=True, released=True)
