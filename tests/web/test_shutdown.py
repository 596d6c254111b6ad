"""Graceful shutdown of a real `shopbot serve` process: drain, finish running turns, exit cleanly."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx

from shopbot.engine.offline import OfflineModel
from shopbot.mock_bedrock import create_converse_app
from shopbot.serving import serve_in_background
from shopbot.shop.app import create_storefront_app

from .test_scale import chat, service


async def test_sigterm_drains_then_lets_the_running_turn_finish() -> None:
    async with (
        serve_in_background(create_converse_app(OfflineModel(), latency_ms=700)) as slow_model,
        serve_in_background(create_storefront_app()) as shop_url,
    ):
        env = {
            "BACKEND_API_URL": shop_url,
            "SHOPBOT_MODEL_PROVIDER": "bedrock",
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": slow_model,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "SHOPBOT_SHUTDOWN_DRAIN_SECONDS": "1",
            "SHOPBOT_SHUTDOWN_GRACE_SECONDS": "10",
        }
        async with service(**env) as (url, process):
            running = asyncio.create_task(chat(url, "Show me laptops under $1000"))  # 2 model calls: ~1.4 s
            await asyncio.sleep(0.3)
            stopping = time.monotonic()
            process.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)
            async with httpx.AsyncClient() as client:
                ready = await client.get(f"{url}/api/v1/health/ready")
                alive = await client.get(f"{url}/api/v1/health")
            assert ready.status_code == 503 and ready.json() == {"detail": "Service not ready - shutting down"}
            assert alive.status_code == 200  # still serving while the load balancer drains it

            answer = await running
            assert answer.status_code == 200 and "HP Pavilion 15" in answer.json()["response"]
            code = await asyncio.to_thread(process.wait, 15)
            assert code == 0  # a clean exit, not "killed by SIGTERM"
            assert time.monotonic() - stopping < 1 + 10
