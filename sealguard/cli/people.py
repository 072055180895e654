"""``sealguard person``: local accounts for sites without an identity provider, and the administration
of people who came through one (disable, list). A password is read from standard input or a prompt,
never from the command line (it would show in ``ps`` and the shell history); without either, a strong
one is made and printed once."""

import argparse
import asyncio
import getpass
import secrets
import sys
from datetime import UTC, datetime

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def add_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    pe = sub.add_parser("person", help="people who sign in to the pages (local accounts; IdP people listed too)")
    psub = pe.add_subparsers(dest="person_command", required=True)
    pa = psub.add_parser("add", help="add a local account")
    pa.add_argument("username")
    pa.add_argument("--name", required=True, help="the person's name, as the history shows it")
    pa.add_argument("--tenant", required=True)
    pa.add_argument("--role", required=True, choices=["scanner", "operator", "admin"])
    pa.add_argument("--facility", help="for a scanner: the facility they scan at")
    pa.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    pp = psub.add_parser("password", help="set a new password (ends the person's sessions)")
    pp.add_argument("username")
    pp.add_argument("--password-stdin", action="store_true")
    pt = psub.add_parser("totp", help="turn the one-time code (authenticator app) on, printing its secret, or off")
    pt.add_argument("username")
    pt.add_argument("--off", action="store_true")
    for verb, text in (("disable", "stop a person signing in (ends their sessions within a second)"),
                       ("enable", "let a disabled person sign in again")):  # fmt: skip
        psub.add_parser(verb, help=text).add_argument("username")
    psub.add_parser("list", help="everyone: username, name, tenant, role, how they sign in, state")


def _password(args: argparse.Namespace, username: str) -> tuple[str, bool]:
    """The new password, and whether it was made here (so it must be shown)."""
    from sealguard.people.passwords import weakness

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the two passwords differ")
    else:
        return secrets.token_urlsafe(15), True
    why = weakness(password, username)
    if why is not None:
        raise ValueError(why)
    return password, False


def run(args: argparse.Namespace) -> int:
    import psycopg

    from sealguard.cli.live import _database
    from sealguard.people import passwords, totp
    from sealguard.people.throttle import account_key
    from sealguard.roles.monitor import migrate_url
    from sealguard.store import people

    async def go() -> tuple[int, str]:
        async with _database() as url:
            await migrate_url(url)
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                cmd, name = args.person_command, getattr(args, "username", "")
                if cmd == "list":
                    rows = await people.list_people(conn)
                    now = datetime.now(UTC)
                    lines = ["username\tname\ttenant\trole\tfacility\tsigns in with\tstate"]
                    for p in rows:
                        how = "password+code" if p.totp_secret else "password" if p.password_hash else "single sign-on"
                        locked = await people.locked_until(conn, [f"account:{account_key(p.username)}"], now)
                        state = "disabled" if p.disabled_at else "locked" if locked else "active"
                        lines.append(f"{p.username}\t{p.display_name}\t{p.tenant}\t{p.role}\t{p.facility or '-'}"
                                     f"\t{how}\t{state}")  # fmt: skip
                    return EXIT_OK, "\n".join(lines)
                if cmd == "add":
                    if await people.by_username(conn, name) is not None:
                        return EXIT_USAGE, f"{name} exists already"
                    password, made = _password(args, name)
                    digest = await asyncio.to_thread(passwords.hash_password, password)
                    await people.add(conn, name, args.name, args.tenant, args.role, facility=args.facility,
                                     password_hash=digest)  # fmt: skip
                    return EXIT_OK, f"added {name}" + (f"; password: {password}" if made else "")
                if cmd == "password":
                    password, made = _password(args, name)
                    digest = await asyncio.to_thread(passwords.hash_password, password)
                    done = await people.update(conn, name, password_hash=digest)
                    return (EXIT_OK, "password set" + (f": {password}" if made else "")) if done else (
                        EXIT_USAGE, f"no person {name}")  # fmt: skip
                if cmd == "totp":
                    secret = None if args.off else totp.new_secret()
                    if not await people.update(conn, name, totp_secret=secret):
                        return EXIT_USAGE, f"no person {name}"
                    if secret is None:
                        return EXIT_OK, "one-time codes off"
                    return EXIT_OK, (f"secret: {secret}\nauthenticator URI: {totp.provisioning_uri(secret, name)}\n"
                                     "from the next sign-in on, a code is asked after the password")  # fmt: skip
                when = datetime.now(UTC) if cmd == "disable" else None
                if not await people.update(conn, name, disabled_at=when):
                    return EXIT_USAGE, f"no person {name}"
                return EXIT_OK, f"{name} {cmd}d"

    try:
        code, text = asyncio.run(go())
    except ValueError as exc:
        code, text = EXIT_USAGE, str(exc)
    print(text, file=sys.stdout if code == EXIT_OK else sys.stderr)
    return code
