"""The tool-use loop: one shopper turn from the user's words to the assistant's answer.

`Engine.run_turn` takes a history and returns the turn's new messages; it
never stores anything, so a turn that fails or is cancelled part-way leaves
nothing behind. Persisting a completed turn is the caller's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, Literal, TypeVar

import msgspec

from shopbot.engine import history as histories
from shopbot.engine.model import ModelClient
from shopbot.engine.prompt import SYSTEM_PROMPT, ReasoningFilter, clean_text
from shopbot.errors import TurnTimeout
from shopbot.messages import (
    Message,
    ModelRequest,
    ModelResponse,
    StopReason,
    TextDelta,
    TextPart,
    ToolCall,
    Usage,
)
from shopbot.observability.observer import NO_OBSERVER, Observer
from shopbot.tools.dispatcher import ToolActivity, Toolbox, TurnContext

__all__ = ["Engine", "ToolFinished", "ToolStarted", "TurnEvent", "TurnFinished", "TurnResult"]

ROUND_LIMIT_REPLY = (
    "I'm sorry, I couldn't finish that request in the steps I'm allowed. "
    "Could you ask for it in smaller parts?"
)
# What the shopper reads when the model stopped for a reason other than finishing its answer.
STOP_REPLIES = {
    StopReason.MAX_TOKENS: "My answer was cut short. Please ask again, perhaps more narrowly.",
    StopReason.GUARDRAIL_INTERVENED: "Sorry, I can't help with that request.",
    StopReason.CONTENT_FILTERED: "Sorry, I can't help with that request.",
    StopReason.MALFORMED_MODEL_OUTPUT: "Sorry, something went wrong while I was answering. Please try again.",
    StopReason.MALFORMED_TOOL_USE: "Sorry, something went wrong while I was answering. Please try again.",
    StopReason.CONTEXT_WINDOW_EXCEEDED: "This conversation has grown too long for me. Please start a new one.",
}
T = TypeVar("T")
EMPTY_REPLY = "Sorry, I don't have an answer to that. Could you rephrase it?"


class TurnResult(msgspec.Struct, frozen=True):
    """The outcome of one turn: the reply, the new messages and what happened."""

    reply: str
    messages: tuple[Message, ...]
    tool_calls: tuple[ToolActivity, ...]
    model_calls: int
    usage: Usage
    stop_reason: StopReason | None


class ToolStarted(msgspec.Struct, frozen=True, tag="tool_started"):
    """The loop is running a tool call."""

    id: str
    name: str


class ToolFinished(msgspec.Struct, frozen=True, tag="tool_finished"):
    """A tool call finished."""

    id: str
    name: str
    status: Literal["success", "error"]


class TurnFinished(msgspec.Struct, frozen=True, tag="turn_finished"):
    """The turn is over; its result."""

    result: TurnResult


TurnEvent = TextDelta | ToolStarted | ToolFinished | TurnFinished


class Engine:
    """Runs shopper turns: asks the model, runs its tool calls, and loops until it answers.

    `observer` is told when a turn starts and finishes and when each model call ends.
    """

    def __init__(
        self,
        model: ModelClient,
        toolbox: Toolbox,
        *,
        system_prompt: str | None = None,
        max_rounds: int = 8,
        max_history_turns: int = 20,
        turn_timeout: float = 30.0,
        observer: Observer = NO_OBSERVER,
    ) -> None:
        self.model = model
        self.toolbox = toolbox
        self.system_prompt = system_prompt or SYSTEM_PROMPT
        self.max_rounds = max_rounds
        self.max_history_turns = max_history_turns
        self.turn_timeout = turn_timeout
        self.observer = observer

    async def run_turn(
        self, history: Sequence[Message], text: str, *, user_id: str, turn_id: str | None = None
    ) -> TurnResult:
        """Run one turn on `history` for the shopper `user_id`; return the new messages.

        `history` should be complete turns; a broken one is cut back to its
        valid part and trimmed to the window, so the request is always valid.
        """
        async for event in self.turn_events(history, text, user_id=user_id, turn_id=turn_id, stream=False):
            if isinstance(event, TurnFinished):
                return event.result
        raise AssertionError("a turn always finishes")  # pragma: no cover

    async def turn_events(
        self, history: Sequence[Message], text: str, *, user_id: str, turn_id: str | None = None, stream: bool = True
    ) -> AsyncIterator[TurnEvent]:
        """The same turn as `run_turn`, as it happens: text deltas (when `stream`), tool calls
        starting and finishing, and `TurnFinished` with the result last."""
        context = TurnContext(user_id=user_id, turn_id=turn_id or uuid.uuid4().hex)
        deadline = asyncio.get_running_loop().time() + self.turn_timeout
        past = histories.trim(histories.repair(history), self.max_history_turns - 1)
        new: list[Message] = [Message.user(text)]
        activity: list[ToolActivity] = []
        usage = Usage()
        self.observer.turn_started(context, stream=stream)
        try:
            for round_number in range(1, self.max_rounds + 1):
                request = self._request(past, new)
                if stream:
                    async with contextlib.aclosing(self._stream(request, deadline, context)) as events:
                        async for event in events:
                            if isinstance(event, TextDelta):
                                yield event
                            else:
                                response = event
                else:
                    response = await self._respond(request, deadline, context)
                usage += response.usage
                calls = response.message.tool_calls
                if response.stop_reason is not StopReason.TOOL_USE or not calls:
                    finished = self._finish(new, _reply(response), activity, round_number, usage, response.stop_reason)
                    break
                new.append(_without_reasoning(response.message))
                for call in calls:
                    yield ToolStarted(call.id, call.name)
                runs = await _by(deadline, self.toolbox.run(calls, context))
                for call, run in zip(calls, runs, strict=True):
                    yield ToolFinished(call.id, call.name, run.activity.status)
                activity.extend(run.activity for run in runs)
                new.append(Message("user", tuple(run.result for run in runs)))
            else:
                finished = self._finish(new, ROUND_LIMIT_REPLY, activity, self.max_rounds, usage, None)
        except BaseException as exc:  # cancelled or closed mid-turn included
            self.observer.turn_finished(context, None, exc)
            raise
        self.observer.turn_finished(context, finished.result, None)
        yield finished

    def _request(self, past: list[Message], new: list[Message]) -> ModelRequest:
        messages = (*past, *new)
        histories.check_request(messages)
        return ModelRequest(self.system_prompt, messages, self.toolbox.specs, stable_messages=len(past))

    async def _respond(self, request: ModelRequest, deadline: float, context: TurnContext) -> ModelResponse:
        """One model call, by the deadline, reported to the observer."""
        started = time.perf_counter()
        try:
            response = await _by(deadline, self.model.respond(request))
        except BaseException as exc:
            self.observer.model_call_finished(context, None, time.perf_counter() - started, exc)
            raise
        self.observer.model_call_finished(context, response, time.perf_counter() - started, None)
        return response

    async def _stream(
        self, request: ModelRequest, deadline: float, context: TurnContext
    ) -> AsyncIterator[TextDelta | ModelResponse]:
        """The model's stream with its reasoning text left out of the deltas, reported to the observer."""
        hidden = ReasoningFilter()
        started, answered = time.perf_counter(), False
        try:
            # Closed as soon as the turn stops reading (a cancelled turn must not hold a connection).
            async with contextlib.aclosing(self.model.stream(request)) as events:
                while True:
                    try:
                        event = await _by(deadline, anext(events))
                    except StopAsyncIteration:
                        return
                    if isinstance(event, TextDelta):
                        if shown := hidden.feed(event.text):
                            yield TextDelta(shown)
                    else:
                        answered = True
                        self.observer.model_call_finished(context, event, time.perf_counter() - started, None)
                        yield event
        except BaseException as exc:
            if not answered:
                self.observer.model_call_finished(context, None, time.perf_counter() - started, exc)
            raise

    def _finish(
        self,
        new: list[Message],
        reply: str,
        activity: list[ToolActivity],
        model_calls: int,
        usage: Usage,
        stop_reason: StopReason | None,
    ) -> TurnFinished:
        new.append(Message.assistant(reply))
        return TurnFinished(TurnResult(reply, tuple(new), tuple(activity), model_calls, usage, stop_reason))


