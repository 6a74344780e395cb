from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.devtools.keycloak_local import KeycloakInfo
from tests.identity import Tokens, keycloak_for_tests, test_auth_settings


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeycloakInfo]:
    yield from keycloak_for_tests(Path(tmp_path_factory.mktemp("keycloak")))


@pytest.fixture(scope="session", autouse=True)
def hub_trusts_keycloak(keycloak: KeycloakInfo) -> Iterator[None]:
    """Every hub the integration tests start (in process or as `hub run`) trusts the test Keycloak."""
    auth = test_auth_settings(keycloak)
    values = {
        "HUB_AUTH__ISSUER": auth["issuer"],
        "HUB_AUTH__CLIENTS_FILE": auth["clients_file"],
        "HUB_AUTH__CLIENTS": json.dumps(auth["clients"]),
    }
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield
    for k, v in before.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def tokens(keycloak: KeycloakInfo) -> Tokens:
    return Tokens(keycloak.issuer)
