"""The edge's first step: each input admitted (decoded, validated, allowed for its sender, dated
plausibly) or refused with its reason. Pure; one input's failure never touches another's."""

from collections.abc import Sequence

from sealguard.ingest.admit import MAX_EVENT_BYTES, Admitted, admit, check_skew
from sealguard.schemas.decode import InvalidEvent
from sealguard.stream.items import Inbound

Admission = Admitted | InvalidEvent


def admit_all(items: Sequence[Inbound], max_future_skew: float | None,
              max_event_bytes: int = MAX_EVENT_BYTES) -> list[Admission]:  # fmt: skip
    out: list[Admission] = []
    for it in items:
        if it.refused is not None:
            out.append(InvalidEvent(it.refused, event_id=it.refused_id))
        else:
            out.append(_admit_one(it, max_future_skew, max_event_bytes))
    return out


def _admit_one(it: Inbound, max_future_skew: float | None, max_event_bytes: int) -> Admitted | InvalidEvent:
    try:
        ok = admit(it.raw, it.tenant, role=it.role, facility=it.facility, max_bytes=max_event_bytes)
        if max_future_skew is not None:
            check_skew(ok.event, it.received_at, max_future_skew)
        return ok
    except InvalidEvent as exc:
        return exc
    except Exception as exc:  # a validator bug must not fail the batch: this input only
        return InvalidEvent(f"could not be read: {type(exc).__name__}: {exc}"[:1000])
