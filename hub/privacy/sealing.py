"""Which parts of an event are personal, and sealing them: pure functions on CloudEvent documents.

A sealed CloudEvent keeps the contract's shape with its personal parts taken out: each person
reference keeps only its LA code and each text of free text reads ``[erased]``. The
parts taken out travel in the ``sealed`` extension attribute, one AES-256-GCM ciphertext per data
key, as ``<kid>:<nonce and ciphertext, base64url>`` separated by spaces. A person's identifiers,
name and date of birth are sealed with that person's key; free text with the key of the person the
event is about (its ``person`` or ``assessed_person``) or, where it names none, of the record it is
filed under (its case or referral), which erasing that record's person destroys too.
The key's id is the associated data, so a part moved under another id does not open.

A sealed document does not meet its contract as written (a person reference without an
identifier), so it names a contract of its own: its ``dataschema`` gains the suffix ``:sealed``
(``urn:ehc-hub:schema:advice-submitted:v1:sealed``), which a consumer checking the schema sees
before it misreads a placeholder as data. Opening gives the contract's own name back.

Opening puts every part back whose key is at hand. A part whose key was destroyed leaves each
person it held marked ``erased``: the event still reads, routes and projects, without them.
"""

from __future__ import annotations

import base64
import secrets
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Union, get_args, get_origin

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.domain.identity import identifiers_in
from hub.privacy.keys import NONCE_BYTES, BlindIndex
from schemas.common import Contract, PersonRef
from schemas.events import EVENTS_BY_TYPE, PlanSections

PERSONAL_FIELDS = ("nhs_number", "upn", "uln", "la_person_id", "given_name", "family_name", "date_of_birth")
"""What a person reference holds about the person; its ``la_code`` names a council and stays."""
ERASED_TEXT = "[erased]"
SEALED_SCHEMA = ":sealed"
"""The suffix a sealed document's ``dataschema`` carries."""
FREE_TEXT: dict[str, frozenset[str]] = {
    "AdviceRequestStatusChanged": frozenset({"reason"}),
    "CaseExceptionRecorded": frozenset({"note"}),
    "SharingRestricted": frozenset({"reason"}),
    "AdviceSubmitted": frozenset({"summary"}),
    "PanelOutcomeRecorded": frozenset({"reasons", "health_summary", "social_care_summary", "education_summary"}),
    "PersonalBudgetRecorded": frozenset({"reasons"}),
    "OfferedAssessment": frozenset({"recommendation_reason"}),
    "ChangeOfCircumstancesRecorded": frozenset({"description"}),
    "TransitionNeedDetermined": frozenset({"reasons"}),
    "CareAssessmentRequested": frozenset({"reason"}),
    "TreatAsAdultAssessmentDecision": frozenset({"reason"}),
    "PersonDetailsCorrected": frozenset({"reason"}),
}
"""Free-text fields, by the contract model that has them: what is written there is about a person.
Plan sections are free text as a whole. A test checks every text field of every contract is
either here or plainly not personal (ids, codes, names of professionals)."""

Step = str | int
Spec = tuple[str, ...]  # field names from ``data``, "*" for every item of a list
Plan = dict[str, list[tuple[tuple[Step, ...], Any]]]  # key id -> (path within ``data``, value) to seal


@dataclass(frozen=True)
class Shape:
    persons: tuple[Spec, ...]
    texts: tuple[Spec, ...]


NO_SHAPE = Shape((), ())


def _models(annotation: Any) -> Iterator[tuple[type[Contract], bool]]:
    """The contract models an annotation may hold, each with whether it sits in a list."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            yield from _models(arg)
    elif origin is list:
        for model, _ in _models(get_args(annotation)[0]):
            yield model, True
    elif isinstance(annotation, type) and issubclass(annotation, Contract):
        yield annotation, False


def _walk(model: type[Contract], prefix: Spec, persons: list[Spec], texts: list[Spec]) -> None:
    for name, info in model.model_fields.items():
        spec = (*prefix, name)
        if name in FREE_TEXT.get(model.__name__, ()):
            texts.append(spec)
        for inner, listed in _models(info.annotation):
            at = (*spec, "*") if listed else spec
            if issubclass(inner, PersonRef):
                persons.append(at)
            elif issubclass(inner, PlanSections):
                texts.append(at)
            else:
                _walk(inner, at, persons, texts)


def shape_of(event_type: str) -> Shape:
    """Where the persons and the free text of an event type are, from its contract model; nowhere
    for a type the hub does not know. The type comes from the record, so only known types are
    remembered: a producer naming a new type in every record would otherwise grow the cache."""
    return _shape_of_contract(event_type) if event_type in EVENTS_BY_TYPE else NO_SHAPE


@cache
def _shape_of_contract(event_type: str) -> Shape:
    persons: list[Spec] = []
    texts: list[Spec] = []
    _walk(EVENTS_BY_TYPE[event_type], (), persons, texts)
    return Shape(tuple(persons), tuple(texts))


def _at(data: Any, spec: Spec, path: tuple[Step, ...] = ()) -> Iterator[tuple[tuple[Step, ...], Any, Any]]:
    """(path, parent, value) of every value ``spec`` reaches in ``data``."""
    if not spec or not isinstance(data, (dict, list)):
        return
    head, rest = spec[0], spec[1:]
    if head == "*":
        items: list[tuple[Step, Any]] = list(enumerate(data)) if isinstance(data, list) else []
    else:
        items = [(head, data[head])] if isinstance(data, dict) and data.get(head) is not None else []
    for step, value in items:
        if rest:
            yield from _at(value, rest, (*path, step))
        else:
            yield (*path, step), data, value


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts_of(doc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key id, ciphertext) of each sealed part of a document."""
    sealed = doc.get("sealed")
    if not isinstance(sealed, str):
        return []
    return [tuple(p.split(":", 1)) for p in sealed.split() if ":" in p]  # type: ignore[misc]


