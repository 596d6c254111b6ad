"""shopbot's own Bedrock adapter, through the endpoint, gets exactly what the served model answered."""

from __future__ import annotations

import pytest

from shopbot.engine.bedrock import BedrockModel
from shopbot.engine.offline import OfflineModel
from shopbot.messages import Message, ModelRequest, TextPart, ToolCall, ToolResult
from shopbot.tools.schema import tool_spec
from shopbot.tools.specs import TOOL_INPUTS

TOOLS = tuple(tool_spec(name, struct) for name, struct in TOOL_INPUTS.items())
CALL = ToolCall("tooluse_0a1b2c", "search_products", {"query": "laptop"})
REQUESTS = {
    "greeting": ModelRequest("You help shoppers.", (Message.user("hello"),), TOOLS),
    "search": ModelRequest("You help shoppers.", (Message.user("show me laptops under $1000"),), TOOLS),
    "after a tool result": ModelRequest(
        "You help shoppers.",
        (
            Message.user("show me laptops"),
            Message("assistant", (CALL,)),
            Message("user", (ToolResult(CALL.id, '{"items":[],"total":0}'),)),
        ),
        TOOLS,
    ),
    "plain text history": ModelRequest(
        "", (Message.user("hi"), Message("assistant", (TextPart("Hello!"),)), Message.user("thanks"))
    ),
}


@pytest.mark.parametrize("name", REQUESTS)
async def test_bedrock_model_through_the_endpoint_matches_the_served_model(start, name):
    request = REQUESTS[name]
    served = OfflineModel()
    running = await start(served, model_ids={"us.amazon.nova-pro-v1:0"})
    adapter = BedrockModel(running.bedrock, model_id="us.amazon.nova-pro-v1:0")

    assert await adapter.respond(request) == await served.respond(request)
