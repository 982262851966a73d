"""``newsmon``: worker, replay, tag, rules, alerts, desk, config.

Exit codes: 0 done; 1 done, but some input records were bad (each reported on stderr);
2 a usage or configuration error (nothing was done); 3 Kafka failed. Arguments, files
named and settings are all checked before Kafka is contacted; a user's mistake is one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaConnectionError, KafkaError
from rich.console import Console

from agents.settings import Settings, SettingsError, load_settings
from monitor.errors import DefinitionError
from monitor.rules.ruleset import SEVERITIES
from newsmon import feedbackcmd, silencecmd, spikescmd
from newsmon.sources import missing
from newsmon.topicread import TopicMissing

DEFAULT_SEEDS = Path("seeds")
log = logging.getLogger("newsmon")


def _count(minimum: int) -> Any:
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, not {value}")
        return value

    return parse


def _positive(text: str) -> float:
    """An argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsmon",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"newsmon {_version()}")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (NEWSMON_KAFKA_BOOTSTRAP)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("worker", help="run a worker: analyser and notifier agents")
    replay = commands.add_parser("replay", help="publish articles to the articles topic")
    replay.add_argument("paths", nargs="*", type=Path, default=[DEFAULT_SEEDS])
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument(
        "--rate", type=_positive, help="articles per second (default: as fast as possible)"
    )
    pace.add_argument(
        "--speedup",
        type=_positive,
        metavar="F",
        help="keep the articles' relative publication times, F times faster (86400: a day "
        "a second); articles without a time, or behind the replay's clock, go at once",
    )
    replay.add_argument("--loop", action="store_true", help="replay again and again")
    replay.add_argument("--limit", type=_count(1), help="stop after N articles")
    replay.add_argument("--bootstrap", dest="bootstrap_sub", help=argparse.SUPPRESS)
    tag = commands.add_parser("tag", help="tag articles offline, one JSON line each")
    tag.add_argument("paths", nargs="*", default=["-"], help="files or folders; - is stdin")
    tag.add_argument("--no-ner", action="store_true", help="skip named-entity recognition")
    _rules_parser(commands)
    alerts = commands.add_parser("alerts", help="follow alerts")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", required=True)
    tail = alerts_sub.add_parser("tail", help="print alerts as they arrive")
    tail.add_argument("--route", help="a watchlist route topic (alerts.<name>) instead of all")
    tail.add_argument("--severity", choices=SEVERITIES, help="at least this severity")
    tail.add_argument("--from-beginning", action="store_true")
    tail.add_argument("--max", type=_count(1), dest="max_alerts", help="stop after N alerts")
    tail.add_argument("--timeout", type=_positive, help="stop after S seconds in all")
    tail.add_argument(
        "--idle", type=_positive, help="once an alert was shown, stop after S quiet seconds"
    )
    tail.add_argument("--json", action="store_true", dest="as_json", help="JSON lines")
    silencecmd.add_arguments(commands)
    desk = commands.add_parser(
        "desk", help="serve the analysts' web desk (NEWSMON_DESK_HOST:NEWSMON_DESK_PORT)"
    )
    desk.add_argument(
        "--hash-password",
        metavar="NAME",
        help="print a NEWSMON_DESK_USERS_FILE line for NAME (password from the terminal "
        "or one line of standard input) and exit",
    )
    spikescmd.add_arguments(commands)
    feedbackcmd.add_arguments(commands)
    topics = commands.add_parser("topics", help="create the topics of the topic table")
    topics.add_subparsers(dest="topics_command", required=True).add_parser(
        "create", help="create missing topics (data topics, dead letters, rules, routes)"
    )
    config = commands.add_parser("config", help="show the effective settings")
    config.add_subparsers(dest="config_command", required=True).add_parser("show")
    return parser


def _rules_parser(commands: Any) -> None:
    rules = commands.add_parser("rules", help="validate, test and deploy watch rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    validate = rules_sub.add_parser("validate", help="check a rule file")
    validate.add_argument("file", type=Path)
    push = rules_sub.add_parser(
        "push", help="validate and deploy the watchlists of a rule file to every worker"
    )
    push.add_argument("file", type=Path)
    remove = rules_sub.add_parser("remove", help="withdraw a deployed watchlist")
    remove.add_argument("watchlist")
    test = rules_sub.add_parser("test", help="backtest a rule file on past articles")
    test.add_argument("file", type=Path)
    source = test.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--against", nargs="+", type=Path, metavar="PATH", help="article files or folders"
    )
    source.add_argument("--topic", help="a topic to read from the beginning (e.g. news.articles)")
    test.add_argument(
        "--json",
        action="store_true",
        dest="as_json",
        help="one JSON line per article with its rule matches",
    )
    test.add_argument(
        "--diff",
        action="store_true",
        help="compare with the deployed rule set: alerts gained and lost",
    )
    test.add_argument("--examples", type=_count(0), default=3, help="examples per rule (default 3)")
    test.add_argument("--limit", type=_count(1), help="at most N articles")
    test.add_argument("--no-ner", action="store_true", help="skip named-entity recognition")


