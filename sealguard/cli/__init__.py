"""The ``sealguard`` command line."""

import argparse
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"not a number of partitions from 1 to 10000: {text!r}")
    return value


def _timestamp(text: str) -> float:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an RFC 3339 timestamp: {text!r}") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"timestamp needs an offset (Z or +hh:mm): {text!r}")
    return value.timestamp()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sealguard", description="CTPAT conveyance and seal integrity monitor.")
    sub = parser.add_subparsers(dest="command", required=True)

    rp = sub.add_parser("replay", help="replay a JSON Lines event file and print the alerts it raises")
    rp.add_argument("events", help="JSON Lines file of events, or - for standard input")
    rp.add_argument("--policy", help="policy YAML (thresholds, severities, per-tenant overrides)")
    rp.add_argument("--until", type=_timestamp, help="advance the clock to this RFC 3339 time at the end")
    rp.add_argument("--out", help="write alerts here (JSON Lines) instead of standard output")
    rp.add_argument("--dead-letter", help="write rejected lines here, each with its line number and reason")
    rp.add_argument("--no-progress", action="store_true", help="no progress bar even on a terminal")
    rp.add_argument(
        "--partitions",
        type=_positive,
        metavar="N",
        help="decide as N partitioned workers would (docs/partitioning.md) instead of one engine",
    )

    sp = sub.add_parser("schema", help="write the JSON Schema of every event kind")
    sp.add_argument("--out", required=True, help="directory to write one schema file per kind into")

    pp = sub.add_parser("policy", help="policy tools")
    psub = pp.add_subparsers(dest="policy_command", required=True)
    show = psub.add_parser("show", help="print the effective policy")
    show.add_argument("--policy", help="policy YAML to apply over the defaults")
    show.add_argument("--tenant", help="show the policy as this tenant sees it")

    dp = sub.add_parser("demo", help="run the monitor on its embedded servers with a simulated fleet, pages and"
                        " paging (--replay: only replay the bundled scenarios and print their alerts)")  # fmt: skip
    dp.add_argument("--scenarios", help="folder of scenarios (default: the bundled copies)")
    dp.add_argument("--replay", action="store_true", help="only replay the scenarios (no servers)")
    dp.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
    dp.add_argument("--speedup", type=float, default=1.0,
                    help="simulated seconds per real second (1: the wall clock, as pages will show it)")  # fmt: skip

    from sealguard.cli import evidence as cli_evidence
    from sealguard.cli import live as cli_live
    from sealguard.cli import people as cli_people

    cli_live.add_commands(sub)
    cli_people.add_commands(sub)
    cli_evidence.add_commands(sub)
    from sealguard.cli import backtest as cli_backtest

    cli_backtest.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        return _dispatch(parser, args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # Every failure is one clear line; SEALGUARD_DEBUG=1 shows the traceback behind it.
        if os.environ.get("SEALGUARD_DEBUG"):
            raise
        print(f"sealguard {args.command}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_FAIL


def _one_line(exc: BaseException) -> str:
    import psycopg

    if isinstance(exc, psycopg.OperationalError):
        return f"the database cannot be reached: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}"
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not text (UTF-8): {exc.reason} at byte {exc.start}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 400 else text[:400] + "..."


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "replay":
        return _replay(args)
    if args.command == "schema":
        return _schema(Path(args.out))
    if args.command == "policy":
        return _policy_show(args.policy, args.tenant)
    if args.command == "demo":
        from sealguard.sim.demo import run_demo, run_live_demo

        if args.replay or args.scenarios:
            return run_demo(args.scenarios)
        return run_live_demo(args.duration, args.speedup)
    from sealguard.cli import live as cli_live
    from sealguard.cli import people as cli_people

    if args.command == "person":
        return cli_people.run(args)
    if args.command == "backtest":
        from sealguard.cli import backtest as cli_backtest

        return cli_backtest.run(args)
    if args.command == "incident":
        from sealguard.cli import evidence as cli_evidence

        return cli_evidence.run(args)
    code = cli_live.run(args)
    if code is not None:
        return code
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def _load_policy(path: str | None) -> Any:
    from sealguard.rules.policy import Policy

    return Policy.load(path) if path else Policy()


def _replay(args: argparse.Namespace) -> int:
    from sealguard import collector
    from sealguard.rules.engine import Engine
    from sealguard.rules.policy import PolicyError
    from sealguard.stream.partitioned import replay_partitioned
    from sealguard.stream.replay import replay

    try:
        policy = _load_policy(args.policy)
    except PolicyError as exc:
        print(f"sealguard: policy refused: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        source: IO[bytes] = sys.stdin.buffer if args.events == "-" else open(args.events, "rb")  # noqa: SIM115
    except OSError as exc:
        print(f"sealguard: cannot read {args.events}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    dead: IO[bytes] | None = None
    try:
        out: IO[bytes] = open(args.out, "wb") if args.out else sys.stdout.buffer  # noqa: SIM115
        if args.dead_letter:
            dead = open(args.dead_letter, "wb")  # noqa: SIM115
    except OSError as exc:
        print(f"sealguard: cannot write: {exc}", file=sys.stderr)
        return EXIT_USAGE

    def on_invalid(number: int, raw: bytes, reason: str) -> None:
        print(f"line {number}: {reason}", file=sys.stderr)
        if dead is not None:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            dead.write(orjson.dumps({"line": number, "reason": reason, "raw": line}) + b"\n")

    lines: Any = source
    progress = None
    if not args.no_progress and sys.stderr.isatty() and args.events != "-":
        from tqdm import tqdm

        size = os.path.getsize(args.events)
        progress = tqdm(total=size, unit="B", unit_scale=True, desc="replay", file=sys.stderr, leave=False)
        lines = _counting(source, progress)
    # A replay is one long run over many events: the data path's collector settings (sealguard.collector).
    collector.collect_less_often()
    collector.settle()
    try:
        with source:
            if args.partitions:
                split = replay_partitioned(lines, policy, args.partitions, until=args.until, on_invalid=on_invalid)
                applied, invalid, duplicates, alerts = split.applied, split.invalid, split.duplicates, split.in_order()
            else:
                report = replay(lines, Engine(policy), until=args.until, on_invalid=on_invalid)
                applied, invalid, duplicates = report.applied, report.invalid, report.duplicates
                alerts = report.book.in_order()
    except OSError as exc:
        print(f"sealguard: cannot read {args.events}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if progress is not None:
            progress.close()
        if dead is not None:
            dead.close()
    for record in alerts:
        out.write(orjson.dumps(record.to_json()) + b"\n")
    out.flush()
    if args.out:
        out.close()
    print(
        f"sealguard: {applied} events applied, {invalid} invalid, {duplicates} duplicates, "
        f"{len(alerts)} alerts ({sum(a.status == 'open' for a in alerts)} open)",
        file=sys.stderr,
    )
    return EXIT_OK


def _counting(source: IO[bytes], progress: Any) -> Any:
    for line in source:
        progress.update(len(line))
        yield line


def _schema(out: Path) -> int:
    from sealguard.schemas.events import EVENT_MODELS

    try:
        out.mkdir(parents=True, exist_ok=True)
        for kind, model in EVENT_MODELS.items():
            schema = model.model_json_schema()
            schema["$id"] = f"https://sealguard.dev/schemas/v1/{kind}.json"
            schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
            (out / f"{kind}.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        print(f"sealguard: cannot write schemas to {out}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {len(EVENT_MODELS)} schemas to {out}", file=sys.stderr)
    return EXIT_OK


def _policy_show(path: str | None, tenant: str | None) -> int:
    from sealguard.rules.policy import PolicyError, render

    try:
        policy = _load_policy(path)
    except PolicyError as exc:
        print(f"sealguard: policy refused: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(render(policy, tenant))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
