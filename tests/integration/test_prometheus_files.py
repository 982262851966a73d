"""The Prometheus and Grafana files in deploy/, checked by the real promtool.

promtool comes with Debian's ``prometheus`` package. Without it these tests skip, except
under CI=true, where a missing promtool is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from agents.metrics import Metrics
from tests.integration.dashboard import DASHBOARD, ROOT, dashboard_queries, load, panels

PROMETHEUS = ROOT / "deploy" / "prometheus"
CONFIGS = [PROMETHEUS / "prometheus.yml", PROMETHEUS / "prometheus.local.yml"]
RULES = PROMETHEUS / "rules" / "newsmon.rules.yml"
RULE_TESTS = PROMETHEUS / "tests" / "newsmon.rules.test.yml"
RUNBOOK = ROOT / "docs" / "operations.md"
ALERTS = {
    "NewsmonWorkerDown",
    "NewsmonConsumerLagGrowing",
    "NewsmonDeadLetterRatioHigh",
    "NewsmonNoArticles",
    "NewsmonFreshnessP99High",
}
ROWS = ["Throughput", "Alerts", "Stories", "Freshness", "Latency", "Errors", "Kafka", "Rules"]
UNITS = {"s", "ops", "short", "percentunit"}
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool is missing under CI=true (apt-get install prometheus)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _alerts() -> list[dict[str, Any]]:
    return [rule for group in _yaml(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


# ------------------------------------------------------------------ promtool


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_passes_promtool(promtool: str, config: Path) -> None:
    result = _run(promtool, "check", "config", config)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rules_pass_promtool(promtool: str) -> None:
    result = _run(promtool, "check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass(promtool: str) -> None:
    result = _run(promtool, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_dashboard_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query:{i}", "expr": expr}
                    for i, (_, expr) in enumerate(dashboard_queries())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard.rules.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = _run(promtool, "check", "rules", path)
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------- config and rule files


def test_both_configs_scrape_the_workers_every_5s_with_the_same_rules() -> None:
    compose, local = (_yaml(path) for path in CONFIGS)
    for config in (compose, local):
        assert config["global"]["scrape_interval"] == "5s"
        assert config["rule_files"] == ["rules/newsmon.rules.yml"]
    job = next(j for j in compose["scrape_configs"] if j["job_name"] == "newsmon")
    assert job["dns_sd_configs"] == [
        {"names": ["worker"], "type": "A", "port": 6066, "refresh_interval": "15s"}
    ]
    job = next(j for j in local["scrape_configs"] if j["job_name"] == "newsmon")
    assert job["static_configs"] == [{"targets": ["127.0.0.1:6066"]}]


def test_the_alerts_are_labelled_annotated_and_have_a_runbook_section() -> None:
    alerts = _alerts()
    assert {a["alert"] for a in alerts} == ALERTS
    headings = set(re.findall(r"^#+\s+(\S+)\s*$", RUNBOOK.read_text(encoding="utf-8"), re.M))
    for alert in alerts:
        assert alert["labels"]["severity"] in {"critical", "warning"}, alert["alert"]
        notes = alert["annotations"]
        assert notes["summary"], alert["alert"]
        assert notes["description"], alert["alert"]
        assert notes["runbook"] == f"docs/operations.md#{alert['alert'].lower()}"
        assert alert["alert"] in headings, f"no runbook section for {alert['alert']}"


def test_every_alert_is_tested_firing_and_silent() -> None:
    cases = [
        case for test in _yaml(RULE_TESTS)["tests"] for case in test.get("alert_rule_test", [])
    ]
    for name in ALERTS:
        expected = [case["exp_alerts"] for case in cases if case["alertname"] == name]
        assert any(expected), f"{name} is never tested firing"
        assert not all(expected), f"{name} is never tested silent"


def _exported_names() -> set[str]:
    """Every sample name a worker can export: newsmon's catalogue, Faust's sensor, ``up``."""
    registry = CollectorRegistry()
    Metrics(registry)
    FaustMetrics.create(registry, "newsmon")
    families: list[Metric] = list(registry.collect())
    return {"up"} | {
        family.name + suffix for family in families for suffix in _SUFFIXES[family.type]
    }


def _raw_metric_names(expr: str) -> set[str]:
    return set(re.findall(r"(?<![\w:])(newsmon_\w+)", expr))


def test_rules_and_panels_use_only_metrics_the_worker_exports() -> None:
    exprs = [rule["expr"] for group in _yaml(RULES)["groups"] for rule in group["rules"]]
    exprs += [expr for _, expr in dashboard_queries()]
    used = set().union(*(_raw_metric_names(expr) for expr in exprs))
    assert used, "no metric found in the expressions"
    assert used <= _exported_names(), used - _exported_names()


# ------------------------------------------------------------------ dashboard


def test_dashboard_identity_rows_and_watchlist_variable() -> None:
    dashboard = load()
    assert dashboard["uid"] == "newsmon"
    assert dashboard["schemaVersion"] >= 39
    rows = [p["title"] for p in dashboard["panels"] if p["type"] == "row"]
    assert rows == ROWS
    variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "watchlist")
    assert variable["includeAll"] is True
    assert variable["allValue"] == ".*"
    assert variable["definition"] == "label_values(newsmon_alerts_raised_total, watchlist)"
    assert variable["datasource"]["uid"] == "prometheus"


@pytest.mark.parametrize("panel", list(panels(load())), ids=lambda p: p["title"])
def test_every_panel_is_described_with_unit_datasource_and_query(panel: dict[str, Any]) -> None:
    assert panel.get("description", "").strip(), "no description"
    assert panel["fieldConfig"]["defaults"].get("unit") in UNITS
    assert panel["datasource"]["uid"] == "prometheus"
    targets = panel.get("targets", [])
    assert targets, "no target"
    assert all(t.get("expr", "").strip() for t in targets), "a target without expr"
    assert all(t["datasource"]["uid"] == "prometheus" for t in targets)


def test_panels_do_not_overlap() -> None:
    cells: set[tuple[int, int]] = set()
    for panel in load()["panels"]:
        box = panel["gridPos"]
        area = {
            (x, y)
            for x in range(box["x"], box["x"] + box["w"])
            for y in range(box["y"], box["y"] + box["h"])
        }
        assert not cells & area, panel["title"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        cells |= area


def test_dashboard_queries_resolve_every_variable() -> None:
    queries = dashboard_queries(DASHBOARD)
    assert len(queries) >= len(list(panels(load())))
    for title, expr in queries:
        assert "$" not in expr, f"{title}: unresolved variable in {expr}"
    watchlist = [expr for title, expr in queries if title.startswith("Alerts raised")]
    assert watchlist
    assert all('watchlist=~".*"' in expr and "[1m]" in expr for expr in watchlist)
