"""The command line without a broker: tag, rules validate/test, config show, bad settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, SEED

NEWSMON = Path(sys.executable).parent / "newsmon"
BLANK = {"NEWSMON_SPACY_MODEL": "blank", "NEWSMON_NER": "false", "PATH": "/usr/bin:/bin"}


def _run(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSMON), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**BLANK, **(env or {})},
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_tag_reports_bad_records_with_their_line_and_tags_the_rest() -> None:
    lines = "\n".join(
        [
            json.dumps(
                {"id": "a1", "title": "Truce agreed", "body": "The ceasefire holds in Gaza."}
            ),
            "{not json",
            json.dumps({"id": "a3", "title": 7}),
            json.dumps({"id": "a4", "title": "Cocoa prices", "body": "Showers in Bahia."}),
        ]
    )
    result = _run("tag", "-", stdin=lines)
    assert result.returncode == 1
    assert "<stdin>:2: bad_json" in result.stderr
    assert "<stdin>:3: schema:title" in result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in records] == ["a1", "a4"]
    assert [t["name"] for t in records[0]["topics"]] == ["ceasefire"]
    assert records[1]["topics"] == []


def test_tag_reads_text_files_and_exits_zero_when_all_are_good(tagged_schema: object) -> None:
    result = _run("tag", str(SEED))
    assert result.returncode == 0, result.stderr
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    tagged_schema.validate({**record})  # type: ignore[attr-defined]
    assert {t["name"] for t in record["topics"]} == {"air_defence", "coalition"}
    for topic in record["topics"]:
        for evidence in topic["evidence"]:
            assert evidence["end"] > evidence["start"]


def test_rules_validate_points_at_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "watchlists:\n  - name: w\n    rules:\n      - id: r\n        query: '(truce AND'\n"
    )
    result = _run("rules", "validate", str(bad))
    assert result.returncode == 2
    assert f"{bad}:5:" in result.stderr
    assert "rule 'r'" in result.stderr
    assert "^" in result.stderr
    good = _run("rules", "validate", str(ROOT / "monitor" / "data" / "watchlists.yaml"))
    assert good.returncode == 0
    assert "OK: 5 rules in 3 watchlists" in good.stdout


def test_rules_test_backtests_files_offline(tmp_path: Path) -> None:
    result = _run(
        "rules",
        "test",
        str(ROOT / "monitor" / "data" / "watchlists.yaml"),
        "--against",
        str(SEED),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert "us-air-defence-pause" in {m["rule_id"] for m in line["matches"]}


def test_bad_setting_stops_with_the_variable_name() -> None:
    result = _run("config", "show", env={"NEWSMON_BATCH_SIZE": "lots"})
    assert result.returncode == 2
    assert "NEWSMON_BATCH_SIZE" in result.stderr


def test_config_show_masks_the_password() -> None:
    env = {
        "NEWSMON_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "NEWSMON_KAFKA_SASL_USERNAME": "u",
        "NEWSMON_KAFKA_SASL_PASSWORD": "s3cret-pw",
    }
    result = _run("config", "show", env=env)
    assert result.returncode == 0
    assert "NEWSMON_KAFKA_SASL_PASSWORD=********" in result.stdout
    assert "s3cret-pw" not in result.stdout + result.stderr


def test_rules_test_diff_reports_alerts_gained_and_lost(tmp_path: Path) -> None:
    default = (ROOT / "monitor" / "data" / "watchlists.yaml").read_text()
    changed = tmp_path / "rules.yaml"
    changed.write_text(default.replace("id: coalition-summit", "id: coalition-summit-v2"))
    # No broker on this port: the deployed set is the NEWSMON_RULES file.
    env = {"NEWSMON_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    result = _run("rules", "test", str(changed), "--against", str(SEED), "--diff", env=env)
    assert result.returncode == 0, result.stderr
    assert "comparing with" in result.stderr
    lines = [line for line in result.stdout.splitlines() if "coalition-summit" in line]
    assert any("coalition-summit-v2" in line and "│ 1 " in line for line in lines), result.stdout
    assert any("coalition-summit " in line for line in lines), result.stdout


def test_replay_takes_a_rate_or_a_speedup_not_both() -> None:
    result = _run("replay", str(SEED), "--rate", "5", "--speedup", "60")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr
    assert "Traceback" not in result.stderr
