"""LangChain messages as the plain role/content dicts that chat templates and chat APIs take."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ChatMessage, HumanMessage, SystemMessage

_ROLES: dict[type[BaseMessage], str] = {SystemMessage: "system", HumanMessage: "user", AIMessage: "assistant"}


def message_text(content: str | list[Any]) -> str:
    """The text of a message content: a string, or the text parts of a multimodal list."""
    if isinstance(content, str):
        return content
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and part.get("type") == "text":
            parts.append(str(part.get("text", "")))
    return "".join(parts)


def to_chat_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """``[{"role": ..., "content": ...}]`` for system, user, assistant and generic chat messages."""
    converted = []
    for message in messages:
        if isinstance(message, ChatMessage):
            role = message.role
        else:
            role = next((r for cls, r in _ROLES.items() if isinstance(message, cls)), None)
            if role is None:
                raise ValueError(f"unsupported message type for a chat model: {type(message).__name__}")
        converted.append({"role": role, "content": message_text(message.content)})
    return converted
