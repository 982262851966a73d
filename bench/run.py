"""``make bench``: the whole pipeline through the real broker, next to references.

Usage: ``.venv/bin/python bench/run.py [--quick] [--no-kafka] [--bootstrap HOST:PORT]``

Measures in one run, on the same articles: spaCy references (blank tokenizer, ``nlp.pipe``
with newsmon's NER pipeline), a raw aiokafka pass-through, newsmon offline (NER off/on),
newsmon end to end through worker processes (NER off/on, one and two workers), alert
freshness at half the sustained rate, rule scaling (10 / 1,000 / 10,000 rules) and
worker peak RSS. Writes ``bench/results/latest.json`` and ``latest.md``. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import broker  # noqa: E402 - the repository root and bench/ go on sys.path first
import endtoend  # noqa: E402
import faust_floor  # noqa: E402
import offline  # noqa: E402
import report  # noqa: E402
from environment import environment  # noqa: E402
from sample import Sample, load_sample, rule_file  # noqa: E402

from monitor.text.article import encode_article  # noqa: E402


@dataclass(frozen=True)
class Mode:
    name: str
    timed: int
    warm: int
    fresh: int
    repeats: int
    fresh_seconds: float
    scale_out: tuple[str, ...]  # models run with two workers
    e2e_repeats: int  # one-worker end-to-end runs per model, each after an offline pass


QUICK = Mode("quick", 300, 60, 600, 5, 20, ("en_core_web_sm",), 3)
FULL = Mode("full", 2000, 200, 4000, 5, 60, ("en_core_web_sm", "blank"), 5)
LABELS = {"blank": "blank", "en_core_web_sm": "ner"}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def passthrough(bootstrap: str, prefix: str, sample: Sample, repeats: int) -> dict[str, Any]:
    source, sink = f"{prefix}raw.in", f"{prefix}raw.out"
    messages = [(a.id.encode(), encode_article(a)) for a in sample.timed]
    asyncio.run(broker.create(bootstrap, [source, sink], partitions=6))
    asyncio.run(broker.produce(bootstrap, source, messages))
    rates = [
        asyncio.run(broker.pass_through(bootstrap, source, sink, len(messages)))
        for _ in range(repeats)
    ]
    return {"messages": len(messages), "msgs_per_s": sorted(rates)[len(rates) // 2]}


def floor_part(
    args: argparse.Namespace, prefix: str, sample: Sample, workdir: Path, offline_per_cpu_s: float
) -> dict[str, Any]:
    """Faust's floor under a worker of this shape, and the end-to-end ratio it allows."""
    log("Faust floor: a worker-shaped Faust app that does nothing, 3 runs")
    settings = {
        "FLOOR_BATCH_SIZE": str(endtoend.DEFAULT_SETTINGS.batch_size),
        "FLOOR_BATCH_WINDOW": str(endtoend.DEFAULT_SETTINGS.batch_window),
        "FLOOR_LINGER": str(endtoend.DEFAULT_SETTINGS.producer_linger),
    }
    runs = [
        faust_floor.floor(
            args.bootstrap,
            f"{prefix}floor{n}.",
            sample,
            workdir,
            env=settings,
            keep_topics=args.keep_topics,
        )
        for n in range(3)
    ]
    median = sorted(runs, key=lambda r: r["per_cpu_s"])[1]
    bound = faust_floor.bound(offline_per_cpu_s, median["per_cpu_s"])
    log(
        f"  {median['per_s']:.0f} articles/s, {median['per_cpu_s']:.0f} per CPU second; "
        f"end to end / offline (NER off) cannot pass {bound:.2f} on one core"
    )
    return {
        **median,
        "runs_per_cpu_s": [round(r["per_cpu_s"]) for r in runs],
        "offline_blank_per_cpu_s": offline_per_cpu_s,
        "bound_blank_vs_offline": bound,
    }


def rules_end_to_end(
    args: argparse.Namespace,
    mode: Mode,
    sample: Sample,
    *,
    prefix: str,
    workdir: Path,
    rules: Path,
) -> dict[str, Any]:
    """One NER-off worker with 10,000 generated rules against one with 10, in alternated
    pairs (as many as the one-worker runs), each pair judged by its own ratio."""
    log(f"end to end, blank, one worker, 10,000 rules against 10, {mode.e2e_repeats} pairs")
    many = rule_file(workdir / "rules-10000.yaml", generated=10_000)
    pairs = []
    for repeat in range(mode.e2e_repeats):
        order = [("10", rules), ("10000", many)]
        runs = {}
        for name, path in order if repeat % 2 == 0 else order[::-1]:
            run = endtoend.Run(
                args.bootstrap,
                f"{prefix}rules{name}r{repeat}.",
                "blank",
                1,
                path,
                workdir,
                args.keep_topics,
            )
            runs[name] = endtoend.throughput(run, sample.warm, sample.timed)
        pairs.append((runs["10000"], runs["10"]))
        log(
            f"  {runs['10000']['alerted_per_s']:.1f} against {runs['10']['alerted_per_s']:.1f} "
            f"articles/s ({runs['10000']['tagged_per_s']:.1f} against "
            f"{runs['10']['tagged_per_s']:.1f} tagged per second)"
        )
    return endtoend.rules_summary(pairs)


