"""Checking an incident package offline, as a third party would (docs/evidence.md): every file against
the manifest, the manifest against the site's signature, and each history row against its hash and its
place in the tenant's chain. Pure: the zip's bytes in, a verdict naming each thing that changed out.

A package that passes with the key it carries proves only that it is whole; with the site's published
key (``--key``) it proves the site made it. The verdict says which of the two was done."""

import hashlib
import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sealguard.alerts.audit import row_body, row_hash
from sealguard.evidence import keys
from sealguard.evidence.package import FORMAT, MANIFEST, PUBLIC_KEY, SIGNATURE, UNSIGNED, history_file
from sealguard.schemas.history import HistoryRow

MAX_FILES = 20_000
MAX_BYTES = 2 * 1024**3  # what a package may unpack to: a zip bomb is refused, not inflated
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


@dataclass(slots=True)
class Verdict:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    alert_id: str | None = None
    key_fingerprint: str | None = None
    files: int = 0
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _unpack(data: bytes, verdict: Verdict) -> dict[str, bytes] | None:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        verdict.problems.append(f"not a zip archive ({exc})")
        return None
    infos = z.infolist()
    if len(infos) > MAX_FILES or sum(i.file_size for i in infos) > MAX_BYTES:
        verdict.problems.append(f"the archive would unpack to more than {MAX_FILES} files or {MAX_BYTES} bytes")
        return None
    files: dict[str, bytes] = {}
    for info in infos:
        if info.is_dir():
            continue
        try:
            files[info.filename] = z.read(info)
        except (zipfile.BadZipFile, OSError, ValueError, zlib.error) as exc:  # a changed byte fails the CRC
            verdict.problems.append(f"{info.filename}: cannot be read from the archive ({exc})")
    return files


def _manifest(files: dict[str, bytes], verdict: Verdict) -> dict[str, str]:
    listed: dict[str, str] = {}
    for n, line in enumerate(files[MANIFEST].decode(errors="replace").splitlines(), start=1):
        m = _LINE.match(line)
        if m is None:
            verdict.problems.append(f"{MANIFEST} line {n} is not '<sha256>  <file>'")
            continue
        listed[m[2]] = m[1]
    return listed


def _signature(files: dict[str, bytes], trusted: Ed25519PublicKey | None, verdict: Verdict) -> None:
    carried = None
    if PUBLIC_KEY in files:
        try:
            carried = keys.read_public(files[PUBLIC_KEY])
        except keys.SigningKeyError as exc:
            verdict.problems.append(f"{PUBLIC_KEY}: {exc}")
    key = trusted or carried
    if key is None:
        verdict.problems.append("no key to check the signature with (none given, none in the package)")
        return
    verdict.key_fingerprint = keys.fingerprint(key)
    if trusted is None:
        verdict.notes.append(f"signature checked with the key the package carries ({verdict.key_fingerprint});"
                             " compare it with the site's published key, or pass --key")  # fmt: skip
    elif carried is not None and keys.fingerprint(carried) != verdict.key_fingerprint:
        verdict.problems.append(f"{PUBLIC_KEY} is not the key given ({keys.fingerprint(carried)})")
    if SIGNATURE not in files:
        verdict.problems.append(f"{SIGNATURE} is missing: the manifest is not signed")
        return
    try:
        key.verify(files[SIGNATURE], files[MANIFEST])
    except InvalidSignature:
        verdict.problems.append(f"{SIGNATURE} does not verify {MANIFEST} with {verdict.key_fingerprint}: the"
                                " manifest was changed after signing, or another key signed it")  # fmt: skip


def _history(doc: dict[str, Any], chain: dict[str, Any] | None, files: dict[str, bytes], verdict: Verdict) -> None:
    tenant = doc.get("alert", {}).get("tenant", "")
    by_seq: dict[int, str] = {}
    for h in doc.get("history", []):
        seq = h.get("chain_seq")
        where = f"history row {seq} ({h.get('action')} by {h.get('actor')})"
        try:
            row = HistoryRow(tenant, seq, h["alert_id"], h["action"], h["actor"], h["note"], h["at"], h["detail"],
                             h["prev_hash"], h["hash"])  # fmt: skip
        except (KeyError, TypeError):
            verdict.problems.append(f"{where}: incomplete in incident.json")
            continue
        verdict.rows += 1
        if row_hash(row) != row.hash:
            verdict.problems.append(f"{where}: its content in incident.json does not match its hash (the row was"
                                    " changed)")  # fmt: skip
        body = files.get(history_file(seq))
        if body is None:
            verdict.problems.append(f"{where}: {history_file(seq)} is missing")
        elif hashlib.sha256(body).hexdigest() != row.hash:
            verdict.problems.append(f"{where}: {history_file(seq)} does not hash to the row's hash (the row was"
                                    " changed)")  # fmt: skip
        elif body != row_body(row):
            verdict.problems.append(f"{where}: {history_file(seq)} and incident.json disagree")
        by_seq[seq] = row.hash
    if chain is None:
        verdict.problems.append("chain.json is missing or unreadable")
        return
    links = chain.get("links", [])
    prev: list[Any] | None = None
    for link in links:
        seq, _, prev_hash, hashed = link
        if prev is not None and (seq != prev[0] + 1 or prev_hash != prev[3]):
            verdict.problems.append(f"chain.json: link {seq} does not follow link {prev[0]} (a row was removed,"
                                    " inserted or changed)")  # fmt: skip
        if seq in by_seq and by_seq.pop(seq) != hashed:
            verdict.problems.append(f"history row {seq}: its hash is not the chain's link {seq}")
        prev = link
    for seq in sorted(by_seq):
        verdict.problems.append(f"history row {seq}: not among the chain's links")
    head = chain.get("head")
    if head is not None and prev is not None and not chain.get("truncated") and list(head) != [prev[0], prev[3]]:
        verdict.problems.append(f"chain.json: the head {head[0]} is not the last link {prev[0]}")


def check(data: bytes, trusted: Ed25519PublicKey | None = None) -> Verdict:
    """Check a package; ``trusted``: the site's published key (else the key the package carries)."""
    verdict = Verdict()
    files = _unpack(data, verdict)
    if files is None:
        return verdict
    if MANIFEST not in files:
        verdict.problems.append(f"{MANIFEST} is missing: nothing says what the package holds")
        return verdict
    _signature(files, trusted, verdict)
    listed = _manifest(files, verdict)
    for name, digest in sorted(listed.items()):
        if name not in files:
            verdict.problems.append(f"{name}: listed in {MANIFEST} but missing")
        elif hashlib.sha256(files[name]).hexdigest() != digest:
            verdict.problems.append(f"{name}: changed (its SHA-256 is not the manifest's)")
    for name in sorted(set(files) - set(listed) - UNSIGNED):
        verdict.problems.append(f"{name}: not in {MANIFEST} (added after signing)")
    verdict.files = len(listed)
    try:
        doc = orjson.loads(files.get("incident.json", b""))
        if doc.get("format") != FORMAT:
            verdict.problems.append(f"incident.json: format {doc.get('format')!r}, expected {FORMAT!r}")
    except orjson.JSONDecodeError:
        verdict.problems.append("incident.json is missing or not JSON")
        return verdict
    verdict.alert_id = doc.get("alert", {}).get("alert_id")
    try:
        chain = orjson.loads(files.get("chain.json", b""))
    except orjson.JSONDecodeError:
        chain = None
    try:
        _history(doc, chain, files, verdict)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        verdict.problems.append(f"incident.json or chain.json is malformed ({type(exc).__name__}: {exc})")
    return verdict
