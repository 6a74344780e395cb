"""What the hub's own HTTP handlers share, as typed route parameters: the hub's state (store,
producer, topic names, rules, clock watcher) and the authenticator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request

from hub.auth.authenticator import HubAuthenticator
from hub.dispatch.table import DispatchTable
from hub.ops.scheduler import ClockWatcher, london_today
from hub.pipeline.publisher import Producer, TopicNames
from hub.privacy.service import Privacy
from hub.settings import RetentionSettings, StatutoryRules
from hub.store import Store


@dataclass
class HubState:
    store: Store
    producer: Producer
    names: TopicNames
    bootstrap_servers: str
    client_config: dict[str, Any]
    rules: StatutoryRules = field(default_factory=StatutoryRules)
    today: Callable[[], date] = london_today
    asyncapi: Any = None
    watcher: ClockWatcher | None = None
    dispatch: DispatchTable | None = None
    privacy: Privacy | None = None
    retention: RetentionSettings = field(default_factory=RetentionSettings)


def _hub_state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


State = Annotated[HubState, Depends(_hub_state)]
"""What the operations routes share, as a route parameter."""


def _authenticator(request: Request) -> HubAuthenticator:
    authenticator: HubAuthenticator = request.app.state.authenticator
    return authenticator


Authenticator = Annotated[HubAuthenticator, Depends(_authenticator)]
"""The app's one authenticator, as a route parameter."""
