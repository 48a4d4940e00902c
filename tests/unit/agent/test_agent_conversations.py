"""Conversations written once per request: nothing reaches storage before `flush`, every
record is written once at it, and what is stored reloads as the same conversation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from integration.agent_support import Script, ScriptedModel, Turn
from strands import Agent
from strands.session import FileSessionManager

from agentgw.agent.conversations import FileConversations


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

    def counting(self: FileSessionManager, path: str, data: dict[str, Any]) -> None:
        written.append(Path(path).name)
        original(self, path, data)

    monkeypatch.setattr(FileSessionManager, "_write_file", counting)
    return written


def _ask(storage: Path, script: Script, prompt: str) -> tuple[Agent, FileConversations]:
    conversation = FileConversations(session_id="s-1", storage_dir=str(storage))
    agent = Agent(
        model=ScriptedModel(script),
        tools=[_tool()],
        callback_handler=None,
        session_manager=conversation,
        agent_id="agentgw",
    )
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
