"""The request rules Bedrock enforces on Converse, with Bedrock's own wording.

Two kinds of message, as Bedrock has them: the conversation rules speak of
``messages.2.content`` (0-based), while constraints of the API model (patterns,
ranges) use the service framework's form, ``messages.1.member.role`` (1-based).
`validate_request` raises `BedrockError` (400 ``ValidationException``) on the
first broken rule and returns nothing otherwise; it works on the decoded JSON
body, before anything is converted.
"""

from __future__ import annotations

import re
from typing import Any

from shopbot.mock_bedrock.errors import BedrockError

__all__ = ["validate_request"]

_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_NAME_RULE = "Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+"
_NOVA_SCHEMA_KEYS = frozenset({"type", "properties", "required"})

MALFORMED = "Malformed input request, please reformat your input and try again."
START_WITH_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts with a user message."
)
ALTERNATE = (
    "A conversation must alternate between user and assistant roles. "
    "Make sure the conversation alternates between user and assistant roles and try again."
)
END_WITH_USER = (
    "A conversation must end with a user message. Try again with a conversation that ends with a user message."
)
TOOL_CONFIG_REQUIRED = "The toolConfig field must be defined when using toolUse and toolResult content blocks."


def validate_request(body: Any, model_id: str) -> None:
    """Raise `BedrockError` if Bedrock would refuse this Converse body for `model_id`."""
    if not isinstance(body, dict):
        raise BedrockError.validation(MALFORMED)
    has_tool_config = _check_tool_config(body.get("toolConfig"), model_id)
    _check_inference(body.get("inferenceConfig"))
    _check_system(body.get("system"))
    messages = body.get("messages")
    if messages is None:
        raise BedrockError.constraint(None, "messages", "Member must not be null")
    if not isinstance(messages, list):
        raise BedrockError.validation(MALFORMED)
    if not messages:
        raise BedrockError.validation(START_WITH_USER)
    if _check_messages(messages) and not has_tool_config:
        raise BedrockError.validation(TOOL_CONFIG_REQUIRED)


def _check_messages(messages: list[Any]) -> bool:
    """Check every message and the tool pairing; True if any tool block appears."""
    uses_tools = False
    pending: list[str] = []  # toolUse ids of the previous assistant message
    previous_role = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            raise BedrockError.validation(MALFORMED)
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise BedrockError.constraint(
                role, f"messages.{i + 1}.member.role", "Member must satisfy enum value set: [user, assistant]"
            )
        if i == 0 and role != "user":
            raise BedrockError.validation(START_WITH_USER)
        if role == previous_role:
            raise BedrockError.validation(ALTERNATE)
        previous_role = role
        if not message["content"]:
            raise BedrockError.validation(
                f"The content field in the Message object at messages.{i} is empty. "
                "Add a ContentBlock object to the content field and try again."
            )
        uses, results = _check_blocks(message["content"], i)
        uses_tools = uses_tools or bool(uses or results)
        if role == "assistant":
            if results:
                raise BedrockError.validation(
                    f"Unexpected toolResult blocks at messages.{i}.content: only a user message can hold them."
                )
            pending = uses
            continue
        if uses:
            raise BedrockError.validation(
                f"Unexpected toolUse blocks at messages.{i}.content: only an assistant message can hold them."
            )
        _check_results(pending, results, i)
        pending = []
    if previous_role != "user":
        raise BedrockError.validation(END_WITH_USER)
    return uses_tools


def _check_blocks(blocks: list[Any], i: int) -> tuple[list[str], list[str]]:
    """Check one message's content blocks; return its toolUse and toolResult ids."""
    uses: list[str] = []
    results: list[str] = []
    for j, block in enumerate(blocks):
        if not isinstance(block, dict) or len(block) != 1:
            raise BedrockError.validation(MALFORMED)
        where = f"messages.{i + 1}.member.content.{j + 1}.member"
        if "text" in block:
            text = block["text"]
            if not isinstance(text, str):
                raise BedrockError.validation(MALFORMED)
            if not text.strip():
                raise BedrockError.validation(
                    f"The text field in the ContentBlock object at messages.{i}.content.{j} is blank. "
                    "Add text to the text field, and try again."
                )
        elif "toolUse" in block:
            use = block["toolUse"]
            if not isinstance(use, dict):
                raise BedrockError.validation(MALFORMED)
            if use.get("input") is None:
                raise BedrockError.constraint(None, f"{where}.toolUse.input", "Member must not be null")
            uses.append(_check_name(use.get("toolUseId"), f"{where}.toolUse.toolUseId"))
            _check_name(use.get("name"), f"{where}.toolUse.name")
        elif "toolResult" in block:
            result = block["toolResult"]
            if not isinstance(result, dict) or not isinstance(result.get("content"), list):
                raise BedrockError.validation(MALFORMED)
            results.append(_check_name(result.get("toolUseId"), f"{where}.toolResult.toolUseId"))
    return uses, results


