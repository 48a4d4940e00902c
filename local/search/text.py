"""Turning tool definitions and queries into text: what the lexical and the dense index see.

A tool's text is its name split into words (on ``___``, ``_``, ``-``, ``.``, ``/`` and camelCase),
its description, and the names and descriptions of its parameters (nested ones too).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

# The separator between target and tool in gateway names (DESIGN.md: `{target}___{tool}`).
TARGET_SEPARATOR = "___"

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NAME_SEPARATORS = re.compile(r"[_\-./:\s]+")
# An acronym's plural ("PDFs", "URLs") is one word, not "PD" + "Fs".
_ACRONYM_PLURAL = re.compile(r"(?<=[A-Z]{2})s(?![a-z])")
# Lexical tokens: runs of letters/digits, or single CJK characters (those have no spaces to split on).
_TOKEN = re.compile(r"[a-z0-9]+|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")

# A small English stopword list (the usual function words, plus filler from task-style queries);
# it keeps BM25 from rewarding tools for sharing "the" or "please" with the query.
_STOPWORD_TEXT = """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves also may might must shall us let
    please want need like get got use using used via e g eg etc"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORD_TEXT.split())


def split_identifier(name: str) -> list[str]:
    """Split a tool or parameter name into lower-case words: ``getCurrentTime`` → get current time."""
    words: list[str] = []
    for part in _NAME_SEPARATORS.split(name):
        if part:
            part = _ACRONYM_PLURAL.sub("S", part)
            words.extend(w.lower() for w in _CAMEL.split(part) if w)
    return words


def _schema_parts(schema: Any, depth: int = 0) -> Iterator[str]:
    """Parameter names (split) and descriptions from a JSON schema, depth-first, bounded."""
    if not isinstance(schema, Mapping) or depth > 4:
        return
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for prop_name, prop in properties.items():
            yield " ".join(split_identifier(str(prop_name)))
            if isinstance(prop, Mapping):
                description = prop.get("description")
                if isinstance(description, str) and description.strip():
                    yield description.strip()
                yield from _schema_parts(prop, depth + 1)
    items = schema.get("items")
    if isinstance(items, Mapping):
        yield from _schema_parts(items, depth + 1)


def name_words(name: str) -> str:
    """The name as words, target part first: ``timeweather___get_time`` → ``timeweather get time``."""
    return " ".join(split_identifier(name.replace(TARGET_SEPARATOR, " ")))


def tool_text(tool: Mapping[str, Any]) -> str:
    """Everything searchable about a tool: name words, description, parameter names and descriptions."""
    parts = [name_words(str(tool.get("name", "")))]
    description = tool.get("description")
    if isinstance(description, str) and description.strip():
        parts.append(description.strip())
    parts.extend(_schema_parts(tool.get("inputSchema")))
    return ". ".join(p.rstrip(". ") for p in parts if p.rstrip(". "))


def short_text(tool: Mapping[str, Any]) -> str:
    """Name words and description only: the tool's purpose without parameter detail."""
    parts = [name_words(str(tool.get("name", "")))]
    description = tool.get("description")
    if isinstance(description, str) and description.strip():
        parts.append(description.strip())
    return ". ".join(p.rstrip(". ") for p in parts if p.rstrip(". "))


def stem(word: str) -> str:
    """A light suffix stripper (plural, -ing, -ed, -ly): enough to match 'images'/'image',
    'converting'/'convert' without a stemming dependency. Short words are left alone."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, replacement in (
        ("ies", "y"),
        ("sses", "ss"),
        ("ing", ""),
        ("ed", ""),
        ("ly", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            if suffix == "es" and not word.endswith(("ches", "shes", "xes", "zes", "sses")):
                # "files" → "file" (only strip the s), "boxes" → "box"
                return word[:-1]
            return word[: len(word) - len(suffix)] + replacement
    return word


def lexical_tokens(text: str) -> list[str]:
    """Tokens for BM25: identifiers split, lower-cased, stopwords dropped, lightly stemmed."""
    words: list[str] = []
    for chunk in text.split():
        for part in split_identifier(chunk):
            for token in _TOKEN.findall(part):
                if token not in STOPWORDS:
                    words.append(stem(token))
    return words


_CLAUSE = re.compile(
    r"(?<=[.!?;:])\s+|,\s+(?:and\s+|then\s+)?|\s+(?:and then|then|and also)\s+|\s+and\s+(?=[a-z]+\b)"
)


def split_query(query: str, *, max_parts: int = 6) -> list[str]:
    """The clauses of a multi-step request ("find X, then save it as Y"), each ≥ 3 words.

    A task that needs several tools reads as several requests; embedding each clause lets each
    tool match the part of the task it serves. Returns [] when there is only one clause.
    """
    parts: list[str] = []
    for piece in _CLAUSE.split(query):
        piece = piece.strip()
        if not piece:
            continue
        if len(piece.split()) < 3 and parts:
            parts[-1] = f"{parts[-1]} and {piece}"  # too short to stand alone: it belongs to the last
        else:
            parts.append(piece)
    parts = [p for p in parts if len(p.split()) >= 3]
    return parts[:max_parts] if len(parts) > 1 else []
