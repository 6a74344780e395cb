"""The FHIR R4 facade at /fhir for NHS providers: Tasks to fetch and update, advice messages in."""

from __future__ import annotations

import json
import operator
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from fhir.resources.R4B.task import Task

from adapters.access import PERSONAL_DATA, Caller, Organisation, Reader, permit, reads
from adapters.advice_inbox import AdviceInbox, Inbox, receipts
from adapters.channels import FHIR_INBOX, recipient_of
from adapters.common import EventPort, Submission, SubmitResult
from adapters.http import Port, Today, event_id_for
from adapters.inbox import Outbox
from adapters.nhs_fhir import outbound
from adapters.nhs_fhir.capability import capability_statement
from adapters.nhs_fhir.codes import (
    EVENT_ADVICE,
    MESSAGE_EVENTS,
    ODS_CODE,
    QUESTIONNAIRE_ID,
    QUESTIONNAIRE_URL,
    TASK_STATUSES_SETTABLE,
)
from adapters.nhs_fhir.inbound import InboundAdvice, read_advice_message
from adapters.nhs_fhir.notifications import communication
from adapters.nhs_fhir.outcome import FhirProblem, Issue, fhir_response, problem_response, validate_resource
from adapters.nhs_fhir.questionnaire import QUESTIONNAIRE
from schemas.common import Adviser, Agency, OrganisationRef
from schemas.envelope import JsonRefused, parse_json
from schemas.events import AdviceRequested, AdviceRequestStatusChanged, AdviceSubmitted

router = APIRouter(prefix="/fhir", tags=["FHIR R4 (NHS providers)"])
_IDS = uuid.UUID("8d7e2a52-6f43-4b39-9a0e-3b7b0a9d5c21")
SUBMISSION_IDENTIFIER = "https://fhir.ehc-hub.uk/Id/advice-submission"


async def _json_body(request: Request) -> Any:
    """The body as JSON; its size is bounded by the server as it streams in, before this reads it."""
    raw = await request.body()
    try:
        return parse_json(raw)
    except JsonRefused as exc:
        raise FhirProblem(400, [Issue("structure", f"the body: {exc.message}", None)]) from None


def task_status(row: dict[str, Any]) -> str:
    if row.get("submitted_date"):
        return "completed"
    if row.get("task_status"):
        return str(row["task_status"])
    return "received" if row.get("received_date") else "requested"


def task_for(row: dict[str, Any]) -> dict[str, Any]:
    request = AdviceRequested.model_validate(row["request"])
    due = row.get("due_date")  # the hub's clock: moved by the adviser's receipt and by exceptions
    changed = [d for d in (row.get("requested_date"), row.get("received_date"), row.get("submitted_date")) if d]
    resource = outbound.task(
        request,
        task_status(row),
        status_reason=row.get("status_reason"),
        due=_day(due),
        last_modified=max(_day(d) or request.requested_date for d in changed) if changed else None,
    )
    if row.get("submission_event_id"):
        resource["output"] = [
            {
                "type": {"text": "health advice"},
                "valueReference": {
                    "identifier": {"system": SUBMISSION_IDENTIFIER, "value": row["submission_event_id"]}
                },
            }
        ]
    return resource


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _provider(caller: Caller) -> Organisation:
    """The NHS organisation the caller's credential speaks for; only providers use the facade."""
    org = caller.organisation
    if org is None or org.agency != Agency.NHS:
        raise FhirProblem(403, [Issue("forbidden", f"{caller.actor} is not an NHS organisation", None)])
    return org


async def _row(inbox: AdviceInbox, task_id: str, caller: Caller) -> dict[str, Any]:
    org = _provider(caller)
    row = await inbox.request(task_id)
    if row is None or not row.get("request") or row.get("recipient_agency") != Agency.NHS.value:
        raise FhirProblem(404, [Issue("not-found", f"Task/{task_id} is not known", "Task.id")])
    if row.get("recipient_code") != org.code:
        raise FhirProblem(403, [Issue("forbidden", f"Task/{task_id} is not owned by {org.code}", "Task.owner")])
    return row


