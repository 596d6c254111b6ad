"""Run the benchmark suite in sequence and put the latest numbers in bench/README.md.

    python bench/run_all.py [--only cost,memory]

Runs cost, overhead, concurrency, memory and streaming, each as its own process
(`python -m bench.<name>`, so none inherits another's memory or connections),
showing their output as it comes. Each writes its own bench/results/<name>-<UTC>.json;
this writes the summary to bench/results/suite-<UTC>.json and replaces the table
between the `bench-suite:latest` markers of bench/README.md (nothing else there).
Takes about two minutes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench._common import machine, write_result

SUITE = ("cost", "overhead", "concurrency", "memory", "streaming")
README = Path(__file__).parent / "README.md"
START, END = "<!-- bench-suite:latest:start -->", "<!-- bench-suite:latest:end -->"
TIMEOUT_SECONDS = 300


def run_one(name: str) -> dict[str, Any]:
    """Run `bench.<name>`, echoing its output; its report (the JSON on its last line)."""
    print(f"\n=== {name} ===", flush=True)
    process = subprocess.Popen([sys.executable, "-m", f"bench.{name}"], stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(TIMEOUT_SECONDS, process.kill)
    watchdog.start()
    last = ""
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if not line.startswith('{"benchmark"'):
                print(line, end="", flush=True)
            last = line
    finally:
        watchdog.cancel()
    if process.wait(30) != 0:
        raise RuntimeError(f"bench.{name} failed (exit status {process.returncode})")
    return json.loads(last)


def rows(reports: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(measure, latest value, target or ideal) for the README table."""
    out: list[tuple[str, str, str]] = []
    if cost := reports.get("cost"):
        s, g = cost["scenario"], cost["long"]["bytes_at_turn"]
        out += [
            ("model calls per turn (scenario)", f"{s['model_calls_per_turn']:.2f}", "one-tool and compare turns: 2"),
            ("bytes sent to the model per turn", f"{s['bytes_per_turn']:,.0f}", "ceiling in cost_ceilings.json"),
            ("est. input tokens per turn (bytes/4)", f"{s['est_input_tokens_per_turn']:,.0f}", "ceiling"),
            ("cacheReadInputTokens per turn", f"{s['cache_read_tokens_per_turn']:,.0f}", "reported by the endpoint"),
            ("bytes per turn at turn 1 / 10 / 20 / 30 (long)", f"{g['1']:,} / {g['10']:,} / {g['20']:,} / {g['30']:,}",
             "plateau from turn 20"),
        ]
    if overhead := reports.get("overhead"):
        for level in overhead["levels"]:
            lat = level["latency_ms"]
            out.append((f"latency 0: {level['shoppers']} shoppers, p50 / p95 / p99 ms, turns/s",
                        f"{lat['p50']} / {lat['p95']} / {lat['p99']}, {level['turns_per_s']}/s",
                        f"service CPU {level['cpu_ms_per_turn']['serve']} ms/turn"))
        ways = overhead["one_tool_turn"]["ways"]
        out.append(("one-tool turn p50 ms: HTTP / engine+aioboto3 / engine+shop / engine",
                    " / ".join(f"{ways[k]['p50']}" for k in ("http", "engine+aioboto3", "engine+shop", "engine")),
                    "split HTTP from loop"))
    if concurrency := reports.get("concurrency"):
        for level in concurrency["levels"]:
            out.append((f"300 ms model: {level['shoppers']} shoppers, turns/s (of ideal); p99 ms (ideal)",
                        f"{level['turns_per_s']} ({level['efficiency']:.0%}); {level['latency_ms']['p99']:,.0f}",
                        f"{level['ideal_turns_per_s']}/s; {level['ideal_latency_ms']['p99']:,.0f}"))
    if memory := reports.get("memory"):
        s, c = memory["sessions"], memory["churn"]
        out += [
            ("idle 5-turn session in memory (RSS / tracemalloc), bytes",
             f"{s['bytes_per_session_rss']:,} / {s['bytes_per_session_tracemalloc']:,}", "<= 10,240"),
            ("5-turn session in Redis (STRLEN / MEMORY USAGE), bytes",
             f"{s['redis'].get('strlen_bytes', '-')} / {s['redis'].get('memory_usage_bytes', '-')}", ""),
            (f"RSS growth, {c['churned']:,} sessions through max_sessions={c['max_sessions']:,}",
             (f"{c['rss_growth_mb_by_sessions_saved'][-1][1]:+.1f} MB (at 5k: "
              f"{c['rss_growth_mb_by_sessions_saved'][0][1]:+.1f})"), "flat"),
            ("expired sessions still held (of 10,000)", f"{c['expired_still_held']:,}", "0"),
        ]
    if streaming := reports.get("streaming"):
        hop = streaming["service"]["hop_ms"]
        out.append(("model's first delta -> client's first text event, p50 / p99 ms",
                    f"{hop['p50']} / {hop['p99']}", f"<= {streaming['target_hop_ms']}"))
    return out


def readme_table(reports: dict[str, dict[str, Any]]) -> str:
    """The markdown table for bench/README.md, with when and where it was measured."""
    facts = machine()
    lines = [
        (f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {facts['cpu']}, {facts['cores']} "
         f"cores, Python {facts['python']} (load average {facts['load_average'][0]} at the end: the machine is "
         "shared, so treat small differences as noise)."),
        "",
        "| measure | latest | target / ideal |",
        "|---|---|---|",
        *(f"| {measure} | {value} | {target} |" for measure, value, target in rows(reports)),
    ]
    return "\n".join(lines)


def update_readme(text: str) -> None:
    """Replace what is between the markers of bench/README.md (append the markers if missing)."""
    current = README.read_text() if README.exists() else ""
    block = f"{START}\n{text}\n{END}"
    if START in current and END in current:
        head, _, rest = current.partition(START)
        _, _, tail = rest.partition(END)
        current = head + block + tail
    else:
        current = current.rstrip("\n") + "\n\n## Latest numbers\n\n" + block + "\n"
    README.write_text(current)


def main() -> None:
    """Run the suite (or `--only` some of it), write the summary and the README table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SUITE), help="comma-separated benchmarks")
    args = parser.parse_args()
    names = [name for name in args.only.split(",") if name]
    unknown = set(names) - set(SUITE)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    reports = {name: run_one(name) for name in names}
    path = write_result("suite", {"results": {name: r["result_file"] for name, r in reports.items()}})
    text = readme_table(reports)
    if set(names) == set(SUITE):
        update_readme(text)
        print(f"\nbench/README.md updated; summary in {path}")
    else:
        print(f"\n(partial run: bench/README.md left as it was; summary in {path})")
    print(text)


if __name__ == "__main__":
    main()
