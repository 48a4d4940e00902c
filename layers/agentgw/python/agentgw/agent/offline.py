"""The `offline` provider: answers with the gateway's tools and no language model at all.

It is a Strands `Model`, so the agent loop, the tool trace, sessions and the deadline work
exactly as with a real model:

1. First turn: take the tools in the order the gateway's search ranked them for the prompt,
   and pick the first whose required arguments can be filled from the prompt by the tool's
   input schema (a place phrase for `location` / `timezone`-like fields, the prompt for
   `query`-like fields, numbers, enum values). Emit that as a toolUse.
2. Next turn (the tool result is in): state the result plainly, as text.

A follow-up that names no request of its own, only a new part ("And in Paris?", "What about
Rome?"), repeats the conversation's last tool call with that part changed: the tool it used
comes first, and the arguments the follow-up does not give are the ones that call had.

When no tool fits, it says so and lists the tools it was offered. The response's `model`
field says this is not an LLM.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncGenerator, AsyncIterable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from strands.models.model import Model
from strands.types.content import Messages
from strands.types.streaming import StreamEvent
from strands.types.tools import ToolSpec

MODEL_NAME = "offline (not an LLM: gateway search + schema-filled arguments)"

T = TypeVar("T", bound=BaseModel)

# Words that end a place phrase ("in Tokyo right now" -> "Tokyo").
_TRAILING_FILLER = re.compile(
    r"(?:\s+(?:right\s+now|now|today|tonight|currently|at\s+the\s+moment|this\s+(?:morning|afternoon|"
    r"evening|week)|please|then|there|like|exactly|again))+\s*$",
    re.IGNORECASE,
)
_PLACE_AFTER = re.compile(r"\b(?:in|at|for|of|near|from|about)\s+(?:the\s+)?([^?!.;:]+)", re.IGNORECASE)
_ZONE = re.compile(r"\b((?:[A-Z][A-Za-z_+-]*/)+[A-Z][A-Za-z_+-]*|UTC|GMT|Etc/[A-Za-z0-9+-]+)\b")
_QUOTED = re.compile(r"[\"“']([^\"”']{2,80})[\"”']")
_CAPITALISED = re.compile(r"\b([A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|da|do|del|la|le|los|las|of))*)")
_QUESTION_WORDS = {
    "what", "whats", "what's", "how", "is", "are", "tell", "give", "show", "when", "where", "which",
    "who", "why", "can", "could", "please", "i", "do", "does", "the", "current", "time", "weather",
    "get", "find", "hey", "hi", "hello", "and", "in", "at", "for",
}  # fmt: skip
_PLACE_WORDS = ("location", "place", "city", "timezone", "time_zone", "zone", "country", "region", "address")
_TEXT_WORDS = ("query", "question", "prompt", "text", "message", "search", "q", "input")
# Besides a place, a follow-up has only these words: nothing that asks for something new.
_FOLLOW_UP_WORDS = {
    "and", "what", "whats", "what's", "how", "about", "in", "at", "for", "then", "there", "the",
    "same", "also", "now", "is", "it", "of", "please", "ok", "okay", "so", "too", "over",
}  # fmt: skip
_NONPLACE = {"it", "me", "us", "you", "this", "that", "here", "now", "today", "the moment", "moment", "time"}


class MissingArgument(ValueError):
    def __init__(self, name: str, description: str) -> None:
        super().__init__(f"could not tell the {name!r} from the prompt ({description})")
        self.name = name


def extract_place(prompt: str) -> str | None:
    """The place, city or zone a prompt is about, or None."""
    zone = _ZONE.search(prompt)
    if zone:
        return zone.group(1)
    quoted = _QUOTED.search(prompt)
    if quoted:
        return quoted.group(1).strip()
    for match in reversed(list(_PLACE_AFTER.finditer(prompt))):
        phrase = _clean_place(match.group(1))
        if phrase:
            return phrase
    for match in _CAPITALISED.finditer(prompt):
        words = match.group(1).split()
        while words and words[0].lower().strip("'’") in _QUESTION_WORDS:
            words.pop(0)
        phrase = _clean_place(" ".join(words))
        if phrase:
            return phrase
    words = re.findall(r"[\w'’-]+", prompt)
    if 0 < len(words) <= 3 and not any(w.lower() in _QUESTION_WORDS for w in words):
        return " ".join(words)
    return None


def _clean_place(text: str) -> str | None:
    phrase = " ".join(text.split())
    previous = None
    while phrase != previous:
        previous = phrase
        phrase = _TRAILING_FILLER.sub("", phrase).strip(" ,")
        phrase = re.sub(
            r"^(?:the\s+)?(?:city|town|village|time\s+zone|timezone|zone)\s+of\s+", "", phrase, flags=re.I
        )
    if not phrase or phrase.lower() in _NONPLACE or len(phrase) > 80:
        return None
    return phrase


def is_follow_up(prompt: str) -> bool:
    """Whether the prompt only changes a part of the previous request ("And in Paris?"): apart
    from a place it has connecting words only, so it asks for nothing of its own."""
    place = extract_place(prompt)
    rest = prompt.replace(place, " ") if place else prompt
    return all(word in _FOLLOW_UP_WORDS for word in re.findall(r"[\w'’]+", rest.lower()))


def fill_arguments(
    schema: dict[str, Any], prompt: str, carried: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Arguments for a tool from the prompt, by its input schema; raises MissingArgument.

    `carried`: a previous call's arguments, taken for what the prompt does not give.
    """
    properties = schema.get("properties") or {}
    required = [name for name in schema.get("required") or [] if name in properties]
    carried = carried or {}
    arguments: dict[str, Any] = {}
    for name in required:
        spec = properties[name] if isinstance(properties[name], dict) else {}
        value = _value_for(name, spec, prompt)
        if value is None:
            value = carried.get(name)
        if value is None:
            raise MissingArgument(name, str(spec.get("description") or spec.get("type") or "no description"))
        arguments[name] = value
    return arguments


