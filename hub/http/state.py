"""What the HTTP handlers share: the store, a producer and the topic names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.delivery import Producer, TopicNames
from hub.store import Store


@dataclass
class HubState:
    store: Store
    producer: Producer
    names: TopicNames
    bootstrap_servers: str
    client_config: dict[str, Any]
    asyncapi: Any = None
