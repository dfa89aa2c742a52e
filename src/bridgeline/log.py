"""Structured logging (structlog): JSON lines in production, readable lines on a terminal.

Secrets never reach the output: values of keys that look like credentials are replaced, and
known secret strings (registered with :func:`register_secret` from the settings) are masked
wherever they appear, including inside messages and exception text, and where a text was cut off
in the middle of one. Text is shortened only after it is redacted (:func:`shorten`), so a cut never
leaves the start of a secret behind. Records of the standard
library's loggers (uvicorn, SQLAlchemy, ...) go through the same redaction and the same renderer,
so a JSON log stays one JSON object per line.

::

    configure_logging("info", "auto")          # JSON unless stderr is a terminal
    log = get_logger("bridgeline.sync")
    log.info("created", entity="jira:version:10042", mapping="release", target="CHG0030001", ms=412.5)
"""

from __future__ import annotations

import base64
import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any
from urllib.parse import quote, quote_plus

import structlog

_SECRET_KEY = re.compile(r"(pass(word)?|secret|token|authorization|api[_-]?key|cookie|jwt|credential)", re.I)
_AUTH_HEADER = re.compile(r"((?:Basic|Bearer|AR-JWT)\s+)[A-Za-z0-9._~+/=-]{6,}")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
_secrets: set[str] = set()
_lock = threading.Lock()
REDACTED = "***"
_STRUCTURAL = frozenset({"logger", "level", "timestamp"})
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
# The start of a secret at the very end of a text (someone else cut it there) is masked from this
# many characters on: fewer say next to nothing about the secret, and would mask ordinary words.
MIN_CUT_SECRET = 6
_CUT_MARKS = ".…"  # what a cut text may end with after the cut


def register_secret(value: str | None) -> None:
    """Mask ``value`` (and its URL-encoded forms) wherever it appears in output from now on."""
    if not value or len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        _secrets.update({value, quote(value, safe=""), quote_plus(value)})


def register_credentials(user: str | None, secret: str | None) -> None:
    """Mask ``secret`` and the HTTP Basic form of ``user:secret`` (seen in captured headers)."""
    register_secret(secret)
    if user and secret:
        register_secret(base64.b64encode(f"{user}:{secret}".encode()).decode())


def register_model_secrets(model: Any) -> None:
    """Every secret value in a tree of pydantic models (the settings), with its HTTP Basic form
    next to a ``username``, ``email`` or ``client_id`` of the same section."""
    fields = getattr(type(model), "model_fields", None)
    if fields is None:
        return
    for name in fields:
        value: Any = getattr(model, name, None)
        if value is not None and hasattr(value, "get_secret_value"):
            secret = str(value.get_secret_value())
            register_secret(secret)
            for user_field in ("username", "email", "client_id"):
                user = getattr(model, user_field, None)
                if isinstance(user, str):
                    register_credentials(user, secret)
        elif isinstance(value, (list, tuple)):
            for item in value:
                register_model_secrets(item)
        else:
            register_model_secrets(value)


def redact_text(text: str) -> str:
    """``text`` with registered secrets, auth header values and URL passwords masked, including
    the start of a secret that ``text`` ends with (a cut made before it reached here)."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _mask_cut_secret(text, known)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + REDACTED, text)
    return _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + "@", text)


def _mask_cut_secret(text: str, known: list[str]) -> str:
    """Mask the longest start of a known secret that ``text`` ends with (before any ``...``)."""
    body = text.rstrip(_CUT_MARKS)
    best = 0
    for secret in known:
        head = secret[:MIN_CUT_SECRET]
        if len(secret) <= MIN_CUT_SECRET:
            continue
        start = body.find(head, max(0, len(body) - len(secret) + 1))
        while start != -1:
            if secret.startswith(body[start:]):
                best = max(best, len(body) - start)
                break
            start = body.find(head, start + 1)
    if not best:
        return text
    return body[: len(body) - best] + REDACTED + text[len(body) :]


def shorten(text: str, limit: int) -> str:
    """``text`` redacted, then cut to at most ``limit`` characters (ending in ``…`` when cut).

    Redacting first means a cut never leaves part of a secret behind::

        shorten(response.text, 500)
    """
    text = redact_text(text)
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)] + "…"


def redact_value(key: str, value: Any) -> Any:
    """``value`` as it may be shown under ``key``: credential-like keys hide their value entirely."""
    if _SECRET_KEY.search(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(key, v) for v in value]
    if isinstance(value, BaseException):
        return redact_text(str(value))
    return value


def redact_processor(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key in _STRUCTURAL:  # set by bridgeline's code, never a credential
            continue
        if key == "event":  # the message itself is text, never a credential's value
            event_dict[key] = redact_text(str(event_dict[key]))
        else:
            event_dict[key] = redact_value(key, event_dict[key])
    return event_dict


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def configure_logging(level: str = "info", fmt: str = "auto", stream: Any = None) -> None:
    """Set up structlog and the standard logging bridge. ``fmt``: auto | json | console.

    ``auto`` writes JSON unless ``stream`` (stderr by default) is a terminal. Without a ``stream``
    every line goes to whatever ``sys.stderr`` is when it is written.
    """
    target = stream or sys.stderr
    console = fmt == "console" or (fmt == "auto" and _is_terminal(target))
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=_is_terminal(target))
        if console
        else structlog.processors.JSONRenderer(default=str)
    )
    structlog.configure(
        processors=[structlog.stdlib.add_logger_name, *shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_NamedPrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for own in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn may have set up its own
        logging.getLogger(own).handlers.clear()
        logging.getLogger(own).propagate = True
    for noisy in ("httpx", "httpcore", "uvicorn.access", "apscheduler", "sqlalchemy", "alembic", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))


class _NamedPrintLogger(structlog.PrintLogger):
    """A print logger that knows its name, for ``add_logger_name``."""

    def __init__(self, file: Any, name: str) -> None:
        super().__init__(file)
        self.name = name


class _NamedPrintLoggerFactory:
    def __init__(self, file: Any) -> None:
        self.file = file

    def __call__(self, *args: Any) -> _NamedPrintLogger:
        return _NamedPrintLogger(self.file or sys.stderr, str(args[0]) if args else "bridgeline")


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current ``sys.stderr`` (which a test runner or a tool may have replaced)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def get_logger(name: str | None = None) -> Any:
    """A structlog logger whose lines carry ``logger=name``; configured lazily, at first use."""
    return structlog.get_logger(name or "bridgeline")