def _value_for(name: str, spec: dict[str, Any], prompt: str) -> Any:
    kind = spec.get("type", "string")
    enum = spec.get("enum")
    if isinstance(enum, list) and enum:
        lowered = prompt.lower()
        return next((v for v in enum if str(v).lower() in lowered), None)
    if kind in ("integer", "number"):
        number = re.search(r"-?\d+(?:\.\d+)?", prompt)
        if not number:
            return None
        return int(float(number.group())) if kind == "integer" else float(number.group())
    if kind == "boolean":
        return not re.search(r"\b(no|not|false|without)\b", prompt, re.IGNORECASE)
    if kind != "string":
        return None
    words = f"{name} {spec.get('description', '')}".lower()
    key = name.lower()
    if any(w == key or w in key for w in _TEXT_WORDS) and not any(w in key for w in _PLACE_WORDS):
        return prompt.strip()
    if any(w in words for w in _PLACE_WORDS):
        return extract_place(prompt)
    quoted = _QUOTED.search(prompt)
    return quoted.group(1) if quoted else extract_place(prompt)


def describe_result(tool_name: str, arguments: dict[str, Any], result_text: str, is_error: bool) -> str:
    """State a tool result plainly."""
    short = tool_name.split("___", 1)[-1]
    args = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    if is_error:
        return f"The tool {short} ({args}) reported an error: {result_text.strip() or 'no detail'}"
    try:
        data = json.loads(result_text)
    except ValueError:
        return f"{short} ({args}) returned: {result_text.strip()}"
    if isinstance(data, dict) and "local_time" in data:
        return _describe_time(data)
    if isinstance(data, dict) and "temperature_c" in data:
        return _describe_weather(data)
    return f"{short} ({args}) returned: {_flatten(data)}"


