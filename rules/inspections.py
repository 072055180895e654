"""Inspections and agricultural security (MSC 5, 8): INSP-002, INSP-003, AGRI-001, AGRI-002, and the
conveyance's inspection record that INSP-001 and INSP-004 read at sealing (see :mod:`rules.seals`)."""

from sealguard.rules.context import Ctx
from sealguard.rules.state import Conveyance, Trip
from sealguard.schemas.events import InspectionCompleted

_LABEL = {
    "container_7pt": "seven-point",
    "reefer_8pt": "eight-point",
    "tractor_trailer_17pt": "seventeen-point",
}


def on_inspection(ctx: Ctx, conv: Conveyance, trip: Trip | None, ev: InspectionCompleted, t: float) -> None:
    cid, tid, eid = conv.conveyance_id, trip.trip_id if trip else None, (ev.event_id,)
    label = _LABEL[ev.inspection_type]
    missing = ev.missing_points()
    if missing:
        ctx.out.raise_(
            "INSP-002", cid, tid, t,
            f"The {label} inspection of {cid} left {len(missing)} point(s) uninspected: {', '.join(missing)}.", eid,
        )  # fmt: skip
    failed = ev.failed_points()
    if failed:
        ctx.out.raise_(
            "INSP-003", cid, tid, t,
            f"The {label} inspection of {cid} failed at {', '.join(failed)}: possible false wall, hidden "
            "compartment or tampered locking gear.", eid,
        )  # fmt: skip
    agri = ev.agricultural
    if agri is not None and agri.pest_contamination:
        ctx.out.raise_("AGRI-001", cid, tid, t, f"The inspection of {cid} found visible pest contamination.", eid)
    if agri is not None and agri.wood_packaging_unmarked:
        ctx.out.raise_(
            "AGRI-002",
            cid,
            tid,
            t,
            f"The inspection of {cid} found wood packaging without the ISPM 15 mark.",
            eid,
        )
    passed = ev.passed()
    # The record is the most recent by event time: a late report of an older inspection does not replace it.
    if conv.insp is None or t >= conv.insp[0]:
        conv.insp = (t, passed, ev.event_id)
    if passed and (conv.passed_insp is None or t >= conv.passed_insp[0]):
        # The same tuple as the latest inspection when that is this one (the usual case): one, not two.
        conv.passed_insp = conv.insp if conv.insp[2] == ev.event_id and conv.insp[0] == t else (t, True, ev.event_id)
