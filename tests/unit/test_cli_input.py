"""The command line meets a user's mistakes: one line each, never a traceback.

Exit codes: 0 done, 1 some records bad (each named on stderr), 2 usage or configuration,
3 Kafka. Every case here ran into a Python traceback (or silently lost records) before
the file readers were rewritten; the broker address points nowhere, so a command that
reached Kafka would fail with exit 3 instead of the usage error expected.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsmon.sources import read_records
from tests.conftest import ROOT
from tests.integration.processes import run_newsmon

ENV = {
    "NEWSMON_SPACY_MODEL": "blank",
    "NEWSMON_NER": "false",
    "NEWSMON_KAFKA_BOOTSTRAP": "127.0.0.1:9",  # nothing listens: reaching Kafka is exit 3
    "PATH": "/usr/bin:/bin",
}
RULES = ROOT / "monitor" / "data" / "watchlists.yaml"
GOOD = json.dumps({"id": "g1", "title": "Truce agreed", "body": "The ceasefire holds."})
OTHER = json.dumps({"id": "g2", "title": "Cocoa prices", "body": "Showers in Bahia."})


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_newsmon({**ENV, **(env or {})}, *args)


def _ids(stdout: str) -> list[str]:
    return [json.loads(line)["id"] for line in stdout.splitlines()]


def _no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("tag", "missing.jsonl"),
        ("replay", "missing.jsonl"),
        ("rules", "test", str(RULES), "--against", "missing.jsonl"),
        ("rules", "validate", "missing.yaml"),
    ],
)
def test_a_missing_file_is_named_before_kafka_is_contacted(args: tuple[str, ...]) -> None:
    result = _run(*args)
    _no_traceback(result)
    assert result.returncode == 2
    assert "no such file or folder: missing." in result.stderr
    assert "Kafka" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("replay", "--limit", "-1", "seeds"), "--limit: must be at least 1"),
        (("replay", "--limit", "x", "seeds"), "--limit: not a whole number"),
        (("replay", "--rate", "0", "seeds"), "--rate: must be a number above 0"),
        (("alerts", "tail", "--severity", "urgent"), "--severity: invalid choice: 'urgent'"),
        (("alerts", "tail", "--max", "0"), "--max: must be at least 1"),
        (("rules", "test", str(RULES), "--against", "seeds", "--limit", "0"), "at least 1"),
    ],
)
def test_bad_arguments_are_usage_errors_before_kafka(args: tuple[str, ...], message: str) -> None:
    result = _run(*args)
    _no_traceback(result)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Kafka" not in result.stderr


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("newsmon 0.")


def test_a_line_that_is_not_utf8_is_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(f"{GOOD}\n".encode() + b'{"title": "\xff\xfe"}\n' + f"{OTHER}\n".encode())
    result = _run("tag", str(path))
    _no_traceback(result)
    assert result.returncode == 1
    assert f"{path}:2: bad_encoding: not UTF-8 at byte 11" in result.stderr
    assert _ids(result.stdout) == ["g1", "g2"]


def test_a_json_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes('{"title": "Café", "body": "b"}'.encode("latin-1"))
    result = _run("tag", str(path))
    _no_traceback(result)
    assert result.returncode == 1
    assert f"{path}: bad_encoding: not UTF-8 at byte 14" in result.stderr


@pytest.mark.parametrize("kind", ["mislabelled", "corrupt", "cut short"])
def test_gzip_problems_are_named_and_what_came_before_is_read(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "feed.jsonl.gz"
    packed = gzip.compress(f"{GOOD}\n{OTHER}\n".encode() + b"x" * 5000)
    if kind == "mislabelled":
        path.write_text(f"{GOOD}\n")
    elif kind == "corrupt":
        path.write_bytes(packed[:20] + bytes(b ^ 0x5A for b in packed[20:]))
    else:
        path.write_bytes(packed[: len(packed) - 12])
    result = _run("tag", str(path))
    _no_traceback(result)
    assert result.returncode == 1
    assert f"{path}: cannot read" in result.stderr
    assert "gzip" in result.stderr
    if kind == "cut short":
        assert "after line 2" in result.stderr
        assert _ids(result.stdout) == ["g1", "g2"]


def test_a_byte_order_mark_is_accepted_and_never_counted_in_offsets(tmp_path: Path) -> None:
    text = "Ceasefire agreed\n\nThe ceasefire holds along the front line."
    plain, marked = tmp_path / "plain.txt", tmp_path / "marked.txt"
    plain.write_text(text, encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + text.encode())
    lines = tmp_path / "marked.jsonl"
    lines.write_bytes(b"\xef\xbb\xbf" + f"{GOOD}\n".encode())
    results = [_run("tag", str(p)) for p in (plain, marked, lines)]
    for result in results:
        _no_traceback(result)
        assert result.returncode == 0, result.stderr
    first, second = (json.loads(r.stdout)["topics"] for r in results[:2])
    assert first == second  # the same evidence at the same offsets
    assert first[0]["evidence"][0]["start"] == 0
    assert _ids(results[2].stdout) == ["g1"]


def test_tag_refuses_what_the_stream_would_dead_letter_for_its_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    big = json.dumps({"id": "big", "title": "t", "body": "word " * 400})
    path.write_text(f"{GOOD}\n{big}\n")
    result = _run("tag", str(path), env={"NEWSMON_MAX_ARTICLE_BYTES": "1024"})
    _no_traceback(result)
    assert result.returncode == 1
    assert f"{path}:2: too_large: " in result.stderr
    assert "exceeds the limit of 1024" in result.stderr
    assert _ids(result.stdout) == ["g1"]


def test_rules_test_reports_bad_records_instead_of_dropping_them(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(f"{GOOD}\n{{broken\n")
    result = _run("rules", "test", str(RULES), "--against", str(path), "--json")
    _no_traceback(result)
    assert result.returncode == 1
    assert f"{path}:2: bad_json" in result.stderr
    assert [json.loads(line)["id"] for line in result.stdout.splitlines()] == ["g1"]


_NAMES = st.sampled_from(["a.jsonl", "a.json", "a.txt", "a.jsonl.gz"])
_LINES = st.lists(
    st.one_of(
        st.just(GOOD.encode()),
        st.just(b"\xef\xbb\xbf" + OTHER.encode()),
        st.binary(max_size=40),
        st.text(max_size=40).map(str.encode),
    ),
    max_size=6,
).map(b"\n".join)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=_NAMES, data=_LINES, gzipped=st.booleans(), cut=st.integers(0, 60))
def test_the_file_readers_raise_nothing_whatever_the_bytes(
    tmp_path: Path, name: str, data: bytes, gzipped: bool, cut: int
) -> None:
    path = tmp_path / name
    if name.endswith(".gz") and gzipped:
        packed = gzip.compress(data)
        data = packed[: max(0, len(packed) - cut)]
    path.write_bytes(data)
    for record in read_records([path], max_bytes=2_000):
        assert (record.article is None) != (record.problem == "")
        assert record.origin.startswith(str(path))