def _describe_time(data: dict[str, Any]) -> str:
    try:
        local = datetime.fromisoformat(str(data["local_time"]))
        when = f"{local:%H:%M} on {local:%A, %d %B %Y}"
    except ValueError:
        when = str(data["local_time"])
    zone = str(data.get("timezone", ""))
    place = data.get("city") or zone.rsplit("/", 1)[-1].replace("_", " ") or zone
    details = ", ".join(
        str(part)
        for part in (
            zone,
            f"UTC{data['utc_offset']}" if data.get("utc_offset") else None,
            data.get("abbreviation"),
        )
        if part
    )
    dst = " (daylight saving time)" if data.get("is_dst") else ""
    return f"It is {when} in {place} ({details}){dst}."


def _describe_weather(data: dict[str, Any]) -> str:
    location = data.get("location") or {}
    place = ", ".join(str(location[k]) for k in ("name", "region", "country") if location.get(k))
    text = f"In {place or 'that place'} it is {data['temperature_c']} °C"
    if data.get("temperature_f") is not None:
        text += f" ({data['temperature_f']} °F)"
    if data.get("condition"):
        text += f", {data['condition']}"
    wind = data.get("wind") or {}
    if wind.get("speed_kmh") is not None:
        text += f", wind {wind['speed_kmh']} km/h"
        if wind.get("direction"):
            text += f" from the {wind['direction']}"
    if data.get("observed_at"):
        text += f" (observed {data['observed_at']})"
    return text + "."


def _flatten(data: Any) -> str:
    if isinstance(data, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in data.items())
    if isinstance(data, list):
        return ", ".join(_flatten(v) for v in data)
    return str(data)


def turn_events(
    *,
    text: str | None = None,
    tool_uses: list[tuple[str, str, dict[str, Any]]] | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
) -> list[StreamEvent]:
    """The stream events of one assistant turn: optional text, then toolUse blocks (id, name, input)."""
    events: list[StreamEvent] = [{"messageStart": {"role": "assistant"}}]
    index = 0
    if text:
        events += [
            {"contentBlockStart": {"contentBlockIndex": index, "start": {}}},
            {"contentBlockDelta": {"contentBlockIndex": index, "delta": {"text": text}}},
            {"contentBlockStop": {"contentBlockIndex": index}},
        ]
        index += 1
    for tool_use_id, name, arguments in tool_uses or []:
        events += [
            {
                "contentBlockStart": {
                    "contentBlockIndex": index,
                    "start": {"toolUse": {"toolUseId": tool_use_id, "name": name}},
                }
            },
            {
                "contentBlockDelta": {
                    "contentBlockIndex": index,
                    "delta": {"toolUse": {"input": json.dumps(arguments)}},
                }
            },
            {"contentBlockStop": {"contentBlockIndex": index}},
        ]
        index += 1
    events.append({"messageStop": {"stopReason": "tool_use" if tool_uses else "end_turn"}})
    events.append(
        {
            "metadata": {
                "usage": {
                    "inputTokens": input_tokens,
                    "outputTokens": output_tokens,
                    "totalTokens": input_tokens + output_tokens,
                },
                "metrics": {"latencyMs": 0},
            }
        }
    )
    return events


