"""A batch's writes to the notifier's story table, held back and written once per key.

Faust sends a changelog record for every write to a table. Deciding a batch writes a
rule's pending mark once per alert and its band keys once per candidate; holding the
writes back until the batch is decided sends each key once, in an order that keeps the
notifier's guarantee: every pending mark before any story it covers.
"""

from __future__ import annotations

from typing import Any

from agents.internals import act_for

PENDING = "pending"
_DELETED = object()


class BatchWrites:
    """The table as this batch sees it: reads find the batch's own writes first.

    Keys are ``<watchlist>/<rule id>|<name>``; every candidate of a rule comes from one
    partition, so a key is written on behalf of the event that last wrote it.
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self.event: Any = None  # the candidate being decided: whose partition writes go to
        self._changed: dict[str, tuple[Any, Any]] = {}

    def get(self, key: str) -> Any:
        if key not in self._changed:
            return self.table.get(key)
        value = self._changed[key][0]
        return None if value is _DELETED else value

    def __setitem__(self, key: str, value: Any) -> None:
        self._changed[key] = (value, self.event)

    def __delitem__(self, key: str) -> None:
        self._changed[key] = (_DELETED, self.event)

    def apply(self) -> None:
        """Write each changed key once to the table: pending marks first."""
        marks_first = sorted(self._changed.items(), key=lambda item: not _is_mark(item[0]))
        for key, (value, event) in marks_first:
            act_for(event)  # Faust finds a write's changelog partition from it
            if value is not _DELETED:
                self.table[key] = value
            elif self.table.get(key) is not None:
                del self.table[key]
        self._changed.clear()


def _is_mark(key: str) -> bool:
    return key.rpartition("|")[2] == PENDING
