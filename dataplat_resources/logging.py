"""Structured logging for every dataplat process (structlog over the standard library).

Levels come from ``LOG_LEVEL``; ``LOG_FORMAT=json`` gives one JSON object per line for log
shippers. Secrets never reach a log line: values of keys that look like credentials and
``user:password@`` parts of URLs are masked by a processor that runs on every event.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

MASK = "***"
_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|credential|api[_.-]?key|sasl[_.]password|private[_.-]?key)", re.I)
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@\s]+):(?P<pw>[^@/\s]+)@", re.I)
_INLINE_SECRET = re.compile(
    r"(?P<key>\b[\w.\-]*(?:password|secret|token|api[_.-]?key)[\w.\-]*)(?P<sep>\s*[=:]\s*)(?P<value>'[^']*'|\"[^\"]*\"|[^\s,;'\"}]+)",
    re.I,
)


def mask_text(text: str) -> str:
    """Mask ``scheme://user:password@`` credentials and ``password=...``-style pairs in free text."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return _INLINE_SECRET.sub(lambda m: f"{m['key']}{m['sep']}{MASK}", text)


def mask_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key) and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(mask_value(key, v) for v in value)
    return value


def mask_secrets(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask every secret-looking key and embedded credential."""
    for key in list(event_dict):
        event_dict[key] = mask_value(key, event_dict[key])
    return event_dict


class _MaskingFilter(logging.Filter):
    """Masks records from libraries that log through the standard library."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Render first, then mask the whole line: masking the template alone could eat a "%s".
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg, record.args = mask_text(message), None
        return True


def configure_logging(level: str = "INFO", fmt: str = "console", stream: Any = None) -> None:
    """Configure structlog and the standard library once per process."""
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        mask_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_MaskingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # Chatty at INFO about their own plumbing (py4j's every Spark callback, alembic's every storage
    # migration check): only their warnings, unless LOG_LEVEL=DEBUG.
    library_level = logging.DEBUG if level.upper() == "DEBUG" else max(root.level, logging.WARNING)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(library_level)


CHATTY_LIBRARIES = ("py4j", "alembic")


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
