"""Real processes for integration tests: a newsmon worker, Prometheus, kcat."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import free_port, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
NEWSMON = Path(sys.executable).parent / "newsmon"
KAFKA_SH = ROOT / "deploy" / "kafka" / "kafka.sh"
KAFKA_VERSION = (ROOT / "deploy" / "kafka" / "VERSION").read_text().strip()


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]
    log: Path

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"


def newsmon_env(bootstrap: str, prefix: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    env.update(
        NEWSMON_KAFKA_BOOTSTRAP=bootstrap,
        NEWSMON_TOPIC_PREFIX=prefix,
        NEWSMON_APP_ID=f"{prefix}app",
        NEWSMON_PARTITIONS="3",
        **extra,
    )
    return env


def quick_env(
    bootstrap: str, prefix: str, rules: Path | None = None, **extra: str
) -> dict[str, str]:
    """A worker's environment for a test of the stream's logic: the blank pipeline without
    NER, a 0.1-s batch window, and a rule file when given (the shipped watchlists if not)."""
    if rules is not None:
        extra = {"NEWSMON_RULES": str(rules), **extra}
    return newsmon_env(
        bootstrap,
        prefix,
        NEWSMON_SPACY_MODEL="blank",
        NEWSMON_NER="false",
        NEWSMON_BATCH_WINDOW="0.1",
        **extra,
    )


def get_json(url: str, timeout: float = 5) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for(
    predicate: Any, timeout: float, what: str | Callable[[], str], interval: float = 0.5
) -> Any:
    """Poll until ``predicate`` is truthy; ``what`` (or what it returns, at the end) names it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if result := predicate():
                return result
        except OSError:
            pass
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for {what if isinstance(what, str) else what()}"
    )


def start_worker(env: dict[str, str], port: int, workdir: Path, *, wait: bool = True) -> Worker:
    """Start `newsmon worker` (appending to its log) and, by default, wait until healthy."""
    log = workdir / f"worker-{port}.log"
    env = {**env, "NEWSMON_WEB_PORT": str(port), "NEWSMON_DATA_DIR": str(workdir / f"data-{port}")}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(NEWSMON), "worker"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    worker = Worker(process, port, env, log)
    if wait:
        wait_healthy(worker)
    return worker


def wait_healthy(worker: Worker, timeout: float = 120) -> None:
    url = f"http://127.0.0.1:{worker.port}/health"
    wait_for(
        lambda: (
            # 200 (serving, or a standby with no partitions); a 503 raises and is retried
            (worker.process.poll() is None and get_json(url)["status"] in ("ok", "standby"))
            or _died(worker)
        ),
        timeout,
        "the worker's health endpoint",
    )


def wait_owning(worker: Worker, timeout: float = 180) -> None:
    """Wait until the worker owns partitions (its /health ``partitions``), or has died."""
    url = f"http://127.0.0.1:{worker.port}/health"
    wait_for(
        lambda: (
            (worker.process.poll() is None and get_json(url)["partitions"] > 0) or _died(worker)
        ),
        timeout,
        "the worker to own partitions",
    )


@contextmanager
def running_worker(env: dict[str, str], port: int, workdir: Path) -> Iterator[Worker]:
    """A `newsmon worker` process; stopped with SIGTERM (and its exit status kept)."""
    worker = start_worker(env, port, workdir, wait=False)
    try:
        wait_healthy(worker)
        yield worker
    finally:
        stop(worker)


def _died(worker: Worker) -> bool:
    if worker.process.poll() is not None:
        raise AssertionError(f"worker exited: {worker.log.read_text()[-3000:]}")
    return False


def stop(worker: Worker, timeout: float = 60) -> int:
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()
    return worker.process.returncode


def supervise(workers: list[Worker], workdir: Path) -> None:
    """Restart the current worker if it exited with an error, as its supervisor would.

    A worker whose offsets stop moving exits non-zero (NEWSMON_STALL_TIMEOUT) to be
    restarted; the tests then still require every alert exactly once.
    """
    worker = workers[-1]
    code = worker.process.poll()
    if code not in (None, 0, -signal.SIGKILL):
        with worker.log.open("a") as log:
            log.write(f"[test] [WARNING] worker exited with {code}: {_RESTARTED}\n")
        workers.append(start_worker(worker.env, worker.port, workdir, wait=False))


