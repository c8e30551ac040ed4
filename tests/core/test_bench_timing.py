from benchmarks.common import paired_median_times


def test_paired_median_times_alternates_calls_and_reports_each():
    calls = []
    t = paired_median_times({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=5, warmup=1)
    assert calls == ["a", "b"] * 6  # one warm-up round, then five timed rounds in turn
    assert set(t) == {"a", "b"}
    assert all(0 <= v["min_s"] <= v["median_s"] for v in t.values())


def test_reader_vs_bare_times_both_over_the_same_files_in_turn():
    from benchmarks.common import reader_vs_bare

    seen = {"bare": [], "ours": []}
    r = reader_vs_bare(
        ["a", "b"], seen["bare"].append, seen["ours"].append, unit="files", bare_name="lib", rounds=3, min_call_s=0.0
    )
    assert r["passes_per_call"] == 1 and r["files"] == 2 and r["rounds"] == 3
    assert seen["ours"] == ["a", "b"] * (2 + 3)  # warm-up rounds, then timed rounds
    assert seen["bare"] == ["a", "b"] * (1 + 2 + 3)  # plus the pass that sizes a timed call
    assert r["ours_over_bare_time"] > 0 and {"bare_lib_files_per_s", "ours_files_per_s"} <= set(r)
    tiny = reader_vs_bare(["a"], lambda p: None, lambda p: None, unit="files", bare_name="lib", rounds=1)
    assert tiny["passes_per_call"] > 1  # a call too short for the clock is repeated
