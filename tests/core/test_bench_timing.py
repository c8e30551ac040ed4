from pathlib import Path

import pytest

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


def test_child_peak_rss_is_the_childs_not_the_parents():
    import numpy as np

    from benchmarks.common import run_child

    big = np.ones(96 * 1024**2 // 8 * 8)  # 768 MB held by this process: its peak RSS is at least that
    big[::4096] += 1.0  # touched, so resident
    _, small = run_child(["-c", "import sys"], Path.cwd())
    _, grown = run_child(["-c", "import numpy as np; a = np.ones(64 * 1024**2); a[::512] += 1"], Path.cwd())  # 512 MB
    del big
    assert small < 0.2, f"a bare interpreter reported {small:.2f} GB: the parent's peak leaked into the child's"
    assert 0.5 < grown < 0.75
    with pytest.raises(RuntimeError, match="failed"):
        run_child(["-c", "raise SystemExit(3)"], Path.cwd())