class Sealer:
    """Seals and opens documents, naming each data key by a blind index."""

    def __init__(self, index: BlindIndex) -> None:
        self.index = index

    def person_kid(self, person: Mapping[str, Any]) -> str | None:
        """The key of the person a reference names, by its first identifier."""
        ids = identifiers_in(person)
        return self.index(*ids[0]) if ids else None

    def record_kid(self, record_key: str) -> str:
        """The key of the free text filed under one record: a case, a referral, an assessment (what
        the event is keyed by on Kafka, its CloudEvents ``subject``)."""
        return self.index("record", record_key)

    def plan(self, doc: Mapping[str, Any]) -> Plan:
        """What sealing ``doc`` would take out, by key id: (path within ``data``, value)."""
        data = doc.get("data")
        if not isinstance(data, dict) or doc.get("sealed"):
            return {}
        shape = shape_of(str(doc.get("type", "")))
        out: Plan = {}
        subject: str | None = None
        for spec in shape.persons:
            for path, _, person in _at(data, spec):
                kid = self.person_kid(person) if isinstance(person, dict) else None
                if kid is None:
                    continue
                if len(spec) == 1 and subject is None:
                    subject = kid
                taken = {f: person[f] for f in PERSONAL_FIELDS if person.get(f) is not None}
                out.setdefault(kid, []).append((path, taken))
        texts = [(path, value) for spec in shape.texts for path, _, value in _at(data, spec) if value not in ("", {})]
        if texts:
            owner = subject or self.record_kid(str(doc.get("subject") or doc.get("id")))
            out.setdefault(owner, []).extend(texts)
        return out

    def seal(self, doc: Mapping[str, Any], keys: Mapping[str, bytes], planned: Plan | None = None) -> dict[str, Any]:
        """``doc`` with its personal parts sealed; ``keys`` holds a key for every id ``plan`` named.
        ``planned`` is that plan where the caller made it already, to find the keys."""
        if planned is None:
            planned = self.plan(doc)
        if not planned:
            return dict(doc)
        data = orjson.loads(orjson.dumps(doc["data"]))
        sealed = []
        for kid, taken in planned.items():
            nonce = secrets.token_bytes(NONCE_BYTES)
            clear = orjson.dumps([[list(path), value] for path, value in taken])
            sealed.append(f"{kid}:{_b64(nonce + AESGCM(keys[kid]).encrypt(nonce, clear, kid.encode()))}")
            for path, value in taken:
                parent = _parent(data, path)
                if isinstance(value, dict) and _is_person_part(value):
                    for f in value:
                        parent[path[-1]].pop(f, None)
                else:
                    parent[path[-1]] = placeholder(value)
        out = {**doc, "data": data, "sealed": " ".join(sealed)}
        if isinstance(schema := doc.get("dataschema"), str) and not schema.endswith(SEALED_SCHEMA):
            out["dataschema"] = schema + SEALED_SCHEMA
        return out

    @staticmethod
    def open(doc: Mapping[str, Any], keys: Mapping[str, bytes | None]) -> tuple[dict[str, Any], bool]:
        """``doc`` with every part put back whose key is in ``keys``, and whether any part stayed
        sealed (its key destroyed). Persons left without identifiers are marked ``erased``."""
        parts = parts_of(doc)
        if not parts:
            return dict(doc), False
        data = orjson.loads(orjson.dumps(doc["data"]))
        erased = False
        for kid, ciphertext in parts:
            key = keys.get(kid)
            try:
                if key is None:
                    raise InvalidTag
                raw = _unb64(ciphertext)
                clear = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], kid.encode())
            except (InvalidTag, ValueError):
                erased = True
                continue
            for path, value in orjson.loads(clear):
                parent = _parent(data, tuple(path))
                if isinstance(value, dict) and _is_person_part(value):
                    parent[path[-1]].update(value)
                else:
                    parent[path[-1]] = value
        if erased:
            for spec in shape_of(str(doc.get("type", ""))).persons:
                for _, _, person in _at(data, spec):
                    if isinstance(person, dict) and not identifiers_in(person):
                        person["erased"] = True
        opened = {k: v for k, v in doc.items() if k != "sealed"}
        opened["data"] = data
        if isinstance(schema := doc.get("dataschema"), str):
            opened["dataschema"] = schema.removesuffix(SEALED_SCHEMA)
        return opened, erased


def marks_erasure(event_type: str, data: Mapping[str, Any]) -> bool:
    """Whether ``data`` marks a person erased: only the hub may, when it opens what it sealed."""
    return any(
        isinstance(p, dict) and p.get("erased") for spec in shape_of(event_type).persons for _, _, p in _at(data, spec)
    )


def placeholder(value: Any) -> Any:
    """What stands in the clear for sealed free text: the same shape (which fields were given is
    not personal, and says what was disclosed), every text in it ``[erased]``."""
    if isinstance(value, str):
        return ERASED_TEXT
    if isinstance(value, dict):
        return {k: placeholder(v) for k, v in value.items()}
    if isinstance(value, list):
        return [placeholder(v) for v in value]
    return value


def _is_person_part(value: Mapping[str, Any]) -> bool:
    return bool(value) and all(f in PERSONAL_FIELDS for f in value)


def _parent(data: Any, path: tuple[Step, ...]) -> Any:
    for step in path[:-1]:
        data = data[step]
    return data
