"""Conversation storage for the agent: Strands' file or S3 session manager, written once per request.

Strands' repository session managers write through on every hook: each message as it is
appended, and the agent record (read, then written) after each of them, i.e. about ten
file writes or S3 requests for a request with one tool call. Here the writes of one
invocation are held in memory and written at its end (`flush`), each record once with its
final content, in the order Strands would have written them (session, agent, messages by
index); reads see the held records. A request that dies before `flush` leaves the stored
conversation as it was before the request, never half a turn. A turn the agent could not
finish (deadline, model or tool error, turn limit) is closed before it is written
(`close_interrupted_turn`), so that the next request of the session still works.

Two requests of one session at once both load the same conversation and number their new
messages from the same index. Messages are created only where none is stored yet (a new file
by hard link, an S3 PUT with `If-None-Match: *`): the first to save keeps its turn, the other
gets `ConversationConflict` with nothing of its turn written, instead of overwriting the first.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

from botocore.exceptions import ClientError
from strands import Agent
from strands.session import FileSessionManager, S3SessionManager
from strands.session.repository_session_manager import RepositorySessionManager
from strands.types.content import ContentBlock, Message
from strands.types.exceptions import SessionException
from strands.types.session import Session, SessionAgent, SessionMessage


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)


class ConversationConflict(RuntimeError):
    """Another request of the session saved its turn while this one ran; this turn was not saved."""


class _WriteBehind(RepositorySessionManager):
    """A repository session manager whose writes wait for `flush` (mixed into file / S3)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Set before the base initialiser, which already reads (and may create) the session.
        self._held_session: Session | None = None
        # agent id -> (latest record, created in this invocation)
        self._held_agents: dict[str, tuple[SessionAgent, bool]] = {}
        # (agent id, message index) -> (latest record, created in this invocation)
        self._held_messages: dict[tuple[str, int], tuple[SessionMessage, bool]] = {}
        super().__init__(*args, **kwargs)

    def create_session(self, session: Session, **kwargs: Any) -> Session:
        self._held_session = session
        return session

    def read_session(self, session_id: str, **kwargs: Any) -> Session | None:
        if self._held_session is not None and self._held_session.session_id == session_id:
            return self._held_session
        return super().read_session(session_id, **kwargs)

    def create_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        self._held_agents[session_agent.agent_id] = (session_agent, True)

    def read_agent(self, session_id: str, agent_id: str, **kwargs: Any) -> SessionAgent | None:
        held = self._held_agents.get(agent_id)
        return held[0] if held is not None else super().read_agent(session_id, agent_id, **kwargs)

    def update_agent(self, session_id: str, session_agent: SessionAgent, **kwargs: Any) -> None:
        held = self._held_agents.get(session_agent.agent_id)
        self._held_agents[session_agent.agent_id] = (session_agent, held is not None and held[1])

    def create_message(
        self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any
    ) -> None:
        self._held_messages[(agent_id, session_message.message_id)] = (session_message, True)

    def read_message(
        self, session_id: str, agent_id: str, message_id: int, **kwargs: Any
    ) -> SessionMessage | None:
        held = self._held_messages.get((agent_id, message_id))
        if held is not None:
            return held[0]
        return super().read_message(session_id, agent_id, message_id, **kwargs)

    def update_message(
        self, session_id: str, agent_id: str, session_message: SessionMessage, **kwargs: Any
    ) -> None:
        key = (agent_id, session_message.message_id)
        held = self._held_messages.get(key)
        self._held_messages[key] = (session_message, held is not None and held[1])

    def list_messages(
        self, session_id: str, agent_id: str, limit: int | None = None, offset: int = 0, **kwargs: Any
    ) -> list[SessionMessage]:
        held = {
            index: record for (agent, index), (record, _) in self._held_messages.items() if agent == agent_id
        }
        if not held:
            return super().list_messages(session_id, agent_id, limit, offset, **kwargs)
        agent = self._held_agents.get(agent_id)
        stored = (
            [] if agent is not None and agent[1] else super().list_messages(session_id, agent_id, **kwargs)
        )
        merged = {message.message_id: message for message in stored} | held
        ordered = [merged[index] for index in sorted(merged)]
        return ordered[offset : offset + limit] if limit is not None else ordered[offset:]

    def close_interrupted_turn(self, agent: Agent, reason: str) -> None:
        """End a turn left without a final answer so that the conversation stays valid.

        Bedrock's Converse rejects two user messages in a row, and Strands answers a trailing tool
        use with a tool result and then the next prompt: a turn stored as it stopped (the prompt,
        or a tool use or result last) would make every later request of the session fail. Kept:
        the prompt and the tool results so far; added: an error result for each tool use that got
        none, and an assistant message saying the turn ended without an answer, and why.
        """
        if not agent.messages:
            return
        last = agent.messages[-1]
        if last["role"] == "assistant":
            pending = [block["toolUse"]["toolUseId"] for block in last["content"] if "toolUse" in block]
            if not pending:
                return  # a finished turn
            results: list[ContentBlock] = [
                {"toolResult": {"toolUseId": use_id, "status": "error", "content": [{"text": reason}]}}
                for use_id in pending
            ]
            self._close_with(agent, {"role": "user", "content": results})
        note: ContentBlock = {"text": f"(This turn ended without an answer: {reason}.)"}
        self._close_with(agent, {"role": "assistant", "content": [note]})

    def _close_with(self, agent: Agent, message: Message) -> None:
        agent.messages.append(message)
        self.append_message(message, agent)

    def _create_message_once(self, agent_id: str, message: SessionMessage) -> bool:
        """Store a new message unless one with its index is stored already (then False)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Write what the invocation changed; each record once.

        Raises `ConversationConflict` when another request of the session saved first.
        """
        session, agents, messages = self._held_session, self._held_agents, self._held_messages
        self._held_session, self._held_agents, self._held_messages = None, {}, {}
        if session is not None:
            try:
                super().create_session(session)
            except SessionException:
                # Another request created the session meanwhile: whose turn is kept is decided
                # by the messages below.
                if super().read_session(session.session_id) is None:
                    raise
        for agent, created in agents.values():
            if created:
                super().create_agent(self.session_id, agent)
        for (agent_id, index), (message, created) in sorted(messages.items(), key=lambda item: item[0]):
            if not created:
                super().update_message(self.session_id, agent_id, message)
            elif not self._create_message_once(agent_id, message):
                raise ConversationConflict(
                    f"another request of session {self.session_id} saved its turn while this one ran "
                    f"(message {index} exists); this turn was not saved: send it again"
                )
        # After the messages: a refused turn leaves the stored agent record (its state) as it was.
        for agent, created in agents.values():
            if not created:
                super().update_agent(self.session_id, agent)


