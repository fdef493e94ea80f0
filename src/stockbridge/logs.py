"""Structured logs: JSON lines (or readable console lines) for stdlib and structlog alike,
with correlation ids from the context and every secret masked (docs/security.md)."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

MASK = "***"
#: Fields whose value is a secret whatever it holds.
SECRET_FIELD = re.compile(
    r"secret|token|password|passwd|api_?key|authorization|signature|credential|cookie", re.I
)
#: Secrets recognisable by their shape in free text, and what replaces them.
_SHAPES = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + MASK),
    (re.compile(r"\bsbk_[A-Za-z0-9_-]{6,}"), MASK),  # API keys (app/keys.py KEY_PREFIX)
    (re.compile(r"(?i)\b(\w*(?:token|secret|password|api_?key)\w*)=[^&\s\"']+"), r"\1=" + MASK),
    (
        re.compile(r'(?i)("\w*(?:token|secret|password|api_?key)\w*"\s*:\s*")[^"]*"'),
        r"\1" + MASK + '"',
    ),
)
_QUERY_SECRET = re.compile(
    r"[?&](\w*(?:token|secret|password|api_?key|signature)\w*)=([^&#\s]+)", re.I
)
#: Shorter values are not registered: masking every "pos" or "1234" would garble logs.
MIN_SECRET_LENGTH = 6


class Redactor:
    """A structlog processor that masks secrets in every field of every record: fields
    named like a secret, text shaped like one, and the exact values registered at start
    (the bootstrap key, webhook signing secrets, platform tokens from the environment)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._known: set[str] = set()
        self._values: re.Pattern[str] | None = None
        self.register(secrets)

    def register(self, secrets: Iterable[str]) -> None:
        self._known |= {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        ordered = sorted(self._known, key=len, reverse=True)
        self._values = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def text(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(MASK, text)
        for shape, replacement in _SHAPES:
            text = shape.sub(replacement, text)
        return text

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                k: MASK if isinstance(k, str) and SECRET_FIELD.search(k) and v else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        if isinstance(value, bytes):
            return self.text(value.decode("utf-8", "replace"))
        return value

    def __call__(self, logger: Any, method: str, event_dict: Any) -> Any:
        return self.value(event_dict)


def secret_values(settings: Any, env: Mapping[str, str]) -> list[str]:
    """Every secret the configuration holds or names: values of secret-like keys, secrets
    in URLs' queries, and the environment variables that `*_env` keys point at."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if isinstance(value, str) and isinstance(key, str):
                    if key.endswith("_env") and env.get(value):
                        found.append(env[value])
                    elif SECRET_FIELD.search(key):
                        found.append(value)
                    else:
                        # A credential in a URL's query (`?access_token=...`).
                        found.extend(m.group(2) for m in _QUERY_SECRET.finditer(value))
                else:
                    walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(settings.model_dump(by_alias=True))
    if settings.bootstrap_key:
        found.append(settings.bootstrap_key)
    return found


@dataclass(frozen=True, slots=True)
class LogSetup:
    """How this process's logs are configured: what a child process is given to match."""

    level: str
    json: bool
    secrets: tuple[str, ...]

    def apply(self) -> Redactor:
        return configure(self.level, self.json, self.secrets)


_active: tuple[LogSetup, Redactor] | None = None


def active() -> LogSetup | None:
    """This process's log configuration with every secret registered since, or None when
    logs were never configured (a library use, a test)."""
    if _active is None:
        return None
    setup, redactor = _active
    return LogSetup(setup.level, setup.json, tuple(sorted(redactor._known)))


def configure(level: str = "info", json: bool = True, secrets: Iterable[str] = ()) -> Redactor:
    """Route stdlib and structlog records through one chain that ends masked and rendered."""
    global _active
    secrets = tuple(secrets)
    redactor = Redactor(secrets)
    _active = (LogSetup(level, json, secrets), redactor)
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Fields given to stdlib loggers as `extra=` become fields of the record.
            foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                # Last before rendering: tracebacks and uvicorn's records are masked too.
                redactor,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return redactor
