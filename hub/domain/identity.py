"""Linking what different agencies know about one person, without merging on a guess.

Every identifier (NHS number, UPN, ULN, LA person id qualified by its LA) points at one person
key. An event's identifiers that point at nobody are attached to the person the others point
at. When they point at two different people, or would give one person a second NHS number
(or UPN, ULN, LA id in the same LA), nothing is merged: a data-quality alert says what clashed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.domain.ids import derived_id
from schemas.common import PersonRef
from schemas.events import (
    AssessmentRequested,
    CareAssessmentRecorded,
    ChangeOfCircumstancesRecorded,
    Event,
    TransitionNeedDetermined,
    TransitionReferralIssued,
)

IdKey = tuple[str, str]  # (identifier type, value)
IdentityContext = tuple[dict[IdKey, str], dict[str, set[str]]]
"""For some identifiers: who each points at, and which identifier types those people have."""


def persons_in(event: Event) -> list[PersonRef]:
    """The people an inbound event identifies, the subject first."""
    if isinstance(
        event,
        AssessmentRequested | TransitionReferralIssued | ChangeOfCircumstancesRecorded | TransitionNeedDetermined,
    ):
        return [event.person]
    if isinstance(event, CareAssessmentRecorded):
        return [event.assessed_person, *event.cared_for]
    return []


def identifiers(ref: PersonRef) -> list[IdKey]:
    return identifiers_in(ref.__dict__)


def identifiers_in(fields: Mapping[str, Any]) -> list[IdKey]:
    """A person's identifiers from their fields, as a ``PersonRef`` holds them or a stored row does."""
    found: list[IdKey] = [(t, fields[t]) for t in ("nhs_number", "upn", "uln") if fields.get(t)]
    if fields.get("la_person_id") and fields.get("la_code"):
        found.append((f"la_person_id:{fields['la_code']}", fields["la_person_id"]))
    return found


def replace_people(value: Any, ids: set[IdKey], replace: Callable[[Mapping[str, Any]], Any]) -> Any:
    """``value`` with every person reference naming one of ``ids``, at any depth, given by
    ``replace``: how the store erases or corrects a person wherever a row keeps them."""
    if isinstance(value, list):
        return [replace_people(v, ids, replace) for v in value]
    if isinstance(value, dict):
        if ids & set(identifiers_in(value)):
            return replace(value)
        return {k: replace_people(v, ids, replace) for k, v in value.items()}
    return value


@dataclass
class LinkResult:
    person_key: str | None
    new_links: list[tuple[str, str, str]] = field(default_factory=list)  # (type, value, person key)
    conflicts: list[str] = field(default_factory=list)


def link(ref: PersonRef, known: dict[IdKey, str], types_of: dict[str, set[str]]) -> LinkResult:
    """``known``: identifier -> person key, for this ref's identifiers; ``types_of``: person key ->
    identifier types it already has (to spot a second NHS number for one person)."""
    ids = identifiers(ref)
    if not ids:
        return LinkResult(None)
    keys = sorted({known[i] for i in ids if i in known})
    if len(keys) > 1:
        clash = ", ".join(f"{t} points at {known[(t, v)][:8]}" for t, v in ids if (t, v) in known)
        return LinkResult(None, conflicts=[f"identifiers belong to different people ({clash})"])
    person_key = keys[0] if keys else derived_id(f"{ids[0][0]}:{ids[0][1]}", "person")
    result = LinkResult(person_key)
    have = set(types_of.get(person_key, set()))
    for id_type, value in ids:
        if (id_type, value) in known:
            continue
        if id_type in have:
            result.conflicts.append(f"person {person_key[:8]} already has a different {id_type}")
            continue
        have.add(id_type)
        result.new_links.append((id_type, value, person_key))
    return result
