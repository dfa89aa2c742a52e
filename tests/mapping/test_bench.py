"""The mapping benchmark runs and reports what it promises (timings are measured, never asserted)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_benchmark_renders_a_release_of_fifty_issues() -> None:
    spec = importlib.util.spec_from_file_location("bench_mapping", ROOT / "bench" / "bench_mapping.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.run(rounds=1, repeat=1)
    assert (result["issues"], result["change_tasks"]) == (50, 50)
    assert set(result) >= {"render_ms", "json_round_trip_ms", "ratio", "renders_per_second"}
    assert result["ratio"] > 0
