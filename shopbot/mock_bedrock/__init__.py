"""A local endpoint that speaks Bedrock Runtime's Converse protocol.

It serves any `shopbot.engine.model.ModelClient` over the real wire format, so
aioboto3 (SigV4 signing, serialisation, error parsing, event-stream parsing)
can be pointed at it with ``endpoint_url``. Requests are validated as Bedrock
does; latency and faults can be injected, at start-up or at run time through
the ``/_mock/`` admin routes (see `shopbot.mock_bedrock.app`).
"""

from shopbot.mock_bedrock.app import create_converse_app
from shopbot.mock_bedrock.endpoint import ConverseEndpoint, Stats
from shopbot.mock_bedrock.errors import BedrockError
from shopbot.mock_bedrock.faults import (
    Fault,
    FaultConfig,
    FaultPlan,
    Latency,
    LatencyConfig,
    ScriptedFault,
)
from shopbot.mock_bedrock.server import run_converse_endpoint

__all__ = [
    "BedrockError",
    "ConverseEndpoint",
    "Fault",
    "FaultConfig",
    "FaultPlan",
    "Latency",
    "LatencyConfig",
    "ScriptedFault",
    "Stats",
    "create_converse_app",
    "run_converse_endpoint",
]
