"""A batch's story-table writes: one changelog record per key, pending marks first."""

from __future__ import annotations

from agents.batchwrites import BatchWrites
from tests.agents.fakes import ChangelogTable, events


def test_reads_see_the_batch_writes_before_the_table_does() -> None:
    table = ChangelogTable()
    table["r|a"] = 1
    writes = BatchWrites(table)
    writes.event = events(b"{}", topic="news.candidates")[0]
    writes["r|a"], writes["r|b"] = 2, 3
    del writes["r|a"]
    assert (writes.get("r|a"), writes.get("r|b"), table.get("r|b")) == (None, 3, None)
    writes.apply()
    assert dict(table) == {"r|b": 3}


def test_each_key_is_written_once_and_pending_marks_go_first() -> None:
    table = ChangelogTable()
    writes = BatchWrites(table)
    writes.event = events(b"{}", topic="news.candidates")[0]
    writes["r|0:00a"] = ["story"]
    writes["r|pending"] = {"a1": {}}
    writes["r|0:00a"] = ["story", "other"]
    writes["r|pending"] = {"a1": {}, "a2": {}}
    writes.apply()
    assert table.changelog == [
        ("r|pending", {"a1": {}, "a2": {}}),
        ("r|0:00a", ["story", "other"]),
    ]