async def _by(deadline: float, step: Awaitable[T]) -> T:
    """Await one step of the turn, or raise `TurnTimeout` at the turn's deadline.

    The deadline wraps each await rather than the whole turn because a
    streamed turn yields between steps, and a timeout must never span a yield.
    """
    try:
        async with asyncio.timeout_at(deadline):
            return await step
    except TimeoutError:
        raise TurnTimeout("the turn ran past its deadline") from None


def _reply(response: ModelResponse) -> str:
    """The shopper-facing answer for a response that ends the turn."""
    text = clean_text(response.message.text)
    if response.stop_reason in (StopReason.END_TURN, StopReason.STOP_SEQUENCE, StopReason.TOOL_USE):
        return text or EMPTY_REPLY
    if response.stop_reason is StopReason.MAX_TOKENS and text:
        return f"{text}\n\n(My answer was cut short.)"
    if response.stop_reason is StopReason.GUARDRAIL_INTERVENED and text:
        return text  # the guardrail's own configured message
    return STOP_REPLIES.get(response.stop_reason, EMPTY_REPLY)


def _without_reasoning(message: Message) -> Message:
    """The assistant's tool-call message as it is kept: reasoning and blank text removed, inputs storable."""
    parts = []
    for part in message.parts:
        if isinstance(part, TextPart):
            text = clean_text(part.text)
            if not text:
                continue
            part = TextPart(text)
        elif isinstance(part, ToolCall):
            part = ToolCall(part.id, part.name, _storable(part.input))
        parts.append(part)
    return Message(message.role, tuple(parts))


def _storable(value: Any) -> Any:
    """`value` with integers too large for msgpack (the session stores' format) written as text.

    Such a number is never a valid tool input anyway; as text, the call still fails
    validation (the model is told) and the history stays storable.
    """
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return str(value)
    return value