def _version() -> str:
    try:
        return metadata.version("newsmon")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _named_files(args: argparse.Namespace) -> list[Path]:
    """The input files and folders a command names (checked before anything runs)."""
    if args.command in ("replay", "tag"):
        return [Path(p) for p in args.paths]
    if args.command == "rules" and args.rules_command != "remove":
        return [args.file, *(getattr(args, "against", None) or ())]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if absent := missing(_named_files(args)):
        # A usage error like argparse's own: exit status 2, before anything runs.
        parser.exit(2, "".join(f"newsmon: no such file or folder: {p}\n" for p in absent))
    bootstrap = getattr(args, "bootstrap_sub", None) or args.bootstrap
    try:
        settings = load_settings(**({"kafka_bootstrap": bootstrap} if bootstrap else {}))
    except SettingsError as exc:
        print(f"newsmon: bad setting: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return _dispatch(args, settings)
    except DefinitionError as exc:
        print(f"newsmon: {exc.render()}", file=sys.stderr)
        return 2
    except (TopicMissing, SettingsError) as exc:  # a setting found bad when used: CA file
        print(f"newsmon: {exc}", file=sys.stderr)
        return 2
    except KafkaError as exc:
        print(f"newsmon: {_kafka_failure(settings, exc)}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130


def _kafka_failure(settings: Settings, exc: KafkaError) -> str:
    """One line for a failed Kafka call; a refused TLS/SASL handshake is named, no secret."""
    from agents.kafka import mask_secrets, probe_refusal, refusal

    found = None
    if reason := refusal(settings, exc):
        found = (settings.kafka_bootstrap, reason)
    elif isinstance(exc, KafkaConnectionError):
        # aiokafka logs why the bootstrap failed but raises only "Unable to bootstrap".
        found = asyncio.run(probe_refusal(settings))
    if found:
        return mask_secrets(f"Kafka at {found[0]} {found[1]}", settings)
    return mask_secrets(f"Kafka at {settings.kafka_bootstrap}: {exc}", settings)


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.worker import run_worker  # Faust loads only for workers

    return run_worker(settings)


def _tag(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.tagcmd import run_tag  # spaCy loads only when tagging

    return run_tag(settings, args.paths, ner=settings.ner and not args.no_ner)


def _rules(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.rulescmd import run_rules

    return run_rules(args, settings)


def _alerts(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.tail import run_tail

    shown = run_tail(
        settings,
        route=args.route,
        severity=args.severity,
        from_beginning=args.from_beginning,
        max_alerts=args.max_alerts,
        timeout=args.timeout,
        idle=args.idle,
        as_json=args.as_json,
    )
    return 0 if shown >= (args.max_alerts or 1) or args.timeout is None else 1


def _topics(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.worker import create_topics

    print("\n".join(create_topics(settings)) or "all topics exist")
    return 0


def _feedback(args: argparse.Namespace, settings: Settings) -> int:
    return feedbackcmd.run_feedback(args, settings)


def _spikes(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.spikescmd import run_spikes  # spaCy loads only when tagging

    return run_spikes(args, settings)


def _desk(args: argparse.Namespace, settings: Settings) -> int:
    if args.hash_password is not None:
        return _hash_password(args.hash_password)
    from agents.desk import serve

    asyncio.run(serve(settings))
    return 0


def _hash_password(name: str) -> int:
    import getpass

    from agents.deskusers import user_line

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        print(user_line(name, password))
    except ValueError as exc:
        print(f"newsmon: {exc}", file=sys.stderr)
        return 2
    return 0


def _config(args: argparse.Namespace, settings: Settings) -> int:
    for name, value in settings.masked().items():
        print(f"{name}={value}")
    return 0


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    commands = {
        "silence": silencecmd.run_silence,
        "worker": _worker,
        "replay": _replay,
        "tag": _tag,
        "rules": _rules,
        "alerts": _alerts,
        "topics": _topics,
        "desk": _desk,
        "spikes": _spikes,
        "feedback": _feedback,
        "config": _config,
    }
    return commands[args.command](args, settings)


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from newsmon.replay import replay

    console = Console(stderr=True)
    summary = asyncio.run(
        replay(
            settings,
            args.paths,
            rate=args.rate,
            speedup=args.speedup,
            loop=args.loop,
            limit=args.limit,
            console=console,
        )
    )
    rate = summary.published / summary.seconds if summary.seconds else 0.0
    console.print(
        f"replayed {summary.published} articles to {settings.topic_prefix}news.articles "
        f"in {summary.seconds:.2f}s ({rate:.0f}/s); {summary.skipped} skipped"
    )
    return 0 if summary.skipped == 0 else 1
