"""``newsmon worker`` processes for the benchmark: start, wait until consuming, peak RSS."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEWSMON = Path(sys.executable).parent / "newsmon"


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def get(self, path: str) -> bytes:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            body: bytes = response.read()
            return body

    def healthy(self) -> bool:
        try:
            return bool(json.loads(self.get("/health"))["status"] in ("ok", "standby"))
        except OSError:
            return False

    def received(self) -> float:
        """``newsmon_articles_received_total`` from the worker's /metrics."""
        for line in self.get("/metrics").decode().splitlines():
            if line.startswith("newsmon_articles_received_total "):
                return float(line.split()[1])
        return 0.0

    def cpu_seconds(self) -> float:
        """User + system CPU time the worker process has used so far."""
        return cpu_seconds(self.process.pid)

    def peak_rss_mib(self) -> float:
        """VmHWM of the worker process: its peak resident set so far."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def newsmon_env(bootstrap: str, prefix: str, model: str, rules: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSMON_")}
    env.update(
        NEWSMON_KAFKA_BOOTSTRAP=bootstrap,
        NEWSMON_TOPIC_PREFIX=prefix,
        NEWSMON_APP_ID=f"{prefix}app",
        NEWSMON_SPACY_MODEL=model,
        NEWSMON_RULES=str(rules),
        NEWSMON_LOG_LEVEL="WARNING",
    )
    return env


def wait_for(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def running_workers(env: dict[str, str], workdir: Path, count: int = 1) -> Iterator[list[Worker]]:
    """``count`` workers in one consumer group, each with its own port and state dir."""
    workers: list[Worker] = []
    try:
        for _ in range(count):
            port = free_port()
            log = workdir / f"worker-{port}.log"
            data = workdir / f"data-{port}"
            own = {**env, "NEWSMON_WEB_PORT": str(port), "NEWSMON_DATA_DIR": str(data)}
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [str(NEWSMON), "worker"], env=own, cwd=ROOT, stdout=out, stderr=out
                )
            worker = Worker(process, port, log)
            workers.append(worker)
            wait_for(lambda w=worker: _alive(w) and w.healthy(), 180, f"worker on {port}")
        yield workers
    finally:
        for worker in workers:
            stop(worker)


def _alive(worker: Worker) -> bool:
    if worker.process.poll() is not None:
        raise RuntimeError(f"worker exited: {worker.log.read_text()[-3000:]}")
    return True


def stop(worker: Worker, timeout: float = 60) -> None:
    if worker.process.poll() is None:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(timeout)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


def replay(env: dict[str, str], path: Path, rate: float | None = None) -> None:
    """``newsmon replay`` of a JSON-lines file (as fast as possible unless ``rate``)."""
    args = [str(NEWSMON), "replay", str(path)]
    if rate:
        args += ["--rate", f"{rate:.2f}"]
    result = subprocess.run(
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"replay failed: {result.stderr[-2000:]}")
