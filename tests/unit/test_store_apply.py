"""The store's apply: written table by table, idempotent, and committed only for confirmed events."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hub.domain.facts import CaseEffect, CaseUpdate, Delivery, Outcome
from hub.store import Store


def _effect(event_id: str, case_id: str, **fields: object) -> CaseEffect:
    update = CaseUpdate(**fields)  # type: ignore[arg-type]
    return CaseEffect(
        event_id=event_id,
        topic="ehc.panel-outcomes.v1",
        event_type="uk.ehc-hub.panel-outcome-recorded.v1",
        occurred_at=datetime(2026, 3, 2, tzinfo=UTC),
        source="/la/202",
        correlation_id=event_id,
        causation_id=None,
        case_id=case_id,
        la_code="202",
        received_date=date(2026, 1, 5),
        stage_rank=4,
        deliveries=[Delivery(f"{event_id}-nhs", "nhs", "out.nhs.v1", "panel", ["outcome"])],
        outcome=Outcome(case=update),
    )


async def test_only_confirmed_effects_are_committed(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    await store.create_schema()
    try:

        async def only_the_first() -> set[str]:
            return {"e-1"}

        effects = [
            _effect("e-1", "C-1", panel_date=date(2026, 3, 2), panel_outcome="issue-plan"),
            _effect("e-2", "C-2", year_group=6),
        ]
        assert await store.apply(effects, confirm=only_the_first) == 1
        assert await store.processed_ids(["e-1", "e-2"]) == {"e-1"}
        counts = await store.counts()
        assert (counts["cases"], counts["deliveries"]) == (1, 1)
        assert (await store.case("C-1") or {})["panel_outcome"] == "issue-plan"
        assert await store.apply(effects) == 1, "the withdrawn one is applied once confirmed; e-1 is not repeated"
        assert (await store.case("C-1") or {})["event_count"] == 1
        assert (await store.counts())["deliveries"] == 2
    finally:
        await store.close()


async def test_effects_setting_different_case_fields_merge_in_one_call(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    await store.create_schema()
    try:
        await store.apply([_effect("a", "C-1", year_group=6)])
        await store.apply(
            [
                _effect("b", "C-1", panel_date=date(2026, 3, 2), panel_outcome="issue-plan"),
                _effect("c", "C-2", year_group=9),
            ]
        )
        one, two = await store.case("C-1") or {}, await store.case("C-2") or {}
        assert (one["year_group"], one["panel_outcome"], one["event_count"]) == (6, "issue-plan", 2)
        assert (two["year_group"], two["panel_outcome"]) == (9, None)
    finally:
        await store.close()


async def test_a_case_is_watched_until_its_cease_takes_effect(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    await store.create_schema()
    try:
        await store.apply([_effect("a", "C-1", ceased_date=date(2026, 5, 3)), _effect("b", "C-2")])
        assert [p async for p in store.open_case_pages(date(2026, 5, 2))] == [["C-1", "C-2"]], "until appeal ends"
        assert [p async for p in store.open_case_pages(date(2026, 5, 3))] == [["C-2"]]
        await store.apply([_effect(f"p-{n}", f"P-{n:02d}") for n in range(5)])
        pages = [page async for page in store.open_case_pages(date(2026, 5, 3), size=2)]
        assert pages == [["C-2", "P-00"], ["P-01", "P-02"], ["P-03", "P-04"]], "in id order, a page at a time"
    finally:
        await store.close()
