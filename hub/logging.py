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
import time
from collections.abc import Callable, MutableMapping
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


class RepeatLimit(logging.Filter):
    """A warning or error is logged once, then again at most once per ``interval`` seconds, saying
    how often it recurred meanwhile. While the broker is down every Kafka client logs each failed
    reconnect, some hundreds of lines a second; an operator needs the first, then a reminder."""

    def __init__(self, interval: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [last logged at, suppressed since]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, _DIGITS.sub("#", str(record.msg)))
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.interval:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.msg} (and {int(seen[1])} more like it in the last {now - seen[0]:.0f} s)"
        if len(self._seen) >= 10_000:  # a flood of distinct messages cannot grow this without bound
            self._seen.clear()
        self._seen[key] = [now, 0]
        return True


_DIGITS = re.compile(r"\d+")


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
    handler.addFilter(RepeatLimit())
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


def logs_info() -> bool:
    """Whether info lines are written: per-event lines are skipped whole (context binding and
    formatting included) where they would only be filtered out."""
    return logging.getLogger().isEnabledFor(logging.INFO)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
