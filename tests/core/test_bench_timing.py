from benchmarks.common import paired_median_times


def test_paired_median_times_alternates_calls_and_reports_each():
    calls = []
    t = paired_median_times({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=5, warmup=1)
    assert calls == ["a", "b"] * 6  # one warm-up round, then five timed rounds in turn
    assert set(t) == {"a", "b"}
    assert all(0 <= v["min_s"] <= v["median_s"] for v in t.values())
