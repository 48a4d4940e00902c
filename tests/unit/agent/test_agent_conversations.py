"""Conversations written once per request: nothing reaches storage before `flush`, every
record is written once at it, and what is stored reloads as the same conversation."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from integration.agent_support import Script, ScriptedModel, Turn
from strands import Agent
from strands.session import FileSessionManager
from strands.types.session import SessionMessage

from agentgw.agent.conversations import ConversationConflict, FileConversations, S3Conversations


def _tool() -> Any:
    from strands import tool

    @tool
    def get_time(timezone: str) -> str:
        """The time in a timezone."""
        return f"12:00 in {timezone}"

    return get_time


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    written: list[str] = []
    original = FileSessionManager._write_file
    original_create = FileConversations._create_message_once

    def counting(self: FileSessionManager, path: str, data: dict[str, Any]) -> None:
        written.append(Path(path).name)
        original(self, path, data)

    def counting_create(self: FileConversations, agent_id: str, message: SessionMessage) -> bool:
        # New messages are staged and linked into place, not written by `_write_file`.
        written.append(f"message_{message.message_id}.json")
        return original_create(self, agent_id, message)

    monkeypatch.setattr(FileSessionManager, "_write_file", counting)
    monkeypatch.setattr(FileConversations, "_create_message_once", counting_create)
    return written


def _agent(storage: Path, model: Any, tool: Any = None) -> tuple[Agent, FileConversations]:
    conversation = FileConversations(session_id="s-1", storage_dir=str(storage))
    agent = Agent(
        model=model,
        tools=[tool or _tool()],
        callback_handler=None,
        session_manager=conversation,
        agent_id="agentgw",
    )
    return agent, conversation


def _ask(storage: Path, script: Script, prompt: str) -> tuple[Agent, FileConversations]:
    agent, conversation = _agent(storage, ScriptedModel(script))
    agent(prompt)
    return agent, conversation


def test_a_turn_is_written_once_at_flush_and_reloads(tmp_path: Path, writes: list[str]) -> None:
    script = Script()
    script.play(Turn(tool_uses=[("get_time", {"timezone": "UTC"})]), Turn(text="It is noon."))
    agent, conversation = _ask(tmp_path, script, "What time is it?")

    assert writes == []  # held in memory during the invocation
    conversation.flush()
    assert sorted(writes) == sorted(
        ["session.json", "agent.json"] + [f"message_{i}.json" for i in range(4)]
    )  # user, tool use, tool result, answer: each once; the agent record once
    conversation.flush()
    assert len(writes) == 6  # nothing held twice

    writes.clear()
    script.play(Turn(text="Still noon."))
    again, second = _ask(tmp_path, script, "And now?")
    # The stored turn came back: the model saw it before the new prompt.
    assert [m["role"] for m in script.seen[0].messages] == ["user", "assistant", "user", "assistant", "user"]
    assert again.messages[:4] == agent.messages
    second.flush()
    # An existing session and agent: the agent record updated once, two new messages.
    assert sorted(writes) == ["agent.json", "message_4.json", "message_5.json"]


def test_reads_see_held_records(tmp_path: Path) -> None:
    script = Script()
    script.play(Turn(text="hello"))
    _, conversation = _ask(tmp_path, script, "hi")
    held = conversation.list_messages("s-1", "agentgw")
    assert [m.message_id for m in held] == [0, 1]
    assert conversation.read_agent("s-1", "agentgw") is not None
    assert conversation.read_message("s-1", "agentgw", 1) is not None
    assert not (tmp_path / "session_s-1").exists()
    conversation.flush()
    stored = FileSessionManager(session_id="s-1", storage_dir=str(tmp_path))
    assert [m.message_id for m in stored.list_messages("s-1", "agentgw")] == [0, 1]


class _FailingModel(ScriptedModel):
    """Replays the script, then fails the model call after it (throttled, 5xx, ...)."""

    async def stream(
        self, messages: Any, tool_specs: Any = None, system_prompt: Any = None, **kw: Any
    ) -> Any:
        if not self.script.turns:
            raise RuntimeError("model unavailable")
        async for event in super().stream(messages, tool_specs, system_prompt, **kw):
            yield event


def _roles_alternate(messages: list[dict[str, Any]]) -> bool:
    roles = [m["role"] for m in messages]
    return roles[0] == "user" and all(a != b for a, b in itertools.pairwise(roles))


def _next_turn_sees(storage: Path) -> list[dict[str, Any]]:
    script = Script()
    script.play(Turn(text="fine"))
    _, conversation = _ask(storage, script, "Try again?")
    conversation.flush()
    return script.seen[0].messages


@pytest.mark.parametrize("turns", [[], [Turn(tool_uses=[("get_time", {"timezone": "UTC"})])]])
def test_a_failed_turn_is_closed_so_the_next_turn_alternates_roles(tmp_path: Path, turns: list[Turn]) -> None:
    # Bedrock's Converse rejects two user messages in a row: a stored turn that ends with the
    # prompt or a tool result would make every later request of the session fail.
    script = Script()
    script.play(*turns)
    agent, conversation = _agent(tmp_path, _FailingModel(script))
    with pytest.raises(Exception, match="model unavailable"):  # wrapped after the first cycle
        agent("What time is it?")
    conversation.close_interrupted_turn(agent, "the agent failed (RuntimeError)")
    conversation.flush()

    seen = _next_turn_sees(tmp_path)
    assert _roles_alternate(seen), [m["role"] for m in seen]
    assert seen[0]["content"][0]["text"] == "What time is it?"  # the prompt is kept
    assert "without an answer" in seen[-2]["content"][0]["text"]


def test_a_turn_cancelled_in_a_tool_call_is_closed_with_an_error_result(tmp_path: Path) -> None:
    import asyncio

    from strands import tool

    @tool
    async def get_time(timezone: str) -> str:
        """The time in a timezone."""
        await asyncio.sleep(60)
        return "never"

    script = Script()
    script.play(Turn(tool_uses=[("get_time", {"timezone": "UTC"})]))
    agent, conversation = _agent(tmp_path, ScriptedModel(script), get_time)

    async def until_deadline() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await agent.invoke_async("What time is it?")

    asyncio.run(until_deadline())
    assert "toolUse" in agent.messages[-1]["content"][0]  # stopped waiting for the tool
    conversation.close_interrupted_turn(agent, "the deadline passed")
    conversation.flush()

    seen = _next_turn_sees(tmp_path)
    assert _roles_alternate(seen), [m["role"] for m in seen]
    result = seen[2]["content"][0]["toolResult"]
    assert result["status"] == "error"


def test_closing_a_finished_turn_changes_nothing(tmp_path: Path) -> None:
    script = Script()
    script.play(Turn(text="It is noon."))
    agent, conversation = _ask(tmp_path, script, "What time is it?")
    before = list(agent.messages)
    conversation.close_interrupted_turn(agent, "unused")
    assert agent.messages == before


def _stored_texts(conversation: FileSessionManager | S3Conversations) -> list[str]:
    return [
        block["text"]
        for stored in conversation.list_messages("s-1", "agentgw")
        for block in stored.message["content"]
        if "text" in block
    ]


def _two_requests_at_once(make: Any) -> None:
    """Two requests of one session load it together; the first to save keeps its turn."""
    script = Script()
    script.play(Turn(text="It is noon."))
    _ask_with(make, script, "What time is it?")[1].flush()  # the session's earlier turn

    script.play(Turn(text="Noon in Tokyo."), Turn(text="Noon in Paris."))
    first, first_store = _agent_with(make, ScriptedModel(script))
    second, second_store = _agent_with(make, ScriptedModel(script))
    first("And in Tokyo?")
    second("And in Paris?")
    first_store.flush()
    with pytest.raises(ConversationConflict, match="message 2 exists"):
        second_store.flush()

    stored = make()
    assert _stored_texts(stored) == ["What time is it?", "It is noon.", "And in Tokyo?", "Noon in Tokyo."]
    assert stored.read_agent("s-1", "agentgw") is not None


def _agent_with(make: Any, model: Any) -> tuple[Agent, Any]:
    conversation = make()
    agent = Agent(
        model=model, tools=[_tool()], callback_handler=None, session_manager=conversation, agent_id="agentgw"
    )
    return agent, conversation


def _ask_with(make: Any, script: Script, prompt: str) -> tuple[Agent, Any]:
    agent, conversation = _agent_with(make, ScriptedModel(script))
    agent(prompt)
    return agent, conversation


def test_concurrent_turns_of_a_session_in_files_never_overwrite_each_other(tmp_path: Path) -> None:
    _two_requests_at_once(lambda: FileConversations(session_id="s-1", storage_dir=str(tmp_path)))
    assert not list(tmp_path.rglob("*.staged"))  # staging files are removed


def test_concurrent_turns_of_a_session_in_s3_never_overwrite_each_other(aws: Any) -> None:
    aws.client("s3").create_bucket(Bucket="agentgw-conversations")
    _two_requests_at_once(
        lambda: S3Conversations(
            session_id="s-1",
            bucket="agentgw-conversations",
            prefix="sessions/",
            region_name="us-east-1",
        )
    )
