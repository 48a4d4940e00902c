"""The agent API's request: `{"prompt": str, "session_id"?: str}`, validated.

Body ≤ 32 KiB, prompt ≤ 8000 characters, session id `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`.
Anything else is a `RequestError` (a 400) whose message says what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentgw.agent.settings import MAX_BODY_BYTES, MAX_PROMPT_CHARS, MAX_SESSION_ID_CHARS

ALLOWED_FIELDS = ("prompt", "session_id")
# Matched with fullmatch: `$` would also accept a trailing newline.
SESSION_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MAX_SESSION_ID_CHARS - 1}}}")


class RequestError(ValueError):
    """A 400: the request is not what the API takes (the message says what is wrong)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class PromptRequest:
    prompt: str
    session_id: str | None = None


def parse_request(body: str | bytes | Mapping[str, Any] | None) -> PromptRequest:
    """Validate a request body (raw JSON text/bytes, or an already decoded object)."""
    if isinstance(body, Mapping):
        data: Any = dict(body)
        size = len(json.dumps(data).encode("utf-8"))
    else:
        if body is None or (isinstance(body, str | bytes) and not body.strip()):
            raise RequestError(
                'the request body is empty; send JSON like {"prompt": "What time is it in Tokyo?"}'
            )
        raw = body.encode("utf-8") if isinstance(body, str) else body
        size = len(raw)
        if size > MAX_BODY_BYTES:
            raise RequestError(f"the request body has {size} bytes; the limit is {MAX_BODY_BYTES} bytes")
        try:
            text = raw.decode("utf-8")  # explicit: json.loads(bytes) would guess UTF-16/32 too
        except UnicodeDecodeError:
            raise RequestError("the request body is not UTF-8 text") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RequestError(
                f"the request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        except RecursionError:  # the decoder recurses per level; no valid request nests deeply
            raise RequestError("the request body is not valid JSON: nested too deeply") from None
    if size > MAX_BODY_BYTES:
        raise RequestError(f"the request body has {size} bytes; the limit is {MAX_BODY_BYTES} bytes")
    if not isinstance(data, dict):
        raise RequestError(f"the request body must be a JSON object, not {_json_type(data)}")
    unknown = sorted(set(data) - set(ALLOWED_FIELDS))
    if unknown:
        raise RequestError(
            f"unknown field{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"allowed fields: {', '.join(ALLOWED_FIELDS)}",
            field=unknown[0],
        )
    if "prompt" not in data:
        raise RequestError('"prompt" is required', field="prompt")
    prompt = data["prompt"]
    if not isinstance(prompt, str):
        raise RequestError(f'"prompt" must be a string, not {_json_type(prompt)}', field="prompt")
    if not prompt.strip():
        raise RequestError('"prompt" is empty', field="prompt")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:
        # A \ud800-style escape decodes to a lone surrogate: not text the model, the gateway or
        # the session store can take (unchecked, it would fail deep in the agent as a 502).
        raise RequestError(
            f'"prompt" is not valid Unicode: an unpaired surrogate at character {exc.start}', field="prompt"
        ) from None
    if len(prompt) > MAX_PROMPT_CHARS:
        raise RequestError(
            f'"prompt" has {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}', field="prompt"
        )
    session_id = data.get("session_id")
    if session_id is not None:
        if not isinstance(session_id, str):
            raise RequestError(
                f'"session_id" must be a string, not {_json_type(session_id)}', field="session_id"
            )
        if not SESSION_ID.fullmatch(session_id):
            raise RequestError(
                f'"session_id" must be 1-{MAX_SESSION_ID_CHARS} characters of letters, digits, ".", "_" '
                'or "-", starting with a letter or digit',
                field="session_id",
            )
    return PromptRequest(prompt=prompt, session_id=session_id)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(
        type(value), "an object"
    )
