"""Where conversations are kept: S3 when the deployment names a bucket, else files.

A `ConversationStore` is passed to the service by whoever composes it; `open` gives the
session manager (`agentgw.agent.conversations`) for one request's session.
"""

from __future__ import annotations

import os

from botocore.config import Config as BotocoreConfig

from agentgw.agent.conversations import FileConversations, S3Conversations
from agentgw.agent.settings import Settings

DEFAULT_SESSION_DIR = "/tmp/agentgw-sessions"
# Session reads and saves run under the deadline; a stuck S3 call must not hold the worker long.
S3_SESSION_CONFIG = BotocoreConfig(
    connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 2, "mode": "standard"}
)


class ConversationStore:
    """Opens the conversation of a session, in S3 (`AGENTGW_SESSION_BUCKET`) or in files."""

    def open(self, settings: Settings, session_id: str) -> FileConversations | S3Conversations:
        if settings.session_bucket:
            return S3Conversations(
                session_id=session_id,
                bucket=settings.session_bucket,
                prefix=settings.session_prefix,
                region_name=os.environ.get("AWS_REGION"),
                boto_client_config=S3_SESSION_CONFIG,
            )
        return FileConversations(
            session_id=session_id, storage_dir=settings.session_dir or DEFAULT_SESSION_DIR
        )
