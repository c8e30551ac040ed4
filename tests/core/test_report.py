import argparse
import json

from jepa_core.checkpoint import write_card
from jepa_core.errors import InputError
from jepa_core.eval.report import run_evaluation
from jepa_core.progress import progress


def _args(tmp_path, **kw):
    return argparse.Namespace(checkpoint=tmp_path / "model", out=tmp_path / "r.json", update_card=True, **kw)


def test_results_json_and_card_entry_with_its_command(tmp_path):
    write_card(tmp_path / "model", {"name": "m", "probe_metrics": {"other": {"command": "x"}}})
    rc = run_evaluation(
        _args(tmp_path),
        lambda a: {"task": "t1", "results": {"jepa": {"acc": 0.5}}},
        lambda r: "table",
        lambda r: (r["task"], {"results": r["results"]}),
        script="domains/toy/evaluate.py",
        argv=["--data-dir", "d", "--update-card"],
    )
    assert rc == 0
    assert json.loads((tmp_path / "r.json").read_text())["results"] == {"jepa": {"acc": 0.5}}
    card = json.loads((tmp_path / "model" / "model_card.json").read_text())
    assert card["probe_metrics"]["other"] == {"command": "x"}  # other tasks are kept
    assert card["probe_metrics"]["t1"] == {
        "results": {"jepa": {"acc": 0.5}},
        "command": "python domains/toy/evaluate.py --data-dir d --update-card",
    }


def test_bad_input_is_exit_2_and_writes_nothing(tmp_path, capsys):
    def evaluate(_):
        raise InputError("rec.hea", "truncated")

    rc = run_evaluation(_args(tmp_path), evaluate, str, lambda r: ("t", {}), script="s.py", argv=[])
    assert rc == 2 and "rec.hea: truncated" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "model").exists()


def test_no_progress_switches_library_bars_off(tmp_path, capsys):
    def evaluate(_):
        for _ in progress(range(3), desc="records"):
            pass
        return {"task": "t"}

    for quiet in (False, True):
        args = _args(tmp_path, no_progress=quiet)
        assert run_evaluation(args, evaluate, str, None, script="s.py", argv=[]) == 0
        assert ("records" in capsys.readouterr().err) != quiet