def _guarded(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Answer FhirProblem as an OperationOutcome, whatever the route."""
    import functools

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> JSONResponse:
        try:
            result: JSONResponse = await handler(*args, **kwargs)
            return result
        except FhirProblem as problem:
            return problem_response(problem)

    return wrapper


@router.get("/metadata", summary="CapabilityStatement")
async def metadata(request: Request) -> JSONResponse:
    base = str(request.base_url).rstrip("/")
    return fhir_response(capability_statement(base, "2026-11-25"))


@router.get("/Questionnaire/{questionnaire_id}", dependencies=[permit()])
@_guarded
async def read_questionnaire(questionnaire_id: str) -> JSONResponse:
    if questionnaire_id != QUESTIONNAIRE_ID:
        raise FhirProblem(
            404, [Issue("not-found", f"Questionnaire/{questionnaire_id} is not known", "Questionnaire.id")]
        )
    return fhir_response(QUESTIONNAIRE)


@router.get("/Questionnaire", dependencies=[permit()])
async def search_questionnaire(request: Request, url: str | None = None) -> JSONResponse:
    found = [QUESTIONNAIRE] if url in (None, QUESTIONNAIRE_URL) else []
    return fhir_response(_searchset(request, found))


def _searchset(request: Request, resources: list[dict[str, Any]], count: int = 50, offset: int = 0) -> dict[str, Any]:
    """A searchset Bundle of one page, with ``self`` and, where there are more, ``next`` and
    ``previous`` links that repeat the search from another offset."""
    links = [_page_link(request, "self", "_offset", offset)]
    if offset + count < len(resources):
        links.append(_page_link(request, "next", "_offset", offset + count))
    if offset > 0:
        links.append(_page_link(request, "previous", "_offset", max(0, offset - count)))
    return {**_bundle(request, resources[offset : offset + count], links), "total": len(resources)}


def _page_link(request: Request, relation: str, param: str, at: int) -> dict[str, str]:
    """The same search again, from another page (``param`` set to ``at``)."""
    query = urlencode([*((k, v) for k, v in request.query_params.multi_items() if k != param), (param, at)])
    return {"relation": relation, "url": f"{_fhir_base(request)}{request.url.path.removeprefix('/fhir')}?{query}"}


def _bundle(request: Request, page: list[dict[str, Any]], links: list[dict[str, str]]) -> dict[str, Any]:
    base = _fhir_base(request)
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [
            {"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
            for r in page
        ],
    }


def _fhir_base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


COMPARISONS: dict[str, Callable[[date, date], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "lt": operator.lt,
    "ge": operator.ge,
    "le": operator.le,
}
"""FHIR's search prefixes for dates."""


def _updated_within(bounds: list[str]) -> Callable[[dict[str, Any]], bool]:
    """``_lastUpdated`` as FHIR writes it (``ge2026-02-01``, ``lt2026-03-01``; no prefix means eq),
    applied to a Task's lastModified (the last day its request was sent, received or answered)."""
    tests: list[tuple[Callable[[date, date], bool], date]] = []
    for bound in bounds:
        prefix, value = (bound[:2], bound[2:]) if bound[:2] in COMPARISONS else ("eq", bound)
        try:
            tests.append((COMPARISONS[prefix], date.fromisoformat(value[:10])))
        except ValueError:
            raise FhirProblem(400, [Issue("value", f"_lastUpdated {bound!r} is not a date", "_lastUpdated")]) from None
    return lambda task: all(
        compare(date.fromisoformat(task.get("lastModified") or task["authoredOn"]), day) for compare, day in tests
    )


@router.get("/Task", summary="Search the caller's own Tasks: by status (comma for several), _id, _lastUpdated; paged")
@_guarded
async def search_tasks(
    request: Request,
    inbox: Inbox,
    port: Port,
    today: Today,
    owner: str | None = None,
    status: str | None = None,
    ids: Annotated[str | None, Query(alias="_id")] = None,
    last_updated: Annotated[list[str] | None, Query(alias="_lastUpdated")] = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=500)] = 50,
    offset: Annotated[int, Query(alias="_offset", ge=0)] = 0,
    reader: Reader = reads("inbox:read", PERSONAL_DATA),
) -> JSONResponse:
    org = _provider(reader.caller)
    ods = _ods_of("owner", owner, org)
    rows = [
        r for r in await inbox.requests_for(ods) if r.get("request") and r.get("recipient_agency") == Agency.NHS.value
    ]
    if ids:
        rows = [r for r in rows if r["request_id"] in set(ids.split(","))]
    rows = await reader.show(rows)
    fresh = receipts([r for r in rows if task_status(r) == "requested"], today, "fhir-poll", sender=org)
    if fresh:  # fetching the work is the provider's receipt of it: reg 8's six weeks start now
        await port.submit_many(fresh)
    tasks = [task_for(r) for r in rows]
    if status:
        wanted = set(status.split(","))
        tasks = [t for t in tasks if t["status"] in wanted or (t["status"] == "received" and "requested" in wanted)]
    if last_updated:
        tasks = list(filter(_updated_within(last_updated), tasks))
    return fhir_response(_searchset(request, tasks, count, offset))


