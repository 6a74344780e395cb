"""Personal data as a caller may see it: whole for callers holding ``personal-data:read``,
otherwise with each person's identifying fields replaced and a keyed pseudonym added, so that
rows about one person can still be told apart."""

from __future__ import annotations

from typing import Any

from hub.auth.pseudonyms import pseudonym

PERSONAL_FIELDS = frozenset({"nhs_number", "given_name", "family_name", "date_of_birth", "upn", "uln"})
PERSON_IDS = ("nhs_number", "la_person_id", "upn", "uln")
MASK = "•••"


def mask(doc: Any) -> Any:
    """A copy of ``doc`` (JSON-shaped) with every person's identifying fields masked."""
    if isinstance(doc, list):
        return [mask(v) for v in doc]
    if not isinstance(doc, dict):
        return doc
    out = {k: (MASK if k in PERSONAL_FIELDS and v else mask(v)) for k, v in doc.items()}
    if any(doc.get(k) for k in PERSONAL_FIELDS):
        out["pseudonym"] = pseudonym(next((doc[k] for k in PERSON_IDS if doc.get(k)), ""))
    return out


def holds_personal_data(doc: Any) -> bool:
    if isinstance(doc, list):
        return any(holds_personal_data(v) for v in doc)
    if isinstance(doc, dict):
        return any(k in PERSONAL_FIELDS and v and v != MASK for k, v in doc.items()) or any(
            holds_personal_data(v) for v in doc.values()
        )
    return False


def case_ids_in(doc: Any, found: set[str] | None = None) -> set[str]:
    """Every case id a document mentions: what an audit of reading it names."""
    found = set() if found is None else found
    if isinstance(doc, list):
        for v in doc:
            case_ids_in(v, found)
    elif isinstance(doc, dict):
        for k, v in doc.items():
            if k == "case_id" and isinstance(v, str):
                found.add(v)
            else:
                case_ids_in(v, found)
    return found