def _check_results(pending: list[str], results: list[str], i: int) -> None:
    """A user message must answer each toolUse of the assistant message before it, and nothing else."""
    if len(results) > len(pending):
        raise BedrockError.validation(
            f"The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks "
            "of previous turn."
        )
    answered = set(results)
    missing = [use_id for use_id in pending if use_id not in answered]
    if missing:
        raise BedrockError.validation(
            f"Expected toolResult blocks at messages.{i}.content for the following Ids: {', '.join(missing)}"
        )


def _check_name(value: Any, where: str) -> str:
    if value is None:
        raise BedrockError.constraint(None, where, "Member must not be null")
    if not isinstance(value, str):
        raise BedrockError.validation(MALFORMED)
    if not _NAME.fullmatch(value):
        constraint = _NAME_RULE if 0 < len(value) <= 64 else "Member must have length between 1 and 64"
        raise BedrockError.constraint(value, where, constraint)
    return value


def _check_tool_config(config: Any, model_id: str) -> bool:
    """Check `toolConfig`; True if the request has one."""
    if config is None:
        return False
    tools = config.get("tools") if isinstance(config, dict) else None
    if not isinstance(tools, list):
        raise BedrockError.validation(MALFORMED)
    if not tools:
        raise BedrockError.constraint(
            "[]", "toolConfig.tools", "Member must have length greater than or equal to 1"
        )
    nova = "amazon.nova" in model_id
    for k, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise BedrockError.validation(MALFORMED)
        spec = tool.get("toolSpec")
        if spec is None:
            continue  # a cachePoint
        where = f"toolConfig.tools.{k + 1}.member.toolSpec"
        if not isinstance(spec, dict):
            raise BedrockError.validation(MALFORMED)
        name = _check_name(spec.get("name"), f"{where}.name")
        schema = spec.get("inputSchema", {}).get("json") if isinstance(spec.get("inputSchema"), dict) else None
        if not isinstance(schema, dict):
            raise BedrockError.constraint(None, f"{where}.inputSchema", "Member must not be null")
        extra = sorted(set(schema) - _NOVA_SCHEMA_KEYS)
        if nova and extra:
            raise BedrockError.validation(
                f"The model returned the following errors: the input schema of tool '{name}' has unsupported "
                f"top-level fields {extra}; only 'type', 'properties' and 'required' are supported."
            )
    return True


def _check_inference(config: Any) -> None:
    if config is None:
        return
    if not isinstance(config, dict):
        raise BedrockError.validation(MALFORMED)
    max_tokens = config.get("maxTokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise BedrockError.validation(MALFORMED)
        if max_tokens < 1:
            raise BedrockError.constraint(
                max_tokens, "inferenceConfig.maxTokens", "Member must have value greater than or equal to 1"
            )
    for field in ("temperature", "topP"):
        value = config.get(field)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise BedrockError.validation(MALFORMED)
        if value < 0:
            raise BedrockError.constraint(
                value, f"inferenceConfig.{field}", "Member must have value greater than or equal to 0"
            )
        if value > 1:
            raise BedrockError.constraint(
                value, f"inferenceConfig.{field}", "Member must have value less than or equal to 1"
            )


def _check_system(system: Any) -> None:
    if system is None:
        return
    if not isinstance(system, list):
        raise BedrockError.validation(MALFORMED)
    for k, block in enumerate(system):
        if not isinstance(block, dict):
            raise BedrockError.validation(MALFORMED)
        text = block.get("text")
        if isinstance(text, str) and not text:
            raise BedrockError.constraint(
                "", f"system.{k + 1}.member.text", "Member must have length greater than or equal to 1"
            )