def _ods_of(param: str, value: str | None, org: Organisation) -> str:
    """An organisation search parameter as FHIR writes it (``system|code``, ``Organization/code``
    or the bare code), which must be the caller's own."""
    ods = org.code
    if value:
        ods = value.split("|", 1)[1] if value.startswith(ODS_CODE + "|") else value.removeprefix("Organization/")
    if ods != org.code:
        raise FhirProblem(403, [Issue("forbidden", f"{org.code} may search only its own records, not {ods}'s", param)])
    return ods


@router.get(
    "/Communication",
    summary="Search what the hub has sent the caller's organisation (decisions, panel outcomes, plans); paged",
)
@_guarded
async def search_communications(
    request: Request,
    outbox: Outbox,
    recipient: str | None = None,
    count: Annotated[int, Query(alias="_count", ge=1, le=500)] = 50,
    after: Annotated[int, Query(alias="_page", ge=0, description="opaque: follow the Bundle's next link")] = 0,
    reader: Reader = reads("inbox:read"),
) -> JSONResponse:
    """For providers with no endpoint to push to. Each record is a Communication, in the order the hub
    sent them; the first search that returns one counts as its delivery."""
    org = _provider(reader.caller)
    ods = _ods_of("recipient", recipient, org)
    rows = await outbox.waiting_for([recipient_of(org.agency, ods)], FHIR_INBOX, after, count + 1, include_taken=True)
    page, more = rows[:count], len(rows) > count
    await outbox.taken([r["seq"] for r in page if r["status"] == "pending"], datetime.now(UTC))
    resources = [
        communication(
            r["dispatch_id"],
            r["event_type"],
            json.loads(r["value"]).get("data") or {},
            ods,
            r["created_at"].isoformat(timespec="seconds"),
        )
        for r in page
    ]

    links = [_page_link(request, "self", "_page", after)]
    if more:
        links.append(_page_link(request, "next", "_page", page[-1]["seq"]))
    bundle = _bundle(request, resources, links)
    return fhir_response(await reader.show(bundle))


@router.get("/Task/{task_id}")
@_guarded
async def read_task(task_id: str, inbox: Inbox, reader: Reader = reads("inbox:read", PERSONAL_DATA)) -> JSONResponse:
    return fhir_response(task_for(await reader.show(await _row(inbox, task_id, reader.caller))))


