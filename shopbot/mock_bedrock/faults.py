"""The endpoint's knobs: latency (before the first byte, and between stream
events), and injected faults.

A `FaultPlan` decides, call by call, whether a valid request fails and how.
Scripted faults come first ("fail the next 2 calls with a throttle"), so a
test can break an exact call; after them each kind has a probability, drawn
from a seeded generator so that a benchmark run can be repeated.

Where each fault shows (see `FAULT_ERRORS`)::

    throttle          429 ThrottlingException            at once
    unavailable       503 ServiceUnavailableException    at once
    internal          500 InternalServerException        at once
    access_denied     403 AccessDeniedException          at once
    model_timeout     408 ModelTimeoutException          after the latency
    stream_interrupt  converse-stream: HTTP 200, the first events, then an
                      exception event (`interrupt_error`); converse: a 500

"At once" errors are refused at Bedrock's front door and skip the latency;
the others happen once the request has reached the model.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from typing import Annotated, Literal

import msgspec

from shopbot.mock_bedrock.errors import BedrockError

__all__ = [
    "FAULT_ERRORS",
    "Fault",
    "FaultConfig",
    "FaultPlan",
    "Latency",
    "LatencyConfig",
    "ScriptedFault",
    "StreamError",
    "fault_error",
]


class Fault(enum.StrEnum):
    """A kind of failure the endpoint can inject."""

    THROTTLE = "throttle"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"
    ACCESS_DENIED = "access_denied"
    MODEL_TIMEOUT = "model_timeout"
    STREAM_INTERRUPT = "stream_interrupt"


FAULT_ERRORS: dict[Fault, tuple[str, str]] = {
    Fault.THROTTLE: ("ThrottlingException", "Too many requests, please wait before trying again."),
    Fault.UNAVAILABLE: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
    Fault.INTERNAL: ("InternalServerException", "The server encountered an internal error. Try again later."),
    Fault.ACCESS_DENIED: (
        "AccessDeniedException",
        "You don't have access to the model with the specified model ID.",
    ),
    Fault.MODEL_TIMEOUT: (
        "ModelTimeoutException",
        "Model has timed out in processing the request. Try your request again.",
    ),
    Fault.STREAM_INTERRUPT: ("InternalServerException", "The model stream was interrupted. Try again later."),
}

# The exception events ConverseStream's output union allows.
StreamError = Literal[
    "throttlingException",
    "serviceUnavailableException",
    "internalServerException",
    "modelStreamErrorException",
    "validationException",
]

Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
NonNegativeMs = Annotated[float, msgspec.Meta(ge=0.0)]


class ScriptedFault(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Fail the next `times` calls with `fault`."""

    fault: Fault
    times: Annotated[int, msgspec.Meta(ge=1)] = 1


class FaultConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A fault plan as data: the body of ``POST /_mock/faults``."""

    throttle: Probability = 0.0
    unavailable: Probability = 0.0
    internal: Probability = 0.0
    access_denied: Probability = 0.0
    model_timeout: Probability = 0.0
    stream_interrupt: Probability = 0.0
    interrupt_error: StreamError = "throttlingException"
    seed: int | None = 0
    script: tuple[ScriptedFault, ...] = ()

    def __post_init__(self) -> None:
        if sum(self.probabilities().values()) > 1.0 + 1e-9:
            raise ValueError("fault probabilities add up to more than 1")

    def probabilities(self) -> dict[Fault, float]:
        """The probability of each fault kind, in draw order."""
        return {fault: getattr(self, fault.value) for fault in Fault}


class FaultPlan:
    """Which calls fail: scripted faults first, then seeded random draws.

    >>> plan = FaultPlan(throttle=0.1, seed=7).fail_next(Fault.UNAVAILABLE, times=2)

    Only valid requests consume a draw; requests Bedrock would refuse anyway
    (validation, unknown model) never do.
    """

    def __init__(
        self,
        *,
        throttle: float = 0.0,
        unavailable: float = 0.0,
        internal: float = 0.0,
        access_denied: float = 0.0,
        model_timeout: float = 0.0,
        stream_interrupt: float = 0.0,
        interrupt_error: StreamError = "throttlingException",
        seed: int | None = 0,
    ) -> None:
        config = msgspec.convert(
            {
                "throttle": throttle,
                "unavailable": unavailable,
                "internal": internal,
                "access_denied": access_denied,
                "model_timeout": model_timeout,
                "stream_interrupt": stream_interrupt,
                "interrupt_error": interrupt_error,
                "seed": seed,
            },
            FaultConfig,
        )
        self._set(config)

    @classmethod
    def from_config(cls, config: FaultConfig) -> FaultPlan:
        """A plan from its data form (scripted faults included)."""
        plan = cls.__new__(cls)
        plan._set(config)
        return plan

    def _set(self, config: FaultConfig) -> None:
        self.interrupt_error: StreamError = config.interrupt_error
        self._seed = config.seed
        self._rng = random.Random(config.seed)
        self._thresholds: list[tuple[float, Fault]] = []
        total = 0.0
        for fault, probability in config.probabilities().items():
            if probability > 0:
                total += probability
                self._thresholds.append((total, fault))
        self._probabilities = config.probabilities()
        self._script: deque[Fault] = deque()
        for step in config.script:
            self.fail_next(step.fault, times=step.times)

    def fail_next(self, fault: Fault, *, times: int = 1) -> FaultPlan:
        """Queue `fault` for the next `times` valid calls (after those already queued)."""
        if times < 1:
            raise ValueError("times must be at least 1")
        self._script.extend([Fault(fault)] * times)
        return self

    def next_fault(self) -> Fault | None:
        """The fault for the call being served, or None when it should succeed."""
        if self._script:
            return self._script.popleft()
        if not self._thresholds:
            return None
        draw = self._rng.random()
        for threshold, fault in self._thresholds:
            if draw < threshold:
                return fault
        return None

    def config(self) -> FaultConfig:
        """The plan as data, with the scripted faults still pending."""
        script: list[ScriptedFault] = []
        for fault in self._script:
            if script and script[-1].fault is fault:
                script[-1] = ScriptedFault(fault, script[-1].times + 1)
            else:
                script.append(ScriptedFault(fault))
        return FaultConfig(
            **{fault.value: p for fault, p in self._probabilities.items()},
            interrupt_error=self.interrupt_error,
            seed=self._seed,
            script=tuple(script),
        )


def fault_error(fault: Fault) -> BedrockError:
    """The HTTP error a fault answers with."""
    code, message = FAULT_ERRORS[fault]
    return BedrockError(code, message)


class LatencyConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of ``POST /_mock/latency``."""

    latency_ms: NonNegativeMs = 0.0
    jitter_ms: NonNegativeMs = 0.0
    stream_chunk_ms: NonNegativeMs = 0.0
    seed: int | None = 0


class Latency:
    """How long the endpoint takes: `latency_ms` plus up to `jitter_ms` before the
    first byte, then `stream_chunk_ms` between consecutive stream events."""

    def __init__(
        self, latency_ms: float = 0.0, jitter_ms: float = 0.0, *, stream_chunk_ms: float = 0.0, seed: int | None = 0
    ) -> None:
        if latency_ms < 0 or jitter_ms < 0 or stream_chunk_ms < 0:
            raise ValueError("latency, jitter and stream chunk delay must not be negative")
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.stream_chunk_ms = stream_chunk_ms
        self._seed = seed
        self._rng = random.Random(seed)

    @classmethod
    def from_config(cls, config: LatencyConfig) -> Latency:
        """A latency from its data form."""
        return cls(config.latency_ms, config.jitter_ms, stream_chunk_ms=config.stream_chunk_ms, seed=config.seed)

    def config(self) -> LatencyConfig:
        """The latency as data."""
        return LatencyConfig(
            latency_ms=self.latency_ms, jitter_ms=self.jitter_ms, stream_chunk_ms=self.stream_chunk_ms, seed=self._seed
        )

    def seconds(self) -> float:
        """The wait before one call's first byte, in seconds."""
        jitter = self._rng.uniform(0.0, self.jitter_ms) if self.jitter_ms else 0.0
        return (self.latency_ms + jitter) / 1000.0

    def chunk_seconds(self) -> float:
        """The wait between two consecutive stream events, in seconds."""
        return self.stream_chunk_ms / 1000.0
