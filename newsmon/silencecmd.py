"""``newsmon silence``: add, list and expire alert silences."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from agents.settings import Settings
from agents.silencefeed import all_silences, publish_silence
from monitor.alerting.silences import Silence, new_silence
from monitor.durations import format_duration, parse_duration


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    silence = commands.add_parser("silence", help="silence alerts by rule, watchlist or entity")
    actions = silence.add_subparsers(dest="silence_command", required=True)
    add = actions.add_parser("add", help="silence for a while (all given matchers must match)")
    add.add_argument("--rule", help="a rule id (in every watchlist, unless --watchlist)")
    add.add_argument("--watchlist", help="a watchlist name")
    add.add_argument("--entity", help='a canonical entity name, e.g. "Volodymyr Zelenskyy"')
    add.add_argument("--for", dest="duration", required=True, help="how long: 30m, 4h, 2d")
    add.add_argument("--comment", default="", help="why")
    add.add_argument("--by", default="", help="who (shown in `silence list`)")
    listing = actions.add_parser("list", help="active silences (--all: expired ones too)")
    listing.add_argument("--all", action="store_true")
    expire = actions.add_parser("expire", help="end a silence now")
    expire.add_argument("id")


def run_silence(args: argparse.Namespace, settings: Settings) -> int:
    now = time.time()
    if args.silence_command == "add":
        try:
            silence = new_silence(
                starts_at=now,
                seconds=parse_duration(args.duration),
                rule=args.rule,
                watchlist=args.watchlist,
                entity=args.entity,
                comment=args.comment,
                created_by=args.by,
            )
        except ValueError as exc:
            print(f"newsmon: {exc}", file=sys.stderr)
            return 2
        asyncio.run(publish_silence(settings, silence))
        print(f"silence {silence.id} until {_when(silence.ends_at)}")
        return 0
    silences = asyncio.run(all_silences(settings))
    if args.silence_command == "expire":
        if args.id not in silences:
            print(f"newsmon: no silence {args.id!r}", file=sys.stderr)
            return 1
        asyncio.run(publish_silence(settings, replace(silences[args.id], ends_at=now)))
        print(f"silence {args.id} expired")
        return 0
    _print(list(silences.values()), now, show_all=args.all)
    return 0


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")


def _print(silences: list[Silence], now: float, *, show_all: bool) -> None:
    table = Table(title="silences")
    for column in ("id", "rule", "watchlist", "entity", "ends", "left", "by", "comment"):
        table.add_column(column)
    for s in sorted(silences, key=lambda s: s.ends_at):
        if show_all or s.active(now):
            left = format_duration(s.ends_at - now) if s.ends_at > now else "expired"
            table.add_row(
                s.id,
                s.rule or "",
                s.watchlist or "",
                s.entity or "",
                _when(s.ends_at),
                left,
                s.created_by,
                s.comment,
            )
    Console().print(table)
