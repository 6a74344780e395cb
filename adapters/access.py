"""Who is calling, and what they may do: the contract between every HTTP route and the hub's
authentication.

Routes declare the permissions they need with :func:`permit` (or :func:`reads`, for routes that
return records); the app supplies an
:class:`Authenticator` (``app.state.authenticator``) that turns a request's credential into a
:class:`Caller`. The caller's organisation comes from that credential alone, so a route compares
what a message claims (a ``source``, an adviser, an ``la_code``, a FHIR sender) against it with
:func:`refuse_unless_own` and never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import OAuth2, SecurityScopes
from fastapi.security.oauth2 import OAuthFlowsModel

from schemas.common import Agency, OrganisationRef
from schemas.events import AdviceRequestReceived, AdviceRequestStatusChanged, AdviceSubmitted, Event

PERSONAL_DATA = "personal-data:read"
SUBJECT_ACCESS = "subject-access:export"
THIRD_PARTIES = "subject-access:third-parties"
ERASE = "personal-data:erase"
LEGAL_HOLDS = "legal-holds:manage"


@dataclass(frozen=True)
class Organisation:
    """An organisation the hub knows: its kind, its code (LA code, ODS code, school URN, ...) and,
    for council services, the council whose cases it works on."""

    agency: Agency
    code: str
    la_code: str | None = None

    def ref(self) -> OrganisationRef:
        return OrganisationRef(agency=self.agency, code=self.code)

    @property
    def source(self) -> str:
        """The CloudEvents ``source`` of everything this organisation sends."""
        return f"/{self.agency.value}/{self.code}"

    def is_(self, org: OrganisationRef) -> bool:
        return org.agency == self.agency and org.code == self.code


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: a system acting for one organisation, or a person signed in."""

    kind: Literal["system", "person"]
    subject: str
    client_id: str
    permissions: frozenset[str]
    organisation: Organisation | None = None
    name: str | None = None
    roles: tuple[str, ...] = ()
    via: str = "bearer"

    def may(self, permission: str) -> bool:
        if permission in self.permissions:
            return True
        family = permission.split(":", 1)[0]
        return f"{family}:*" in self.permissions

    @property
    def actor(self) -> str:
        """How audit records name this caller: a person by name and subject, a system by client."""
        if self.kind == "person":
            return f"{self.name or self.subject} <{self.subject}>"
        org = f" for {self.organisation.source}" if self.organisation else ""
        return f"client {self.client_id}{org}"


class Authenticator(Protocol):
    async def authenticate(self, request: Request) -> Caller:
        """The caller behind a request's credential; raises HTTPException 401 (or 503) otherwise."""
        ...

    async def disclose(self, caller: Caller, request: Request, doc: Any) -> Any:
        """``doc`` as ``caller`` may see it: people masked, unless the caller holds
        ``personal-data:read``, in which case the read is audited."""
        ...


oauth2 = OAuth2(
    flows=OAuthFlowsModel(
        clientCredentials={"tokenUrl": "/auth/token-endpoint", "scopes": {}},
        authorizationCode={
            "authorizationUrl": "/auth/login",
            "tokenUrl": "/auth/token-endpoint",
            "scopes": {},
        },
    ),
    scheme_name="oauth2",
    description="Bearer access tokens (JWT) from the hub's OpenID Connect issuer; people may sign in at /auth/login",
    auto_error=False,
)


async def current_caller(request: Request, _: str | None = Depends(oauth2)) -> Caller:
    cached = getattr(request.state, "caller", None)
    if isinstance(cached, Caller):
        return cached
    authenticator: Authenticator = request.app.state.authenticator
    caller = await authenticator.authenticate(request)
    request.state.caller = caller
    return caller


def refuse(message: str) -> HTTPException:
    return HTTPException(403, message)


async def permitted_caller(security_scopes: SecurityScopes, caller: Caller = Depends(current_caller)) -> Caller:
    missing = [p for p in security_scopes.scopes if not caller.may(p)]
    if missing:
        raise refuse(f"{caller.actor} lacks the permission {', '.join(sorted(set(missing)))}")
    return caller


