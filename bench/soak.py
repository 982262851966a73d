"""Soak run: a worker under a steady article rate for a long time; RSS at start and end.

    .venv/bin/python bench/soak.py --minutes 30 --rate 10

Replays real articles from ../shared/corpus (or the seeds) in a loop through the real
broker into one worker (the configured spaCy pipeline, NER on), samples the worker's
resident memory every 30 s and writes bench/results/soak.json. Story state is bounded
by the dedupe window, so RSS should level off rather than grow with the run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "news_articles.jsonl.gz"
NEWSMON = Path(sys.executable).parent / "newsmon"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def feed(path: Path, limit: int) -> Path:
    records = []
    if CORPUS.exists():
        with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                if record["title"] or record["text"]:
                    records.append(record)
                if len(records) >= limit:
                    break
    else:
        records = [{"title": p.stem, "body": p.read_text()} for p in (ROOT / "seeds").glob("*.txt")]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--port", type=int, default=6099)
    parser.add_argument("--articles", type=int, default=5000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="newsmon-soak-"))
    prefix = f"soak{int(time.time())}."
    env = {
        "PATH": "/usr/bin:/bin",
        "NEWSMON_TOPIC_PREFIX": prefix,
        "NEWSMON_APP_ID": prefix + "app",
        "NEWSMON_WEB_PORT": str(args.port),
        "NEWSMON_DATA_DIR": str(work / "data"),
        "NEWSMON_LOG_LEVEL": "WARNING",
    }
    log = (work / "worker.log").open("wb")
    worker = subprocess.Popen(
        [str(NEWSMON), "worker"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
    )
    while not healthy(args.port):
        if worker.poll() is not None:
            print((work / "worker.log").read_text()[-2000:])
            return 1
        time.sleep(1)
    replay = subprocess.Popen(
        [
            str(NEWSMON),
            "replay",
            str(feed(work / "feed.jsonl", args.articles)),
            "--rate",
            str(args.rate),
            "--loop",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started, samples = time.monotonic(), []
    try:
        while (elapsed := time.monotonic() - started) < args.minutes * 60:
            samples.append({"seconds": round(elapsed), "rss_mib": round(rss_mib(worker.pid), 1)})
            print(f"{elapsed / 60:5.1f} min  RSS {samples[-1]['rss_mib']} MiB", flush=True)
            time.sleep(30)
        samples.append(
            {"seconds": round(time.monotonic() - started), "rss_mib": round(rss_mib(worker.pid), 1)}
        )
    finally:
        replay.terminate()
        try:
            replay.wait(30)
        except subprocess.TimeoutExpired:
            replay.kill()
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    warm = next((s for s in samples if s["seconds"] >= 60), samples[0])
    result = {
        "minutes": args.minutes,
        "rate": args.rate,
        "rss_start_mib": warm["rss_mib"],
        "rss_end_mib": samples[-1]["rss_mib"],
        "rss_max_mib": max(s["rss_mib"] for s in samples),
        "worker_exit": code,
        "samples": samples,
    }
    out = ROOT / "bench" / "results" / "soak.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
