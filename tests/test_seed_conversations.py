"""The seed's example conversations, end to end over real HTTP.

aioboto3 → the local Converse endpoint (serving the offline model) and the
storefront client → the reference shop, both on loopback ports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shopbot.engine import (
    Conversations,
    MemorySessionStore,
    StorefrontClient,
    create_engine,
    open_bedrock_model,
)
from shopbot.engine.offline import OfflineModel
from shopbot.mock_bedrock import create_converse_app
from shopbot.serving import serve_in_background
from shopbot.settings import Settings
from shopbot.shop.app import create_storefront_app


@pytest.fixture
async def chat() -> AsyncIterator[tuple[Conversations, StorefrontClient]]:
    async with (
        serve_in_background(create_converse_app(OfflineModel())) as model_url,
        serve_in_background(create_storefront_app(":memory:")) as shop_url,
    ):
        settings = Settings(bedrock_endpoint_url=model_url, backend_api_url=shop_url)
        async with (
            open_bedrock_model(settings, aws_access_key_id="testing", aws_secret_access_key="testing") as model,
            StorefrontClient.from_settings(settings) as shop,
        ):
            yield Conversations(create_engine(model, shop, settings), MemorySessionStore()), shop


async def test_the_seed_conversation(chat) -> None:
    conversations, shop = chat

    laptops = await conversations.chat("Show me laptops under $1000")
    session = laptops.session_id
    assert [t.name for t in laptops.tool_calls] == ["search_products"] and laptops.model_calls == 2
    for name, price in [("HP Pavilion 15", "799.99"), ("Dell XPS 13", "999.99"), ("Acer Aspire 5", "649.99")]:
        assert name in laptops.reply and price in laptops.reply
    assert "MacBook Air M2" not in laptops.reply  # 1199.00 is over the limit

    added = await conversations.chat("Add the HP Pavilion 15 to my cart", session_id=session)
    assert [(t.name, t.status) for t in added.tool_calls] == [("add_to_cart", "success")]
    assert added.model_calls == 2  # the product id comes from the search in the history
    assert "HP Pavilion 15" in added.reply and "799.99" in added.reply
    cart = await shop.get_cart(added.user_id)
    assert [(line.product_id, line.quantity) for line in cart.items] == [("hp-pavilion-15", 1)]

    viewed = await conversations.chat("What's in my cart?", session_id=session)
    assert [t.name for t in viewed.tool_calls] == ["view_cart"]
    assert "HP Pavilion 15" in viewed.reply and "799.99" in viewed.reply

    accessories = await conversations.chat("What accessories go with my laptop?", session_id=session)
    assert [t.name for t in accessories.tool_calls] == ["get_recommendations"]
    suggested = await shop.recommendations(user_id=added.user_id, product_id="hp-pavilion-15")
    assert suggested.items and suggested.items[0].name in accessories.reply

    compared = await conversations.chat("Compare Dell XPS 13 and MacBook Air M2", session_id=session)
    assert compared.model_calls == 2 and len(compared.tool_calls) == 2  # both lookups in one round
    for text in ("Dell XPS 13", "999.99", "MacBook Air M2", "1199.00"):
        assert text in compared.reply

    assert laptops.usage.input_tokens > 0 and compared.usage.output_tokens > 0


async def test_a_shoppers_cart_is_not_another_shoppers(chat) -> None:
    conversations, shop = chat
    await conversations.chat("Show me laptops under $1000", user_id="alice")
    alice = await conversations.chat("Show me laptops under $1000", user_id="alice")
    await conversations.chat("Add the Dell XPS 13 to my cart", session_id=alice.session_id, user_id="alice")
    bob = await conversations.chat("What's in my cart?", user_id="bob")
    assert "empty" in bob.reply.lower()
    assert (await shop.get_cart("alice")).item_count == 1
    assert (await shop.get_cart("bob")).item_count == 0
