"""A worker whose assigned records stop moving is found out (and exits to be restarted)."""

from __future__ import annotations

import asyncio

from faust.types import TP

from agents.liveness import Progress, Rebalance, Serving, task_stacks

A0, A1 = TP("news.articles", 0), TP("news.articles", 1)


def test_pending_records_and_offsets_that_do_not_move_are_a_stall() -> None:
    progress = Progress(timeout=120)
    read, committed, ends = {A0: 9, A1: None}, {A0: 10, A1: None}, {A0: 25, A1: 0}
    assert not progress.stalled(0.0, {A0, A1}, read, committed, ends)
    assert not progress.stalled(119.0, {A0, A1}, read, committed, ends)
    assert progress.stalled(120.0, {A0, A1}, read, committed, ends)
    assert progress.describe(committed, ends) == (
        "no progress for 120 s with records pending: {'news.articles[0]': 15}"
    )


def test_moving_offsets_restart_the_clock() -> None:
    progress = Progress(timeout=120)
    ends = {A0: 25}
    progress.stalled(0.0, {A0}, {A0: 9}, {A0: 10}, ends)
    assert not progress.stalled(100.0, {A0}, {A0: 12}, {A0: 10}, ends)  # read on
    assert not progress.stalled(200.0, {A0}, {A0: 12}, {A0: 13}, ends)  # committed on
    assert progress.stalled(320.0, {A0}, {A0: 12}, {A0: 13}, ends)


def test_an_idle_worker_with_nothing_pending_is_not_stalled() -> None:
    progress = Progress(timeout=120)
    for now in (0.0, 500.0, 1000.0):
        assert not progress.stalled(now, {A0}, {A0: 24}, {A0: 25}, {A0: 25})


def test_a_rebalance_that_never_ends_is_a_stall() -> None:
    rebalance = Rebalance(timeout=60)
    assert not rebalance.stuck(0.0, busy=True)
    assert not rebalance.stuck(59.0, busy=True)
    assert rebalance.stuck(60.0, busy=True)
    assert rebalance.describe() == "rebalance or table recovery unfinished after 60 s"


def test_rebalances_with_work_between_them_are_not_a_stall() -> None:
    rebalance = Rebalance(timeout=60)
    for start in (0.0, 100.0, 200.0):
        assert not rebalance.stuck(start, busy=True)
        assert not rebalance.stuck(start + 50, busy=True)
        assert not rebalance.stuck(start + 55, busy=False)


def test_health_is_503_while_rebalancing_or_when_kafka_stops_answering() -> None:
    serving = Serving(stale_after=15)
    ok, facts = serving.report(100.0, rebalancing=False, partitions=3)
    assert (ok, facts["status"]) == (True, "ok")  # just assigned: not asked yet
    assert not serving.report(100.0, rebalancing=True, partitions=3)[0]
    serving.kafka_answered(100.0)
    serving.batch_at = 104.0
    ok, facts = serving.report(110.0, rebalancing=False, partitions=3)
    assert ok
    assert facts["kafka"] == {"last_answer_s_ago": 10.0, "error": None}
    assert facts["last_batch_s_ago"] == 6.0
    ok, facts = serving.report(116.0, rebalancing=False, partitions=3)  # no answer for 16 s
    assert (ok, facts["status"]) == (False, "kafka unreachable")
    serving.kafka_failed(TimeoutError("no answer in 5 s"))
    ok, facts = serving.report(101.0, rebalancing=False, partitions=3)
    assert (ok, facts["kafka"]["error"]) == (False, "TimeoutError: no answer in 5 s")
    # A standby (more workers than partitions) serves nothing and is healthy.
    ok, facts = serving.report(200.0, rebalancing=False, partitions=0)
    assert (ok, facts["status"]) == (True, "standby")
    serving.kafka_answered(201.0)
    assert serving.report(202.0, rebalancing=False, partitions=3)[0]


def test_a_stall_report_names_the_await_each_task_is_held_at() -> None:
    async def held(gate: asyncio.Event) -> None:
        await gate.wait()

    async def outer(gate: asyncio.Event) -> None:
        await held(gate)

    async def main() -> str:
        gate = asyncio.Event()
        task = asyncio.create_task(outer(gate), name="analyser")
        await asyncio.sleep(0)
        report = task_stacks([task])
        gate.set()
        await task
        return report

    report = asyncio.run(main())
    assert report.startswith("  analyser: outer (test_liveness.py:")
    assert "-> held (test_liveness.py:" in report
    assert "-> wait (locks.py:" in report
