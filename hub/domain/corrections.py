"""Rectification (UK GDPR Art. 16 and 19): a person's details corrected at source, in the hub's
records, and at every organisation the hub sent a wrong value.

Who is told is worked out from the disclosure audit: each record about the person the hub sent,
with the fields the sharing policy gave that organisation for that event. An organisation is sent
the correction only if it was sent one of the details that were wrong, and with no more of the
person than it had: the identifiers it was given to know them by, and the corrected details it
had wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hub.domain.facts import Outcome, PersonCorrection, RuleViolation
from hub.domain.identity import identifiers
from hub.domain.judging import Judging, judge
from hub.domain.policy import ALL, SHARING
from hub.domain.state import Disclosed, PersonRecord
from schemas.events import EVENTS_BY_TYPE, PersonDetailsCorrected

PERSON_FIELDS = ("nhs_number", "upn", "uln", "la_person_id", "la_code", "given_name", "family_name", "date_of_birth")
IDENTIFYING = ("nhs_number", "upn", "uln", "la_person_id", "la_code")
PERSON_PATHS = ("person", "assessed_person", "cared_for", "offered_assessments")
RECTIFICATION = "UK GDPR Art. 19: notifying a recipient of the rectification of data it was sent"


@dataclass(frozen=True)
class Notice:
    """One organisation to tell of a correction, and which of the person's fields it may see."""

    agency: str
    organisation: str | None
    fields: tuple[str, ...]


def person_fields_sent(d: Disclosed) -> set[str]:
    """The person's fields one disclosure carried, by the policy that made it."""
    event = EVENTS_BY_TYPE.get(d.event_type)
    if event is None or not set(event.model_fields) & set(PERSON_PATHS):
        return set()  # an event that carries no one (advice, a panel outcome)
    if d.fields == ALL:
        return set(PERSON_FIELDS)
    if "person" not in d.fields:
        return set()
    shares = SHARING.get(event.event_type, ())
    sent: set[str] = set()
    for share in shares:
        if share.recipient.value == d.agency:
            if share.fields == ALL:
                return set(PERSON_FIELDS)
            sent |= {f.split(".", 1)[1] for f in share.fields if f.startswith("person.")}
    return sent


def notices(correction: PersonDetailsCorrected, disclosed: Iterable[Disclosed]) -> list[Notice]:
    """Every organisation sent a detail that was wrong, with the person's fields its notice keeps."""
    sent: dict[tuple[str, str | None], set[str]] = {}
    for d in disclosed:
        sent.setdefault((d.agency, d.organisation), set()).update(person_fields_sent(d))
    wrong = set(correction.corrected_fields)
    out = []
    for (agency, organisation), fields in sorted(sent.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if fields & wrong:
            kept = sorted((fields & set(IDENTIFYING)) | (fields & wrong))
            out.append(Notice(agency, organisation, tuple(f"person.{f}" for f in kept)))
    return out


@judge.register
def _person_corrected(event: PersonDetailsCorrected, j: Judging, out: Outcome) -> None:
    record = j.context
    if not isinstance(record, PersonRecord):
        raise RuleViolation(
            "no person with these identifiers is known to the hub",
            field="data.person",
            rule="known-person",
            retryable=True,
        )
    values = {f: getattr(event.person, f) for f in event.corrected_fields}
    out.corrections.append(
        PersonCorrection(
            event.correction_id,
            record.person_key,
            event.la_code,
            event.corrected_date,
            tuple(sorted({*record.identifiers, *identifiers(event.person)})),
            {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()},
        )
    )