class FileConversations(_WriteBehind, FileSessionManager):
    """Conversations as files (the local stack), written once per request."""

    def _create_message_once(self, agent_id: str, message: SessionMessage) -> bool:
        path = self._get_message_path(self.session_id, agent_id, message.message_id)
        directory, name = os.path.split(path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        staged = os.path.join(directory, f".{name}.{uuid.uuid4().hex}.staged")  # not listed as a message
        # A new name of our own (O_EXCL: never follows a planted symlink), so no temporary file and
        # rename as in Strands' `_write_file`; compact JSON takes the C encoder (indent does not).
        with open(staged, "x", encoding="utf-8", newline="\n", opener=_private) as file:
            file.write(_dumps(message.to_dict()))
        try:
            os.link(staged, path)  # atomic, and refuses a name that exists
        except FileExistsError:
            return False
        finally:
            os.unlink(staged)
        return True


class S3Conversations(_WriteBehind, S3SessionManager):
    """Conversations in S3 (deployed), written once per request."""

    def _create_message_once(self, agent_id: str, message: SessionMessage) -> bool:
        key = self._get_message_path(self.session_id, agent_id, message.message_id)
        body = _dumps(message.to_dict()).encode("utf-8")
        try:
            self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", IfNoneMatch="*"
            )
        except ClientError as exc:
            # 412: the key exists; 409: a concurrent conditional PUT of the same key is under way.
            if exc.response.get("Error", {}).get("Code") in {
                "PreconditionFailed",
                "ConditionalRequestConflict",
            }:
                return False
            raise SessionException(f"Failed to write S3 object {key}: {exc}") from exc
        return True