_RESTARTED = "restarted by the test"


def harness_restarts(workers: list[Worker]) -> int:
    """How many times :func:`supervise` restarted one of these workers (from their logs)."""
    logs = dict.fromkeys(w.log for w in workers)
    return sum(log.read_text(errors="replace").count(_RESTARTED) for log in logs)


def warnings_in(workers: list[Worker], lines: int = 25) -> str:
    """The last warnings and errors the workers logged, to say why a wait failed."""
    found: list[str] = []
    for log in dict.fromkeys(w.log for w in workers):
        text = log.read_text(errors="replace").splitlines()
        found += [f"{log.name}: {line[:240]}" for line in text if _is_warning(line)]
    return "\n".join(found[-lines:])


def _is_warning(line: str) -> bool:
    return any(level in line for level in ("[WARNING]", "[ERROR]", "[CRITICAL]"))


def run_newsmon(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSMON), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kcat_read(bootstrap: str, topic: str, timeout: float = 20, fmt: str = "%s\n") -> list[str]:
    """Every message of a topic in kcat's format ``fmt`` (default: the value), read from
    the beginning by kcat (not our code)."""
    result = subprocess.run(
        [
            "kcat",
            "-b",
            bootstrap,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-q",
            "-X",
            "isolation.level=read_committed",
            "-f",
            fmt,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise OSError(result.stderr)
    return [line for line in result.stdout.splitlines() if line.strip()]


@contextmanager
def running_prometheus(
    targets: list[str], workdir: Path, port: int, rule_files: list[Path] = ()
) -> Iterator[str]:  # type: ignore[assignment]
    """Debian's prometheus scraping ``targets`` every second; yields its base URL."""
    config = workdir / "prometheus.yml"
    lines = ["global:", "  scrape_interval: 1s", "  evaluation_interval: 1s"]
    if rule_files:
        lines += ["rule_files:"] + [f"  - {path}" for path in rule_files]
    lines += [
        "scrape_configs:",
        "  - job_name: newsmon",
        "    static_configs:",
        f"      - targets: {json.dumps(targets)}",
    ]
    config.write_text("\n".join(lines) + "\n")
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url), 60, "prometheus")
        yield url
    finally:
        process.terminate()
        process.wait(30)
        log.close()


def _ready(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as response:
        return bool(response.status == 200)


def prom_query(url: str, query: str) -> list[Any]:
    from urllib.parse import quote

    data = get_json(f"{url}/api/v1/query?query={quote(query)}")
    assert data["status"] == "success", data
    return list(data["data"]["result"])


def own_kafka_env(state: Path, **extra: str) -> dict[str, str]:
    """kafka.sh's environment for a broker (or cluster) of a test's own, in ``state``;
    the jars are the main broker's. Fails under CI=true (skips elsewhere) without Java."""
    if shutil.which("java") is None:
        skip_or_fail("java is not installed")
    return {
        **os.environ,
        "KAFKA_STATE_DIR": str(state),
        "KAFKA_LIB_DIR": str(ROOT / ".kafka" / f"lib-{KAFKA_VERSION}"),
        **extra,
    }


def kafka_sh(env: dict[str, str], *args: str) -> None:
    """Run deploy/kafka/kafka.sh with ``args``; it must succeed."""
    result = subprocess.run(
        ["bash", str(KAFKA_SH), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@contextmanager
def running_desk(env: dict[str, str], workdir: Path) -> Iterator[str]:
    port = free_port()
    log = workdir / f"desk-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(NEWSMON), "desk"],
            env={**env, "NEWSMON_DESK_PORT": str(port)},
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: _desk_up(f"{base}/health") or _desk_exited(process, log),
            60,
            "the desk to load the topics",
        )
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def _desk_up(url: str) -> bool:
    try:
        return bool(get_json(url)["status"] == "ok")
    except (OSError, ValueError):
        return False


def _desk_exited(process: subprocess.Popen[bytes], log: Path) -> bool:
    if process.poll() is not None:
        raise AssertionError(f"desk exited: {log.read_text()[-3000:]}")
    return False