async def _change_status(
    port: EventPort,
    today: date,
    caller: Caller,
    row: dict[str, Any],
    status: str | None,
    reason: str | None,
    where: str,
) -> JSONResponse:
    if status == "completed":
        raise FhirProblem(
            422,
            [
                Issue(
                    "business-rule",
                    "a Task is completed by sending the advice ($process-message), not by setting its status",
                    f"{where}.status",
                )
            ],
        )
    if status not in TASK_STATUSES_SETTABLE:
        raise FhirProblem(
            422, [Issue("value", f"status must be one of {sorted(TASK_STATUSES_SETTABLE)}", f"{where}.status")]
        )
    if status == "rejected" and not reason:
        raise FhirProblem(422, [Issue("required", "a rejection needs statusReason.text", f"{where}.statusReason")])
    advice = AdviceRequested.model_validate(row["request"])
    event = AdviceRequestStatusChanged(
        case_id=advice.case_id,
        request_id=advice.request_id,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        changed_date=today,
        changed_by=advice.recipient,
    )
    org = _provider(caller)
    # The same change on the same day is the same event, however often it is sent.
    [result] = await port.submit_many(
        [Submission(event, org.source, event_id_for(org.source, None, event), sender=org)]
    )
    _raise_if_rejected(result, where)
    return fhir_response(task_for({**row, "task_status": status, "status_reason": reason}))


@router.put("/Task/{task_id}", summary="Accept, reject (with statusReason) or start a Task")
@_guarded
async def update_task(
    task_id: str, request: Request, inbox: Inbox, port: Port, today: Today, caller: Caller = permit("tasks:update")
) -> JSONResponse:
    row = await _row(inbox, task_id, caller)
    body = await _json_body(request)
    if not isinstance(body, dict) or body.get("resourceType") != "Task":
        raise FhirProblem(400, [Issue("structure", "the body must be a Task", "Task")])
    validate_resource(Task, body, "Task")
    if body.get("id") != task_id:
        raise FhirProblem(400, [Issue("value", "Task.id must match the URL", "Task.id")])
    reason = (body.get("statusReason") or {}).get("text")
    return await _change_status(port, today, caller, row, body.get("status"), reason, "Task")


@router.patch("/Task/{task_id}", summary="JSON Patch of Task.status and Task.statusReason")
@_guarded
async def patch_task(
    task_id: str, request: Request, inbox: Inbox, port: Port, today: Today, caller: Caller = permit("tasks:update")
) -> JSONResponse:
    row = await _row(inbox, task_id, caller)
    operations = await _json_body(request)
    if not isinstance(operations, list):
        raise FhirProblem(400, [Issue("structure", "the body must be a JSON Patch array", None)])
    status, reason = task_status(row), row.get("status_reason")
    for n, op in enumerate(operations):
        if op.get("op") not in ("replace", "add") or op.get("path") not in (
            "/status",
            "/statusReason",
            "/statusReason/text",
        ):
            raise FhirProblem(
                422, [Issue("not-supported", "only status and statusReason can be patched", f"patch[{n}]")]
            )
        if op["path"] == "/status":
            status = op.get("value")
        else:
            value = op.get("value")
            reason = value.get("text") if isinstance(value, dict) else value
    return await _change_status(port, today, caller, row, status, reason, "Task")


def _raise_if_rejected(result: SubmitResult, where: str) -> None:
    if result.outcome != "rejected":
        return
    code = {404: "not-found", 409: "duplicate"}.get(result.status, "business-rule")
    field = (result.field or "").removeprefix("data.")
    raise FhirProblem(result.status, [Issue(code, result.message, f"{where}.{field}" if field else where)])


