"""The ``acd`` console script.

This is the one place that wires the packages together; each subcommand's
work lives in the package that owns it. Exit codes: 0 success, 1 runtime
failure, 2 bad input (arguments or configuration).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acd",
        description="Call-center ACD for Asterisk, live wallboard and staffing forecasts.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="embedded Redis + fake Asterisk + ACD + wallboard, all in one"
    )
    demo.add_argument("--host", default="127.0.0.1", help="wallboard bind address")
    demo.add_argument("--port", type=int, default=8080, help="wallboard port (default 8080)")
    demo.add_argument(
        "--config", default=None, help="configuration file (default: config/demo.toml)"
    )

    run = sub.add_parser("run", help="run the ACD and the wallboard against a real Asterisk")
    run.add_argument("--config", required=True, help="configuration file (TOML)")
    run.add_argument(
        "--no-wallboard", action="store_true", help="do not serve the wallboard/API"
    )

    check = sub.add_parser("check", help="validate a configuration file")
    check.add_argument("--config", required=True, help="configuration file (TOML)")
    check.add_argument("--asterisk", default=None, help="Asterisk configuration directory")

    doctor = sub.add_parser("doctor", help="check a live Asterisk over AMI (one shot)")
    doctor.add_argument("--config", required=True, help="configuration file (TOML)")

    passwd = sub.add_parser(
        "passwd", help="print a password hash for [[agents]] / [[supervisors]] password_hash"
    )
    passwd.add_argument("--stdin", action="store_true",
                        help="read the password from standard input instead of prompting")
    export = sub.add_parser("export", help="export statistics")
    export_sub = export.add_subparsers(dest="export_what", required=True, metavar="WHAT")
    intervals = export_sub.add_parser("intervals", help="interval CSV (columns: docs/contracts.md)")
    intervals.add_argument("--config", required=True, help="configuration file (TOML)")
    intervals.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    intervals.add_argument("--to", dest="date_to", required=True, help="last day, YYYY-MM-DD")
    intervals.add_argument("--out", required=True, help="output CSV file")
    intervals.add_argument("--queue", action="append", default=None, help="only these queues")

    wallboard = sub.add_parser("wallboard", help="wallboard tools")
    wb_sub = wallboard.add_subparsers(dest="wallboard_what", required=True, metavar="WHAT")
    tail = wb_sub.add_parser("tail", help="live wallboard numbers in the terminal")
    tail.add_argument("--url", default="http://127.0.0.1:8080", help="wallboard base URL")
    tail.add_argument("--token", default=None, help="view token, if the board needs one")
    tail.add_argument("--once", action="store_true", help="print one snapshot and exit")

    from forecasting.cli import register as register_forecast

    register_forecast(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from callcenter.demo import run_demo

        return run_demo(host=args.host, port=args.port, config_path=args.config)
    if args.command == "run":
        from callcenter.service import run_service

        return run_service(args.config, serve_wallboard=not args.no_wallboard)
    if args.command == "check":
        from acd.config.check import run_check

        return run_check(args.config, args.asterisk)
    if args.command == "doctor":
        from acd.tools.doctor import run_doctor

        return run_doctor(args.config)
    if args.command == "passwd":
        return _passwd(args.stdin)
    if args.command == "export":
        from acd.tools.export import run_export_intervals

        return run_export_intervals(
            args.config, args.date_from, args.date_to, args.out, args.queue
        )
    if args.command == "wallboard":
        from wallboard.tail import run_tail

        return run_tail(args.url, args.token, once=args.once)
    if args.command == "forecast":
        from forecasting.cli import run as run_forecast

        return run_forecast(args)
    raise AssertionError(f"unhandled command {args.command}")


def _passwd(from_stdin: bool) -> int:
    import getpass

    from acd.core.credentials import hash_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("acd passwd: the passwords differ", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("acd passwd: use at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
