"""``sealguard incident``: export an alert's signed incident package, check one offline, print the
site's public key (docs/evidence.md)."""

import argparse
import asyncio
import getpass
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAIL = 0, 1


def add_commands(sub: Any) -> None:
    ip = sub.add_parser("incident", help="incident packages: export, verify, the site's public key")
    isub = ip.add_subparsers(dest="incident_command", required=True)
    ex = isub.add_parser("export", help="write an alert's signed incident package (a zip)")
    ex.add_argument("alert_id")
    ex.add_argument("--out", type=Path, help="where to write it (default: incident-ALERT_ID.zip here)")
    ex.add_argument("--tenant", help="refuse an alert of any other tenant")
    ve = isub.add_parser("verify", help="check a package offline: files, signature, history rows and chain")
    ve.add_argument("file", type=Path)
    ve.add_argument("--key", type=Path, help="the site's published public key (PEM); default: the package's own")
    isub.add_parser("key", help="print the site's public key (PEM) and its fingerprint; make the key if none")


def run(args: argparse.Namespace) -> int:
    if args.incident_command == "verify":
        return _verify(args.file, args.key)
    if args.incident_command == "key":
        return _key()
    return _export(args)


def _site_key() -> Any:
    from sealguard.config import Settings, signing_key_path
    from sealguard.evidence import keys

    return keys.load_or_create(signing_key_path(Settings()))


def _key() -> int:
    from sealguard.evidence import keys

    key = _site_key()
    sys.stdout.write(keys.public_pem(key).decode())
    print(keys.fingerprint(key))
    return EXIT_OK


def _verify(file: Path, key_file: Path | None) -> int:
    from sealguard.evidence import keys, verify

    trusted = keys.read_public(key_file.read_bytes()) if key_file else None
    verdict = verify.check(file.read_bytes(), trusted)
    for note in verdict.notes:
        print(f"note: {note}")
    if not verdict.ok:
        print(f"incident verify: {file}: REJECTED, {len(verdict.problems)} problem(s)", file=sys.stderr)
        for problem in verdict.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_FAIL
    print(f"incident verify: {file}: intact. Alert {verdict.alert_id}; {verdict.files} files match the signed"
          f" manifest; {verdict.rows} history rows match their hashes and the chain; signed by"
          f" {verdict.key_fingerprint}")  # fmt: skip
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    import psycopg

    from sealguard.cli.live import CommandError, _database
    from sealguard.config import Settings
    from sealguard.evidence import gather

    key = _site_key()
    by = f"{getpass.getuser()} (command line)"

    async def go() -> bytes | None:
        async with _database() as url, await psycopg.AsyncConnection.connect(url, options="-c timezone=UTC") as conn:
            return await gather.export(conn, args.alert_id, args.tenant, key, by=by, site=Settings().site_name)

    try:
        data = asyncio.run(go())
    except psycopg.errors.InvalidTextRepresentation:
        raise CommandError(f"not an alert id: {args.alert_id!r}") from None
    if data is None:
        raise CommandError(f"no alert {args.alert_id}" + (f" of tenant {args.tenant}" if args.tenant else ""))
    out: Path = args.out or Path(f"incident-{args.alert_id}.zip")
    out.write_bytes(data)
    print(f"incident export: wrote {out} ({len(data):,} bytes); check it with: sealguard incident verify {out}")
    return EXIT_OK
