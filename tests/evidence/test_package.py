"""The incident package without a database: built from known facts, checked offline, and every kind of
change a forger could make (a history row, a photo, an event, the manifest, the signature, a file added)
found and named. The same checks by hand with ``sha256sum`` and ``openssl``, where they are installed."""

import io
import shutil
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pypdf import PdfReader

from sealguard.alerts.audit import chain
from sealguard.evidence import keys, package, report, verify
from sealguard.schemas.alerts import StoredAlert
from sealguard.store.incident import EvidenceEvent, Link, PartnerMessage
from sealguard.store.photos import PackedPhoto

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ALERT = "3f1e1c4e-7a53-4c4f-9b0e-2c0b2f6a9d11"
OTHER = "9d0c3b2a-1111-4c4f-9b0e-2c0b2f6a9d11"
# A real JPEG (1x1, from Pillow) so the PDF embeds it.
PHOTO = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a"
    "1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f00"
    "00010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d0102030004"
    "1105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a4344"
    "45464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8"
    "a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda000801"
    "01000003f00fbfd28a28a0028a28a00fffd9"
)


def _incident() -> package.Incident:
    alert = StoredAlert(
        alert_id=ALERT, rule_id="SEAL-003", severity="critical", tenant="acme", conveyance_id="TRK-1",
        trip_id="T-1", occurred_at=T0, message="seal 'SG1' reported broken", criterion="MSC 6.1",
        evidence=["e-alarm", "e-gps"], dedup_key="SEAL-003|TRK-1", status="resolved", resolved_at=T0,
        acknowledged_at=T0, acknowledged_by="Ana Ops", resolved_by="Ben Lead",
    )  # fmt: skip
    rows = chain("acme", None, [
        (ALERT, "raised", "sealguard", None, "2026-11-20T08:00:00.000000Z", {"rule_id": "SEAL-003"}),
        (OTHER, "raised", "sealguard", None, "2026-11-20T08:01:00.000000Z", {}),
        (ALERT, "commented", "Ana Ops", "driver says the seal was cut at the border", "2026-11-20T08:02:00Z", {}),
        (ALERT, "resolve_requested", "Ana Ops", "checked", "2026-11-20T08:03:00.000000Z", {"identity": "person:1"}),
        (ALERT, "resolved", "Ben Lead", "confirmed", "2026-11-20T08:04:00.000000Z", {"identity": "person:2"}),
    ])  # fmt: skip
    links = [Link(r.chain_seq, r.alert_id, r.prev_hash, r.hash) for r in rows]
    dcsa = b'{"eventID": "x", "eventType": "EQUIPMENT", "equipmentReference": "TRK-1"}'
    events = [
        EvidenceEvent("e-alarm", "seal.alarm", T0, T0, "http", {"kind": "seal.alarm", "seal_number": "SG1",
                      "lat": 32.2, "lon": -110.9}, b'{"kind":"seal.alarm", "seal_number":"SG1"}', "dcsa",
                      "ab" * 32),
        EvidenceEvent("e-gps", "gps.position", T0, T0, "mqtt", {"kind": "gps.position", "lat": 32.21, "lon": -110.95},
                      None, None, None),
    ]  # fmt: skip
    return package.Incident(
        alert=alert, rule={"rule_id": "SEAL-003", "title": "Seal broken", "criterion": "MSC 6.1",
                           "when": "a seal reports broken", "what_to_do": ["Hold the conveyance."]},
        events=events, partner_messages=[PartnerMessage("ab" * 32, "dcsa", T0, dcsa)],
        history=[r for r in rows if r.alert_id == ALERT], links=links, head=links[-1],
        notifications=[{"receiver": "security", "channel": "email", "kind": "firing", "tier": 0, "status": "sent",
                        "attempts": 1, "due_at": "2026-11-20T08:00:00Z", "sent_at": "2026-11-20T08:00:01Z",
                        "last_error": None, "reason": None}],
        plan={"trip_id": "T-1", "seal_numbers": ["SG1"],
              "origin": {"facility_id": "NOG", "center": [-110.93, 31.34], "radius_m": 500},
              "destination": {"facility_id": "PHX", "center": [-112.07, 33.45], "radius_m": 500},
              "route": [[-110.93, 31.34], [-110.97, 32.22], [-112.07, 33.45]]},
        track=[(T0, 32.0, -110.9), (T0, 32.21, -110.95)],
        checks=[{"kind": "seal.verified", "event_id": "e-vvtt", "tenant": "acme", "conveyance_id": "TRK-1",
                 "trip_id": "T-1", "seal_number": "SG1", "intact": True,
                 "steps": {"view": True, "verify": True, "tug": True, "twist_turn": True},
                 "occurred_at": "2026-11-20T06:00:00Z"}],
        photos=[PackedPhoto("6b0c9f1e-0000-4000-8000-000000000001", "e-vvtt", "TRK-1", "T-1", "seal", "image/jpeg",
                            len(PHOTO),
                         package.sha256(PHOTO), "stripped", "Dock Dan", T0, PHOTO)],
        generated_at=T0, generated_by="Ana Ops",
    )  # fmt: skip


KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _zip() -> bytes:
    return package.build(_incident(), KEY, report.render)


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rezip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return out.getvalue()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_a_package_verifies_with_the_site_key_and_is_the_same_bytes_each_time() -> None:
    data = _zip()
    assert data == _zip()
    verdict = verify.check(data, KEY.public_key())
    assert verdict.ok, verdict.problems
    assert verdict.alert_id == ALERT and verdict.rows == 4 and verdict.key_fingerprint == keys.fingerprint(KEY)
    files = _files(data)
    assert {"report.html", "report.pdf", "incident.json", "chain.json", "SHA256SUMS", "SHA256SUMS.sig",
            "site-key.pem", "partner/" + "ab" * 32 + ".dcsa"} <= set(files)  # fmt: skip
    doc = orjson.loads(files["incident.json"])
    alarm = doc["events"][0]
    assert files[alarm["file"]] == b'{"kind":"seal.alarm", "seal_number":"SG1"}'  # the bytes as sent
    assert alarm["partner"]["format"] == "dcsa" and files[alarm["partner"]["file"]].startswith(b'{"eventID"')
    assert files["photos/6b0c9f1e-0000-4000-8000-000000000001.jpg"] == PHOTO
    assert [h["actor"] for h in doc["history"]] == ["sealguard", "Ana Ops", "Ana Ops", "Ben Lead"]


def test_the_reports_say_what_happened_who_was_told_and_who_acted() -> None:
    files = _files(_zip())
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(files["report.pdf"])).pages)
    for expected in ("Seal discrepancy record", "SEAL-003", "TRK-1", "MSC 6.1", "security", "email",
                     "Ana Ops", "Ben Lead", "driver says the seal was cut at the border",
                     "Closed by two people", "VVTT of seal SG1: passed", "Tucson"):  # fmt: skip
        assert expected in text, expected
    html = files["report.html"].decode()
    assert "<svg" in html and "Tucson" in html and 'src="photos/6b0c9f1e' in html
    assert "made from a dcsa message" in html


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda f: f.update({"history/00000003.json": f["history/00000003.json"].replace(b"cut", b"cot")}),
         "history row 3 (commented by Ana Ops): history/00000003.json does not hash"),
        (lambda f: f.update({"photos/6b0c9f1e-0000-4000-8000-000000000001.jpg":
                             _flip(f["photos/6b0c9f1e-0000-4000-8000-000000000001.jpg"], 200)}),
         "photos/6b0c9f1e-0000-4000-8000-000000000001.jpg: changed"),
        (lambda f: f.update({"incident.json": f["incident.json"].replace(b'"Ben Lead"', b'"Bob Lead"')}),
         "history row 5 (resolved by Bob Lead): its content in incident.json does not match its hash"),
        (lambda f: f.update({"SHA256SUMS": _flip(f["SHA256SUMS"], 3)}), "SHA256SUMS.sig does not verify"),
        (lambda f: f.update({"SHA256SUMS.sig": _flip(f["SHA256SUMS.sig"], 0)}), "SHA256SUMS.sig does not verify"),
        (lambda f: f.update({"events/02-e-gps.json": b'{"kind":"gps.position","lat":0,"lon":0}'}),
         "events/02-e-gps.json: changed"),
        (lambda f: f.update({"extra.txt": b"planted"}), "extra.txt: not in SHA256SUMS"),
        (lambda f: f.pop("history/00000004.json"), "history/00000004.json: listed in SHA256SUMS but missing"),
    ],
)  # fmt: skip
def test_a_changed_package_is_rejected_with_what_changed_named(change, named) -> None:  # type: ignore[no-untyped-def]
    files = _files(_zip())
    change(files)
    verdict = verify.check(_rezip(files), KEY.public_key())
    assert not verdict.ok
    assert any(named in p for p in verdict.problems), verdict.problems


