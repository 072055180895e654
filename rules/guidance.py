"""What each rule means and what the people on duty should do about it: the condition in the words of
criteria.md, and a short response drawn from the CTPAT Minimum Security Criteria the rule cites (seal
anomalies are held, documented and reported; the seal is not broken or replaced without authority; a
conveyance off its plan is contacted and, when contact fails, treated as compromised).

This is guidance for the alert page, not policy: a site with its own response procedures keeps them
here in its fork or says so in its runbook. Pure data; ``tests/rules/test_guidance.py`` keeps it
complete and in step with the catalogue."""

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from sealguard.rules.catalog import RULES


@dataclass(frozen=True, slots=True)
class Guidance:
    when: str  # the rule's condition, as criteria.md states it (shortened where it lists fields)
    steps: tuple[str, ...]  # what to do, in order


_SEAL_HOLD = "Hold the conveyance: the driver stays with it, at a secure place; no seal is cut or replaced."
_REPORT = ("If the anomaly is not explained and documented, report it as CTPAT requires (MSC 6.1: to CBP and, "
           "where appropriate, law enforcement) and keep the records with this alert.")  # fmt: skip
_VVTT = "Have the seal checked by View, Verify, Tug, Twist-and-turn and record the result (dock page)."

_G: dict[str, Guidance] = {
    "SEAL-001": Guidance(
        "A seal event on a conveyance with an open trip names a seal that is not one of the trip's expected seals.",
        (
            "Compare the seal number on the conveyance with the shipping documents; a typing error is corrected"
            " in the documents, not by resealing.",
            _SEAL_HOLD,
            _VVTT,
            _REPORT,
        ),
    ),
    "SEAL-002": Guidance(
        "A mechanical seal was affixed whose ISO 17712 class is not H (high security).",
        (
            "Replace it before departure with an ISO 17712 H seal from controlled stock, recording both numbers.",
            "Find out why a lower-class seal was in use at this facility and remove such seals from its stock.",
        ),
    ),
    "SEAL-003": Guidance(
        "A seal reported tamper, opened or cut anywhere but inside the destination, or was removed outside the"
        " destination without a government inspection.",
        (
            "Call the driver now and confirm where the conveyance is and what happened.",
            _SEAL_HOLD,
            "Inspect the doors and locking gear; photograph the seal and the doors.",
            _REPORT,
        ),
    ),
    "SEAL-004": Guidance(
        "A VVTT verification failed a step (high), or found the seal not intact (critical).",
        (
            "Repeat the check with a second person; if it fails again, do not accept the conveyance.",
            _SEAL_HOLD,
            _REPORT,
        ),
    ),
    "SEAL-005": Guidance(
        "A seal was affixed that was never issued from the tenant's controlled inventory, or was issued to"
        " another facility.",
        (
            "Establish where the seal came from; only seals issued from controlled stock may be used (MSC 6.6).",
            "Replace it with an issued seal under a supervisor's eye, recording both numbers.",
            "Audit the seal inventory of the facility.",
        ),
    ),
    "SEAL-006": Guidance(
        "A seal number was affixed that was already used on another conveyance, an earlier trip, or removed.",
        ("Treat the seal as counterfeit or replayed until shown otherwise.", _SEAL_HOLD, _VVTT, _REPORT),
    ),
    "SEAL-008": Guidance(
        "A seal was affixed in transit without a government-inspection removal (with its authority reference)"
        " in the two hours before.",
        (
            "Ask the driver who opened the conveyance and on whose authority; get the inspecting agency's reference.",
            _SEAL_HOLD,
            _REPORT,
        ),
    ),
    "SEAL-010": Guidance(
        "No passing VVTT verification within the window after arrival (or the seal was removed or the trip"
        " closed before one).",
        (
            "Verify the seal at the receiving dock before it is removed, and record it (dock page).",
            "If the seal is already gone, record who removed it and whether its number matched the documents.",
        ),
    ),
    "SEAL-011": Guidance(
        "The trip went in transit with no expected seal on the conveyance.",
        (
            "Stop the conveyance at the nearest secure place and have it sealed with an issued H seal.",
            "Find out why it left unsealed; check the loading dock's procedure.",
            _REPORT,
        ),
    ),
    "ESEAL-001": Guidance(
        "An electronic seal that sends heartbeats has been silent for the window while the trip is in transit.",
        (
            "Call the driver and confirm the seal is on and intact (a low battery or a dead zone is common).",
            "If the silence goes on, treat the trip as unmonitored: ask for a VVTT check at the next secure stop.",
        ),
    ),
    "ESEAL-002": Guidance(
        "An electronic seal reports its battery below the limit.",
        ("Plan the seal's replacement or charging at the destination; a flat seal stops reporting tamper.",),
    ),
    "INSP-001": Guidance(
        "A seal was affixed while the conveyance's latest inspection is missing or not passed.",
        (
            "Do not release the conveyance: inspect it (7- or 17-point) and, if it passes, reseal it with a new seal.",
            "Record why loading went ahead without a passed inspection.",
        ),
    ),
    "INSP-002": Guidance(
        "An inspection was submitted without every required point of its type.",
        ("Complete the inspection: check the missing points and submit it again (dock page).",),
    ),
    "INSP-003": Guidance(
        "An inspection found a defect (a possible false wall, hidden compartment or tampered locking gear).",
        (
            "Do not load or seal the conveyance; have a supervisor inspect the failed points.",
            "If concealment is suspected, keep the conveyance aside and report it as CTPAT requires.",
        ),
    ),
    "INSP-004": Guidance(
        "A seal was affixed more than the limit after the latest passed inspection.",
        ("Inspect the conveyance again before release; an old inspection says nothing about today.",),
    ),
    "AGRI-001": Guidance(
        "An inspection found visible pests, plants, soil or other contamination.",
        (
            "Do not load: clean the conveyance and inspect it again (MSC 5.7, 8.1).",
            "Record what was found and where; tell the shipper if cargo was exposed.",
        ),
    ),
    "AGRI-002": Guidance(
        "An inspection found wood packaging without the ISPM 15 mark.",
        ("Replace or treat the unmarked wood packaging before export; it will be refused at the border.",),
    ),
    "TRK-001": Guidance(
        "Fixes stayed farther than the corridor from the planned route, outside approved places, for the duration.",
        (
            "Call the driver and ask why the truck left the route (road works, detour, fuel).",
            "If there is no answer or no good reason, treat the conveyance as compromised: ask for a VVTT check"
            " at the next secure stop and escalate.",
        ),
    ),
    "TRK-002": Guidance(
        "The conveyance stopped outside every approved place for the duration.",
        (
            "Call the driver and ask why it stopped; a stop in an unsafe place should move to a secure one.",
            "Before it moves on, the seal should be checked by VVTT (COMP-002 fires if it is not).",
        ),
    ),
    "TRK-003": Guidance(
        "No GPS fix arrived for longer than the window.",
        (
            "Call the driver; check the tracker's power and coverage on this road.",
            "If contact fails, treat the conveyance as unmonitored and escalate.",
        ),
    ),
    "TRK-004": Guidance(
        "The conveyance has not arrived by the planned arrival plus the grace.",
        ("Call the driver and the receiving facility; update the planned arrival if the delay is explained.",),
    ),
    "TRK-005": Guidance(
        "Two consecutive fixes imply a speed above the limit: a GPS fault, or a spoofed position.",
        (
            "Check the tracker; compare with the driver's account and another source (phone, e-seal position).",
            "Repeated jumps suggest spoofing: escalate and ask for a VVTT check.",
        ),
    ),
    "TRK-006": Guidance(
        "The conveyance stopped inside a registered facility that is not one of the trip's approved places.",
        ("Ask the driver and the facility why the conveyance is there; it may be an unauthorised transfer.", _VVTT),
    ),
    "TRK-007": Guidance(
        "A conveyance with no open trip moved farther than the distance.",
        (
            "Find out who is moving it and why; plan a trip for authorised movements.",
            "If nobody authorised it, treat it as theft and call the police.",
        ),
    ),
    "COMP-001": Guidance(
        "A seal alarm or removal happened during an unscheduled stop, or within the window after it.",
        ("Call the driver now.", _SEAL_HOLD, "Inspect the doors and locking gear; photograph them.", _REPORT),
    ),
    "COMP-002": Guidance(
        "After an unscheduled stop the conveyance moved on more than the distance with no passing VVTT since.",
        (
            "Ask the driver to stop at the next secure place and verify the seal by VVTT.",
            "Until it passes, treat the cargo as possibly tampered with.",
        ),
    ),
    "COMP-003": Guidance(
        "A seal alarm, a seal mismatch or a seal removal happened while the conveyance was off route, not"
        " tracked, or its e-seal silent (or within the window after).",
        ("Treat this as the most serious combination: call the driver and the security lead now.", _SEAL_HOLD, _REPORT),
    ),
}

GUIDANCE: MappingProxyType[str, Guidance] = MappingProxyType(_G)


def rule_guide(rule_id: str) -> dict[str, Any] | None:
    """The rule's title, criterion, default severity, whether it resolves itself, its condition and what to do."""
    spec, guide = RULES.get(rule_id), GUIDANCE.get(rule_id)
    if spec is None or guide is None:
        return None
    return {"rule_id": rule_id, "title": spec.title, "criterion": spec.criterion, "severity": spec.severity,
            "resolves": "itself when its condition clears" if spec.auto else "when people resolve it",
            "when": guide.when, "what_to_do": list(guide.steps)}  # fmt: skip
