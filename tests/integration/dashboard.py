"""The Grafana dashboard as data: its panels and their PromQL, runnable outside Grafana.

``dashboard_queries()`` gives every panel query with Grafana's variables resolved the way
a test against a live Prometheus needs them: ``$watchlist`` (All) is ``.*``,
``$__rate_interval`` is ``1m`` and ``$__interval`` is ``15s``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "newsmon.json"

#: Grafana variable -> the value used when a query runs outside Grafana.
VARIABLES = {"watchlist": ".*", "__rate_interval": "1m", "__interval": "15s"}

# $name, ${name} and ${name:format}; the longest names are tried first by the regex itself
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def load(path: Path | str = DASHBOARD) -> dict[str, Any]:
    """The dashboard JSON."""
    return dict(json.loads(Path(path).read_text(encoding="utf-8")))


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data: rows are skipped, panels inside collapsed rows kept."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def resolve(expr: str, variables: dict[str, str] = VARIABLES) -> str:
    """``expr`` with every known Grafana variable replaced; unknown ones are left as is."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return _VARIABLE.sub(value, expr)


def dashboard_queries(path: Path | str = DASHBOARD) -> list[tuple[str, str]]:
    """(panel title, resolved PromQL) for every target of every panel, in dashboard order."""
    return [
        (panel["title"], resolve(target["expr"]))
        for panel in panels(load(path))
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
