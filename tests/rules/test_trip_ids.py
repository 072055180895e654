"""Trip ids decided in rounds (rules.trip_ids.judge_round) answer and write what deciding each event alone,
one after another, did: the gateway's former one-transaction-per-event path, written out here as the
reference (look the trip id up, judge the plan, take an unknown trip id; a close closes only its owner's)."""

from hypothesis import given
from hypothesis import strategies as st

from sealguard.rules.trip_ids import RoundOutcome, TripDecision, TripOwner, judge_round, plan_problem

Key = tuple[str, str]


def _one_at_a_time(decisions: list[TripDecision], table: dict[Key, TripOwner]) -> list[str | None]:
    reasons: list[str | None] = []
    for d in decisions:
        key = (d.tenant, d.trip_id)
        owner = table.get(key)
        if d.closing:
            if owner is not None and owner.conveyance_id == d.conveyance_id:
                table[key] = TripOwner(owner.conveyance_id, True)
            reasons.append(None)
            continue
        reason = plan_problem(d.trip_id, d.conveyance_id, owner)
        if reason is None and owner is None:
            table[key] = TripOwner(d.conveyance_id, False)
        reasons.append(reason)
    return reasons


def _apply(outcome: RoundOutcome, table: dict[Key, TripOwner]) -> None:
    """What the gateway writes: inserts for ``taken``, then an update per ``closed`` where the owner matches."""
    for tenant, trip, conveyance in outcome.taken:
        assert (tenant, trip) not in table  # only unknown trip ids are taken
        table[(tenant, trip)] = TripOwner(conveyance, False)
    for tenant, trip, conveyance in outcome.closed:
        if table[(tenant, trip)].conveyance_id == conveyance:
            table[(tenant, trip)] = TripOwner(conveyance, True)


decision = st.builds(
    TripDecision,
    st.sampled_from(["acme", "other"]),
    st.sampled_from(["T-1", "T-2", "T-3"]),
    st.sampled_from(["TRL-A", "TRL-B"]),
    st.booleans(),
)
stored = st.dictionaries(
    st.tuples(st.sampled_from(["acme", "other"]), st.sampled_from(["T-1", "T-2", "T-3"])),
    st.builds(TripOwner, st.sampled_from(["TRL-A", "TRL-B"]), st.booleans()),
)


@given(st.lists(decision, max_size=12), stored)
def test_a_round_answers_and_writes_what_one_at_a_time_did(
    decisions: list[TripDecision], table: dict[Key, TripOwner]
) -> None:
    reference = dict(table)
    expected = _one_at_a_time(decisions, reference)
    outcome = judge_round(decisions, table)
    assert outcome.reasons == expected
    written = dict(table)
    _apply(outcome, written)
    assert written == reference
    assert outcome.taken == sorted(outcome.taken) and outcome.closed == sorted(outcome.closed)  # key order


def test_a_plan_then_its_close_then_a_plan_again_in_one_round() -> None:
    plan, close = TripDecision("acme", "T-1", "TRL-A", False), TripDecision("acme", "T-1", "TRL-A", True)
    other = TripDecision("acme", "T-1", "TRL-B", False)
    outcome = judge_round([plan, other, close, plan], {})
    assert outcome.reasons == [
        None,
        "trip_id: trip T-1 belongs to conveyance TRL-A",
        None,
        "trip_id: trip T-1 is closed and cannot be planned again",
    ]
    assert outcome.taken == [("acme", "T-1", "TRL-A")] and outcome.closed == [("acme", "T-1", "TRL-A")]


def test_another_conveyances_close_changes_nothing() -> None:
    outcome = judge_round([TripDecision("acme", "T-1", "TRL-B", True)], {("acme", "T-1"): TripOwner("TRL-A", False)})
    assert outcome == RoundOutcome([None], [], [])