async def _accept_advice(
    request: Request, inbox: AdviceInbox, port: EventPort, caller: Caller
) -> tuple[InboundAdvice, AdviceSubmitted, SubmitResult]:
    provider = _provider(caller)
    advice = read_advice_message(await _json_body(request))
    if advice.sender_ods != provider.code:
        raise FhirProblem(
            403,
            [
                Issue(
                    "forbidden",
                    f"the message names sender {advice.sender_ods}, but the caller is {provider.code}",
                    "Bundle.entry[0].resource.ofType(MessageHeader).sender",
                )
            ],
        )
    row = await inbox.request(advice.request_id, due_date=False)
    if row is None or not row.get("request"):
        raise FhirProblem(
            404,
            [
                Issue(
                    "not-found",
                    f"no advice request {advice.request_id!r} was made",
                    advice.output_path + ".basedOn",
                )
            ],
        )
    asked = AdviceRequested.model_validate(row["request"])
    if asked.recipient.code != advice.sender_ods:
        raise FhirProblem(
            403,
            [
                Issue(
                    "forbidden",
                    f"request {advice.request_id!r} was sent to {asked.recipient.code}, not {advice.sender_ods}",
                    "Bundle.entry[0].resource.ofType(MessageHeader).sender",
                )
            ],
        )
    if advice.nhs_number and asked.person.nhs_number and advice.nhs_number != asked.person.nhs_number:
        raise FhirProblem(
            422,
            [
                Issue(
                    "business-rule",
                    "the advice is about a different patient than the request",
                    advice.output_path + ".subject",
                )
            ],
        )
    org = OrganisationRef(agency=Agency.NHS, code=advice.sender_ods)
    event = AdviceSubmitted(
        case_id=asked.case_id,
        request_id=asked.request_id,
        advice_kind=asked.advice_kind,
        adviser=Adviser(name=advice.adviser_name, role=advice.adviser_role, organisation=org),
        submitted_date=advice.submitted_date,
        summary=advice.summary[:20000],
        signed_off_by=Adviser(
            name=advice.signoff_name, role=advice.signoff_role or "Designated Medical Officer", organisation=org
        )
        if advice.signoff_name
        else None,
        signed_off_date=advice.signoff_date,
        attachments=[f"fhir:{advice.output_reference}", *advice.attachments],
    )
    # The advice resource identifies the submission: resent in the same Bundle, or in a new Bundle
    # around the same QuestionnaireResponse/DocumentReference, it is the same event.
    has_own_id = not advice.output_reference.endswith("/")
    key = advice.output_reference if has_own_id else (advice.message_id or advice.bundle_id or "")
    event_id = str(uuid.uuid5(_IDS, f"{advice.sender_ods}:{key}"))
    [result] = await port.submit_many([Submission(event, provider.source, event_id, sender=provider)])
    _raise_if_rejected(result, "Bundle")
    return advice, event, result


@router.post("/$process-message", summary="Receive a message Bundle carrying health advice")
@_guarded
async def process_message(
    request: Request, inbox: Inbox, port: Port, caller: Caller = permit("submit:advice-submitted")
) -> JSONResponse:
    advice, _, result = await _accept_advice(request, inbox, port, caller)
    response_id = str(uuid.uuid5(_IDS, f"response:{result.event_id}"))
    accepted = await inbox.first_accepted(result.event_id) or datetime.now(UTC)  # a replay: the first answer
    header = {
        "resourceType": "MessageHeader",
        "id": response_id,
        "eventCoding": {"system": MESSAGE_EVENTS, "code": EVENT_ADVICE},
        "source": {"name": "EHC integration hub", "endpoint": _fhir_base(request)},
        "response": {"identifier": advice.message_id or advice.bundle_id or result.event_id, "code": "ok"},
    }
    bundle = {
        "resourceType": "Bundle",
        "id": response_id,
        "type": "message",
        "timestamp": accepted.astimezone(UTC).isoformat(timespec="seconds"),
        "entry": [{"fullUrl": f"urn:uuid:{response_id}", "resource": header}],
    }
    return fhir_response(bundle, 200)


@router.post("/Bundle", summary="Create a message Bundle carrying health advice")
@_guarded
async def create_bundle(
    request: Request, inbox: Inbox, port: Port, caller: Caller = permit("submit:advice-submitted")
) -> JSONResponse:
    advice, _, result = await _accept_advice(request, inbox, port, caller)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "information",
                "code": "informational",
                "diagnostics": f"advice for request {advice.request_id} accepted"
                + (" (already received earlier)" if result.outcome == "unchanged" else ""),
            }
        ],
    }
    status = 200 if result.outcome == "unchanged" else 201
    return fhir_response(outcome, status, headers={"Location": f"/fhir/Bundle/{advice.bundle_id or result.event_id}"})
