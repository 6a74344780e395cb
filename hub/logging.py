"""Structured logging: JSON when not on a terminal, readable on one; never personal data.

Every line carries the correlation and causation ids bound for the message being handled
(``bind_message_context``). A redaction step replaces personal fields with a keyed pseudonym and
scrubs anything shaped like an NHS number or a date from free text, as a second line of
defence behind the rule that log calls pass ids, not payloads.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from hub.auth.pseudonyms import pseudonym

PERSONAL_KEYS = frozenset(
    {"nhs_number", "given_name", "family_name", "name", "date_of_birth", "dob", "birth_date", "person", "upn", "uln"}
)
_NHS_LIKE = re.compile(r"\b\d{3}[ -]?\d{3}[ -]?\d{4}\b")
_DATE_LIKE = re.compile(r"\b(19|20)\d{2}-\d{2}-\d{2}\b")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _DATE_LIKE.sub("<date>", _NHS_LIKE.sub("<nhs-number?>", value))
    if isinstance(value, dict):
        return {k: (pseudonym(v) if k in PERSONAL_KEYS else _scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in ("timestamp", "level", "logger"):
            continue
        event_dict[key] = pseudonym(event_dict[key]) if key in PERSONAL_KEYS else _scrub(event_dict[key])
    return event_dict


def configure_logging(fmt: str = "auto", level: str = "INFO", stream: Any = None) -> None:
    """Configure structlog and route the standard library's loggers through the same rendering."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_personal_data,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("hub.faststream").setLevel(logging.WARNING)  # per-message lines only on failure


def bind_message_context(**ids: str | None) -> None:
    """Bind correlation/causation/event ids for every line logged while handling one message."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
