"""The clients the hub knows and the roles people hold: how verified token claims become a Caller.

Systems are registered by client id, each with exactly one organisation and its permissions, in
configuration the hub's operators keep (``HUB_AUTH__CLIENTS_FILE`` or ``HUB_AUTH__CLIENTS``). A
token from the people's sign-in client is a person, whose roles come from the token and map to
permissions. Nothing a caller sends in a message can change either.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.access import Caller, Organisation
from hub.settings import AuthSettings, ClientRegistration
from schemas.common import Agency


class ClientRegistry:
    def __init__(self, clients: dict[str, ClientRegistration]) -> None:
        self.clients = clients

    @classmethod
    def from_settings(cls, auth: AuthSettings) -> ClientRegistry:
        clients: dict[str, ClientRegistration] = {}
        if auth.clients_file is not None:
            raw = json.loads(auth.clients_file.read_text(encoding="utf-8"))
            clients.update({k: ClientRegistration.model_validate(v) for k, v in raw.get("clients", raw).items()})
        clients.update(auth.clients)
        return cls(clients)

    def system(self, client_id: str, subject: str, via: str) -> Caller | None:
        reg = self.clients.get(client_id)
        if reg is None:
            return None
        organisation = None
        if reg.organisation is not None:
            agency = Agency(reg.organisation.agency)
            la_code = reg.organisation.la_code or (reg.organisation.code if agency == Agency.LA_SEN else None)
            organisation = Organisation(agency, reg.organisation.code, la_code)
        return Caller(
            kind="system",
            subject=subject,
            client_id=client_id,
            permissions=frozenset(reg.permissions),
            organisation=organisation,
            via=via,
        )


def claim(claims: dict[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def client_id_of(claims: dict[str, Any], auth: AuthSettings) -> str | None:
    for name in auth.client_id_claims:
        if isinstance(claims.get(name), str) and claims[name]:
            return str(claims[name])
    return None


def hub_roles(claims: dict[str, Any], auth: AuthSettings) -> tuple[str, ...]:
    """The hub roles (viewer, operator, admin) a person's token grants, through ``role_map``."""
    granted: set[str] = set()
    for path in auth.roles_claims:
        values = claim(claims, path)
        if isinstance(values, str):
            values = [values]
        for value in values if isinstance(values, list) else []:
            role = auth.role_map.get(str(value), str(value))
            if role in auth.role_permissions:
                granted.add(role)
    return tuple(sorted(granted))


def person(claims: dict[str, Any], auth: AuthSettings, via: str) -> Caller:
    roles = hub_roles(claims, auth)
    permissions = frozenset(p for r in roles for p in auth.role_permissions[r])
    name = claims.get("name") or claims.get("preferred_username") or claims.get("upn")
    return Caller(
        kind="person",
        subject=str(claims["sub"]),
        client_id=client_id_of(claims, auth) or "",
        permissions=permissions,
        name=str(name) if name else None,
        roles=roles,
        via=via,
    )