def test_a_manifest_re_signed_by_another_key_fails_against_the_sites_key() -> None:
    files = _files(_zip())
    files["incident.json"] = files["incident.json"].replace(b"Ana Ops", b"Eve Ops")
    forger = Ed25519PrivateKey.generate()
    files["site-key.pem"] = keys.public_pem(forger)
    listed = package.manifest({n: d for n, d in files.items() if n not in package.UNSIGNED})
    files["SHA256SUMS"], files["SHA256SUMS.sig"] = listed, forger.sign(listed)
    assert verify.check(_rezip(files)).ok is False  # the rows' hashes still give it away
    verdict = verify.check(_rezip(files), KEY.public_key())
    assert any("site-key.pem is not the key given" in p for p in verdict.problems)
    assert any("does not verify" in p for p in verdict.problems)


def test_a_byte_changed_inside_the_archive_is_named() -> None:
    data = _zip()
    at = data.index(b"history/00000003.json") + 60  # inside that member's compressed bytes
    verdict = verify.check(_flip(data, at))
    assert not verdict.ok and verdict.problems


def test_garbage_and_bombs_are_refused_not_crashed_on(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not verify.check(b"not a zip").ok
    monkeypatch.setattr(verify, "MAX_BYTES", 10_000)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("SHA256SUMS", b"0" * 10_001)
    assert "would unpack" in verify.check(bomb.getvalue()).problems[0]
    files = _files(_zip())
    files["chain.json"] = b'{"links": [[1, 2], "x"]}'
    assert not verify.check(_rezip(files)).ok


@pytest.mark.skipif(not (shutil.which("sha256sum") and shutil.which("openssl")), reason="no sha256sum/openssl")
def test_sha256sum_and_openssl_suffice_by_hand(tmp_path: Path) -> None:
    for name, data in _files(_zip()).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=tmp_path, check=True)
    by_hand = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "site-key.pem", "-rawin", "-in", "SHA256SUMS",
               "-sigfile", "SHA256SUMS.sig"]  # fmt: skip
    ok = subprocess.run(by_hand, check=False, cwd=tmp_path, capture_output=True, text=True)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout
    (tmp_path / "report.html").write_bytes(b"changed")
    changed = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], check=False, cwd=tmp_path,
                             capture_output=True)  # fmt: skip
    assert changed.returncode != 0
    row = orjson.loads((tmp_path / "incident.json").read_bytes())["history"][1]
    hashed = subprocess.run(["sha256sum", row["file"]], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert hashed.stdout.split()[0] == row["hash"]


def test_a_photo_past_the_budget_is_listed_with_its_hash_not_packed() -> None:
    from dataclasses import replace

    incident = _incident()
    big = PackedPhoto("6b0c9f1e-0000-4000-8000-000000000002", "e-vvtt", "TRK-1", "T-1", "doors", "image/jpeg",
                      150 * 1024 * 1024,
                   "cd" * 32, "none", "Dock Dan", T0, None)  # fmt: skip
    data = package.build(replace(incident, photos=[*incident.photos, big]), KEY, report.render)
    assert verify.check(data, KEY.public_key()).ok
    files = _files(data)
    listed = orjson.loads(files["incident.json"])["photos"]
    assert [p["file"] is None for p in listed] == [False, True] and listed[1]["sha256"] == "cd" * 32
    assert not any(name.endswith("000000000002.jpg") for name in files)
    assert "past its photo budget" in files["report.html"].decode()
