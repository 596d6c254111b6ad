"""What a turn costs at the model stays under the committed ceilings (a regression guard, not a timed test).

`bench.cost.measure_cost()` runs the benchmark scenario (33 turns) and a 32-turn
conversation in-process, about a second: the production Bedrock adapter with only
its transport replaced (botocore serialises each call; the local Converse endpoint's
logic answers with the offline model), the reference storefront through
`httpx.ASGITransport`. The ceilings live in `bench/cost_ceilings.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.cost import measure_cost
from bench.scenario import COMPARE_TURN, ONE_TOOL_TURN

CEILINGS = json.loads((Path(__file__).parent.parent / "bench" / "cost_ceilings.json").read_text())


@pytest.fixture(scope="module")
def cost() -> dict[str, Any]:
    return measure_cost()


def test_the_scenario_runs_as_written(cost) -> None:
    # Otherwise the ceilings below would hold a different workload.
    assert cost["scenario"]["turns_not_as_expected"] == []
    assert cost["long"]["turns_not_as_expected"] == []


def test_model_calls_per_turn_are_under_the_ceiling(cost) -> None:
    assert cost["scenario"]["model_calls_per_turn"] <= CEILINGS["scenario_model_calls_per_turn"]


@pytest.mark.parametrize(
    ("part", "measure"),
    [
        ("scenario", "bytes_per_turn"),
        ("scenario", "est_input_tokens_per_turn"),
        ("long", "bytes_per_turn"),
        ("long", "max_bytes_per_turn"),
    ],
)
def test_what_is_sent_to_the_model_is_under_the_ceiling(cost, part: str, measure: str) -> None:
    assert cost[part][measure] <= CEILINGS[f"{part}_{measure}"]


def test_one_tool_requests_and_comparisons_take_two_model_calls(cost) -> None:
    turns = cost["scenario_turns"]
    one_tool = [t for t in turns if len(t["tools"]) == 1]
    compares = [t for t in turns if t["text"].startswith("Compare")]
    assert ONE_TOOL_TURN in {t["text"] for t in one_tool} and COMPARE_TURN in {t["text"] for t in compares}
    assert {t["text"]: t["model_calls"] for t in one_tool} == {t["text"]: 2 for t in one_tool}
    # Both products are looked up in one round: two calls, whatever the history holds.
    assert {t["text"]: (t["model_calls"], len(t["tools"])) for t in compares} == {
        t["text"]: (2, 2) for t in compares
    }


def test_requests_stop_growing_once_the_history_window_is_full(cost) -> None:
    size = {int(turn): size for turn, size in cost["long"]["bytes_at_turn"].items()}
    assert size[20] > size[10] > size[1]  # the history does travel with each request...
    # ...until the window is full at turn 20: turns 30 and 31 repeat turns 20 and 21 (a 10-turn cycle).
    assert size[30] <= size[20] * 1.05
    assert size[31] <= size[21] * 1.05
