"""Work on the event loop gives way every few milliseconds, and the store's statements on it stay short."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event

from hub import cooperative
from hub.domain.facts import CaseEffect, CaseUpdate, Outcome
from hub.ops.scheduler import Sweep
from hub.store import Store, database
from hub.store.tables import person_links
from schemas.events import AlertRaised


async def test_the_loop_gets_a_turn_once_a_slice_has_run(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(cooperative, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(cooperative, "_since", 100.0)
    others: list[str] = []
    asyncio.get_running_loop().call_soon(others.append, "served")

    clock[0] += cooperative.SLICE_SECONDS / 2
    await cooperative.share_the_loop()
    assert others == [], "within its slice a task keeps the loop"
    clock[0] += cooperative.SLICE_SECONDS
    await cooperative.share_the_loop()
    assert others == ["served"], "past its slice it gives way"


def _effect(n: int) -> CaseEffect:
    return CaseEffect(
        event_id=f"e-{n}",
        topic="ehc.assessment-requests.v1",
        event_type="uk.ehc-hub.assessment-requested.v1",
        occurred_at=datetime(2026, 3, 2, tzinfo=UTC),
        source="/la/202",
        correlation_id=f"e-{n}",
        causation_id=None,
        case_id=f"C-{n}",
        la_code="202",
        received_date=date(2026, 1, 5),
        stage_rank=1,
        outcome=Outcome(case=CaseUpdate(year_group=6)),
    )


async def test_a_large_apply_is_written_in_short_statements_with_the_loop_served_between(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    await store.create_schema()
    sizes: list[int] = []
    turns = 0

    def count_rows(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        sizes.append(len(parameters) if executemany else 1)

    async def other_work() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    try:
        assert store.db._inline_writer is not None
        event.listen(store.db._inline_writer, "before_cursor_execute", count_rows)
        ticker = asyncio.ensure_future(other_work())
        await asyncio.sleep(0)
        before = turns
        assert await store.apply([_effect(n) for n in range(2_000)]) == 2_000
        during = turns - before
        ticker.cancel()
        assert max(sizes) <= database.INLINE_ROWS, max(sizes)
        assert during > 1, "the loop served other work while 2,000 effects were written"
        assert (await store.counts())["cases"] == 2_000
    finally:
        await store.close()


async def test_reading_who_an_identifier_points_at_uses_the_index(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    await store.create_schema()
    plans: list[str] = []

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if "person_links" in statement and statement.lstrip().upper().startswith("SELECT"):
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            plans.extend(str(r[-1]) for r in rows)

    try:
        rows = [
            {"id_type": kind, "id_value": f"{kind}-{n}", "person_key": f"p-{n}"}
            for n in range(300)
            for kind in ("nhs", "upn")
        ]
        async with store.db.begin() as conn:
            await conn.execute(person_links.insert(), rows)
        assert store.db._inline is not None
        event.listen(store.db._inline, "before_cursor_execute", explain)
        known, types = await store.identity_context([("nhs", "nhs-7"), ("upn", "upn-7"), ("upn", "upn-9")])
        assert known == {("nhs", "nhs-7"): "p-7", ("upn", "upn-7"): "p-7", ("upn", "upn-9"): "p-9"}
        assert types == {"p-7": {"nhs", "upn"}, "p-9": {"nhs", "upn"}}
        assert plans and not [p for p in plans if p.startswith("SCAN person_links")], plans
    finally:
        await store.close()


async def test_a_commit_cancelled_while_it_runs_ends_before_the_connection_is_used_again() -> None:
    committed: list[float] = []

    class SlowCommit:
        def commit(self) -> None:
            time.sleep(0.2)
            committed.append(time.perf_counter())

    waiting = asyncio.ensure_future(database._commit_in_thread(SlowCommit()))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert committed, "the cancelled task waited for its commit to end"


def test_a_sweep_counts_every_alert_and_lists_a_bounded_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub.ops.scheduler.LISTED", 3)
    sweep = Sweep()
    alerts = [
        AlertRaised(alert_id=f"a-{n}", case_id=f"C-{n}", kind=kind, severity="warning", message="m")  # type: ignore[arg-type]
        for n, kind in enumerate(["decision-due-soon"] * 4 + ["advice-breached"])
    ]
    sweep.add(alerts[:2])
    sweep.add(alerts[2:])
    assert sweep.count == 5
    assert dict(sweep.by_kind) == {"decision-due-soon": 4, "advice-breached": 1}
    assert [a.alert_id for a in sweep.alerts] == ["a-0", "a-1", "a-2"]


async def test_a_failed_commit_leaves_the_writer_usable(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit refused (a full disk) is rolled back, and the next write goes through."""
    store = Store(sqlite_url)
    await store.create_schema()
    commit = database._commit_in_thread

    async def refused(transaction: Any) -> None:
        raise OSError("disk I/O error")

    try:
        monkeypatch.setattr(database, "_commit_in_thread", refused)
        with pytest.raises(OSError):
            await store.apply([_effect(1)])
        monkeypatch.setattr(database, "_commit_in_thread", commit)
        assert await store.apply([_effect(1), _effect(2)]) == 2
        assert await store.processed_ids(["e-1", "e-2"]) == {"e-1", "e-2"}
    finally:
        await store.close()


async def test_writes_waiting_together_share_one_commit(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(sqlite_url)
    await store.create_schema()
    commits = 0
    commit = database._commit_in_thread

    async def counted(transaction: Any) -> None:
        nonlocal commits
        commits += 1
        await commit(transaction)

    monkeypatch.setattr(database, "_commit_in_thread", counted)
    try:
        held = await asyncio.gather(
            *(store.claim(f"t-{n}", {f"event:e-{n}": f"e-{n}", "once:shared": f"e-{n}"}, 60) for n in range(20))
        )
        assert commits < 20, commits
        winners = {h["once:shared"].event_id for h in held}
        assert len(winners) == 1, "one of twenty holds the shared key, and every one of them sees the same"
        assert all(h[f"event:e-{n}"].token == f"t-{n}" for n, h in enumerate(held))
    finally:
        await store.close()