def kafka_part(
    args: argparse.Namespace, mode: Mode, sample: Sample, results: dict[str, Any]
) -> None:
    prefix = f"bench-{os.getpid()}-{int(time.time())}."
    workdir = Path(tempfile.mkdtemp(prefix="newsmon-bench-"))
    # The broad rule plus 10 generated ones (also the 10-rule side of the rule scaling).
    rules = rule_file(workdir / "bench-rules.yaml", generated=10)
    keep = args.keep_topics
    try:
        log("raw aiokafka pass-through")
        results["passthrough"] = passthrough(args.bootstrap, prefix, sample, mode.repeats)
        e2e: dict[str, Any] = {}
        memory: dict[str, float] = {}
        results["end_to_end"], results["memory"] = e2e, memory
        for model, label in LABELS.items():
            log(f"end to end, {label}, one worker, {mode.e2e_repeats} runs after offline passes")
            offline_pass = offline.offline_pass(model, sample.timed, sample.warm)
            repeats = []
            for repeat in range(mode.e2e_repeats):
                reference = offline_pass()
                run = endtoend.Run(
                    args.bootstrap, f"{prefix}{label}1r{repeat}.", model, 1, rules, workdir, keep
                )
                result = endtoend.throughput(run, sample.warm, sample.timed)
                repeats.append((result, reference))
                log(
                    f"  {result['alerted_per_s']:.1f} articles/s, "
                    f"{result['alerted_per_cpu_s']:.1f} per worker CPU second "
                    f"(offline {reference['per_s']:.1f}, {reference['per_cpu_s']:.1f})"
                )
            e2e[label], e2e[f"{label}_vs_offline"] = endtoend.paired_summary(repeats)
            memory[label] = max(max(r["peak_rss_mib"]) for r, _ in repeats)
            if model == "blank":
                offline_cpu = sorted(ref["per_cpu_s"] for _, ref in repeats)[len(repeats) // 2]
                results["faust_floor"] = floor_part(args, prefix, sample, workdir, offline_cpu)
        for model in mode.scale_out:
            label = LABELS[model]
            log(f"end to end, {label}, two workers, {mode.e2e_repeats} runs")
            runs = []
            for repeat in range(mode.e2e_repeats):
                run = endtoend.Run(
                    args.bootstrap, f"{prefix}{label}2r{repeat}.", model, 2, rules, workdir, keep
                )
                two = endtoend.throughput(run, sample.warm, sample.timed)
                runs.append(two)
                log(
                    f"  {two['alerted_per_s']:.1f} articles/s, "
                    f"{two['alerted_per_cpu_s']:.1f} per worker CPU second, "
                    f"candidates per partition {two['candidates_per_partition']}"
                )
            # The median run by articles per worker CPU second stands for the setting.
            median = sorted(runs, key=lambda r: r["alerted_per_cpu_s"])[len(runs) // 2]
            median["runs_per_cpu_s"] = [round(r["alerted_per_cpu_s"], 1) for r in runs]
            e2e[f"{label}_2workers"] = median
        results["rules_end_to_end"] = rules_end_to_end(
            args, mode, sample, prefix=prefix, workdir=workdir, rules=rules
        )
        # Freshness at half the one-worker rate of the keyword path (NER off).
        label = "blank"
        rate = e2e[label]["alerted_per_s"] / 2
        log(f"freshness, {label}, {rate:.1f} articles/s")
        run = endtoend.Run(args.bootstrap, f"{prefix}{label}f.", "blank", 1, rules, workdir, keep)
        results["freshness"] = {
            "mode": label,
            **endtoend.freshness(run, sample.warm, sample.fresh, rate, mode.fresh_seconds),
        }
    finally:
        if not args.keep_topics:
            asyncio.run(broker.delete_prefixed(args.bootstrap, prefix))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="newsmon benchmark (see bench/README.md)")
    parser.add_argument("--quick", action="store_true", help="small sizes, < 5 minutes")
    parser.add_argument("--no-kafka", action="store_true", help="offline measurements only")
    parser.add_argument(
        "--bootstrap", default=os.environ.get("NEWSMON_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--keep-topics", action="store_true", help="do not delete bench topics")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    started = time.monotonic()
    sample = load_sample(mode.timed, mode.warm, mode.fresh)
    results: dict[str, Any] = {
        "mode": mode.name,
        "environment": environment(),
        "repeats": mode.repeats,
        "sample": {
            "origin": sample.origin,
            "timed": len(sample.timed),
            "mean_chars": sample.mean_chars,
        },
    }
    log(f"{len(sample.timed)} articles ({sample.origin}); offline tagging")
    results["offline"] = offline.tagging_rates(sample.timed, sample.warm, mode.repeats)
    log(f"  {results['offline']}")
    log("rule scaling")
    results["rules"] = offline.rule_scaling(sample.timed, mode.repeats)
    if not args.no_kafka:
        kafka_part(args, mode, sample, results)
    results["targets"] = report.targets(results)
    results["seconds"] = round(time.monotonic() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "latest.md").write_text(report.markdown(results))
    print(report.markdown(results))
    log(f"done in {results['seconds']:.0f} s; {args.out / 'latest.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
