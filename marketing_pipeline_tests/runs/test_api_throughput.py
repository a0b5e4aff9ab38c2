"""A run's traffic per API, from its steps' metadata."""

from __future__ import annotations

from marketing_pipeline.runs.api_throughput import run_throughput


def test_requests_and_throttles_add_up_and_the_last_learned_rate_counts() -> None:
    steps = {
        "cw_companies": ("connectwise", {"requests": 4, "throttled_responses": 0}),
        "cw_contacts": ("connectwise", {"requests": 45, "throttled_responses": 1, "rate_reached_per_second": 15.0}),
        "encharge_people": (
            "encharge",
            {
                "requests": 1001,
                "throttled_responses": 9,
                "rate_reached_per_second": 104.0,
                "rate_learned_per_second": 88.4,
            },
        ),
        "sync_plan": ("encharge", {"requests": 0, "throttled_responses": 0}),
        "encharge_audience": (
            "encharge",
            {
                "requests": 20,
                "throttled_responses": 1,
                "rate_reached_per_second": 60.0,
                "rate_learned_per_second": 86.0,
            },
        ),
    }
    assert run_throughput(steps) == {
        "connectwise": {
            "requests": 49,
            "throttled": 1,
            "throttledShare": round(1 / 49, 4),
            "rateReached": 15.0,
            "rateLearned": None,
        },
        "encharge": {
            "requests": 1021,
            "throttled": 10,
            "throttledShare": round(10 / 1021, 4),
            "rateReached": 104.0,
            "rateLearned": 86.0,
        },
    }


def test_no_steps_no_figures() -> None:
    assert run_throughput({}) == {}