def permit(*permissions: str) -> Any:
    """A dependency: the caller, if it holds every one of ``permissions``; 401 or 403 otherwise.

    The permissions are declared as the operation's OAuth 2.0 scopes in the OpenAPI document, so
    what a route needs is written once and published with it."""
    return Security(permitted_caller, scopes=list(permissions))


@dataclass(frozen=True)
class Reader:
    """A permitted caller of a read route, and the one way such a route answers."""

    caller: Caller
    request: Request

    async def show(self, doc: Any) -> Any:
        authenticator: Authenticator = self.request.app.state.authenticator
        return await authenticator.disclose(self.caller, self.request, doc)


async def permitted_reader(request: Request, caller: Caller = Security(permitted_caller)) -> Reader:
    return Reader(caller, request)


def reads(*permissions: str) -> Any:
    """As :func:`permit`, for a route that returns records: the route answers through ``Reader.show``
    so that masking and the audit of unmasked reads happen in one place."""
    return Security(permitted_reader, scopes=list(permissions))


def require_permission(caller: Caller, permission: str) -> None:
    """For permissions known only once the body is read (the event type of a submission)."""
    if not caller.may(permission):
        raise refuse(f"{caller.actor} lacks the permission {permission}")


def own_organisation(caller: Caller) -> Organisation:
    if caller.organisation is None:
        raise refuse(f"{caller.actor} does not act for an organisation")
    return caller.organisation


def refuse_for_one_organisation(caller: Caller, what: str) -> None:
    """For work over every organisation's records, such as a subject access export: a system acting
    for one organisation is refused, whatever it was granted, since the answer would show it other
    organisations' records."""
    if caller.organisation is not None:
        raise refuse(f"{caller.actor} acts for one organisation, and {what} covers every organisation's records")


def refuse_unless_own(caller: Caller, claimed: OrganisationRef | None, what: str) -> Organisation:
    """The caller's organisation, provided ``claimed`` (what the message says) is that organisation."""
    org = own_organisation(caller)
    if claimed is not None and not org.is_(claimed):
        raise refuse(f"{what} names {claimed.agency.value}/{claimed.code}, but the caller is {org.source}")
    return org


def refuse_unless_la(caller: Caller, la_code: str | None, what: str = "la_code") -> Organisation:
    """The caller's organisation, provided it is a service of the council ``la_code``."""
    org = own_organisation(caller)
    if la_code is not None and org.la_code != la_code:
        raise refuse(f"{what} is {la_code}, but the caller {org.source} acts for LA {org.la_code or 'none'}")
    return org


def refuse_foreign_claims(caller: Caller, event: Event) -> Organisation:
    """The caller's organisation, provided nothing in ``event`` claims to come from another one.

    What the hub can judge from the message alone is judged here: the council an event names, the
    adviser who signs advice, the organisation recording a receipt or a status. Whether the case or
    request itself belongs to the caller needs the store, and the hub's event port judges that."""
    require_permission(caller, f"submit:{event.event_type}")
    org = own_organisation(caller)
    la_code = getattr(event, "la_code", None)
    if la_code is not None:
        refuse_unless_la(caller, la_code)
    if isinstance(event, AdviceSubmitted):
        claimed = event.adviser.organisation
        on_behalf_of_family = org.agency == Agency.LA_SEN and claimed.agency == Agency.FAMILY
        if on_behalf_of_family:
            if claimed.code != org.la_code:
                raise refuse(f"family advice for LA {claimed.code} cannot come from {org.source}")
        else:
            refuse_unless_own(caller, claimed, "adviser.organisation")
        if event.signed_off_by is not None and not on_behalf_of_family:
            refuse_unless_own(caller, event.signed_off_by.organisation, "signed_off_by.organisation")
    elif isinstance(event, AdviceRequestReceived) and org.agency != Agency.LA_SEN:
        refuse_unless_own(caller, event.recipient, "recipient")
    elif isinstance(event, AdviceRequestStatusChanged):
        refuse_unless_own(caller, event.changed_by, "changed_by")
    return org