class OfflineModel(Model):
    """No language model: one tool call chosen by search ranking and schema, then a plain answer."""

    def __init__(
        self,
        ranking: list[str] | None = None,
        gateway_names: dict[str, str] | None = None,
        catalog: list[str] | None = None,
    ) -> None:
        self._ranking = list(ranking or [])
        self._gateway_names = dict(gateway_names or {})
        self._catalog = list(catalog or [])
        self.config: dict[str, Any] = {"model_id": MODEL_NAME}

    def update_config(self, **model_config: Any) -> None:
        self.config.update(model_config)

    def get_config(self) -> dict[str, Any]:
        return self.config

    def structured_output(
        self, output_model: type[T], prompt: Messages, system_prompt: str | None = None, **kwargs: Any
    ) -> AsyncGenerator[dict[str, T | Any], None]:
        raise NotImplementedError("the offline provider has no structured output")

    async def stream(
        self,
        messages: Messages,
        tool_specs: list[ToolSpec] | None = None,
        system_prompt: str | None = None,
        **kwargs: Any,
    ) -> AsyncIterable[StreamEvent]:
        for event in self.respond(messages, tool_specs or []):
            yield event

    def respond(self, messages: Messages, tool_specs: list[ToolSpec]) -> list[StreamEvent]:
        last = messages[-1] if messages else {"role": "user", "content": []}
        results = [block["toolResult"] for block in last.get("content", []) if "toolResult" in block]
        if results:
            return turn_events(text=self._state_results(messages, results))
        prompt = " ".join(block["text"] for block in last.get("content", []) if "text" in block).strip()
        return self._choose(prompt, tool_specs, messages)

    def _choose(self, prompt: str, tool_specs: list[ToolSpec], messages: Messages) -> list[StreamEvent]:
        by_name = {spec["name"]: spec for spec in tool_specs}
        order = [n for n in self._ranking if n in by_name]
        previous = _last_tool_use(messages[:-1])
        carried: dict[str, dict[str, Any]] = {}  # tool name -> the arguments a follow-up keeps
        if previous is not None and previous["name"] in by_name:
            if is_follow_up(prompt):
                # "And in Paris?" asks what the last call asked, about Paris: the search ranks
                # the tools for "Paris" alone, so the conversation decides the tool.
                order = [previous["name"], *(n for n in order if n != previous["name"])]
                carried[previous["name"]] = dict(previous.get("input") or {})
            elif previous["name"] not in order:
                order.append(previous["name"])
        missing: list[str] = []
        for name in order:
            schema = by_name[name].get("inputSchema", {}).get("json", {})
            try:
                arguments = fill_arguments(schema, prompt, carried.get(name))
            except MissingArgument as exc:
                missing.append(f"{self._display(name)}: {exc}")
                continue
            return turn_events(tool_uses=[(f"offline-{uuid.uuid4().hex[:12]}", name, arguments)])
        if not order:
            known = f" Tools on the gateway: {', '.join(self._catalog)}." if self._catalog else ""
            return turn_events(
                text="I am the offline provider (no language model): the gateway's search found no tool "
                f"for this prompt.{known}"
            )
        offered = ", ".join(self._display(n) for n in order)
        reason = f" ({'; '.join(missing[:3])})" if missing else ""
        return turn_events(
            text=(
                "I am the offline provider (no language model): I answer by calling one gateway tool, "
                f"but none of the tools found for this prompt could be called with it{reason}. "
                f"Tools offered: {offered}."
            )
        )

    def _state_results(self, messages: Messages, results: list[dict[str, Any]]) -> str:
        uses: dict[str, dict[str, Any]] = {}
        for message in messages:
            for block in message.get("content", []):
                if "toolUse" in block:
                    uses[block["toolUse"]["toolUseId"]] = block["toolUse"]
        lines = []
        for result in results:
            use = uses.get(result.get("toolUseId", ""), {})
            text = " ".join(item["text"] for item in result.get("content", []) if "text" in item)
            lines.append(
                describe_result(
                    self._display(use.get("name", "tool")),
                    dict(use.get("input") or {}),
                    text,
                    result.get("status") == "error",
                )
            )
        return " ".join(lines)

    def _display(self, alias: str) -> str:
        return self._gateway_names.get(alias, alias)


def _last_tool_use(messages: Messages) -> dict[str, Any] | None:
    """The conversation's last toolUse block (`name`, `input`), if any."""
    for message in reversed(messages):
        for block in reversed(message.get("content", [])):
            if "toolUse" in block:
                return dict(block["toolUse"])
    return None
