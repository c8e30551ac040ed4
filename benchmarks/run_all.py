"""One benchmark report: every domain's quality evaluation and speed benchmarks -> BENCHMARKS.md + JSON.

    python benchmarks/run_all.py                      # everything (about 1.5 h on 2 CPU cores)
    python benchmarks/run_all.py --skip-quality       # speed only (minutes)
    python benchmarks/run_all.py --report-only        # rebuild BENCHMARKS.md from benchmarks/results/*.json
    make bench                                        # the same as the first line

Quality commands are not repeated here: each bundled model card (``models/<domain>-tiny/model_card.json``,
``probe_metrics.<task>.command``) records the exact evaluation command that produced its numbers, and
this script runs those commands. They need the real data in ``../shared/data`` (see each domain's
README); tasks whose data is missing are listed as skipped, never silently dropped. Steps run one
after the other: on a 2-core machine, concurrent jobs would distort every timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
RESULTS = ROOT / "benchmarks" / "results"
DOMAINS = ("ecg", "eeg", "sar", "lidar")


@dataclass(frozen=True)
class Headline:
    """Where a task's headline metric sits in its results JSON."""

    file: str
    domain: str
    task: str
    metric: str
    kshot: str | None = None  # read ``results.<method>.kshot[<k>]`` instead of ``results.<method>.<metric>``
    pretrain_seeds: tuple[str, str] | None = None  # (file, key; "a.b" for nested) of the spread over pretraining seeds


HEADLINES = (
    Headline(
        "ecg_mitdb_aami",
        "ecg",
        "MIT-BIH AAMI N/S/V/F, inter-patient (DS1/DS2 records)",
        "macro_f1",
        pretrain_seeds=("ecg_pretrain_seeds", "mitdb_jepa_macro_f1"),
    ),
    Headline(
        "ecg_cinc2017",
        "ecg",
        "CinC 2017 N/A/O/~, record-wise 5-fold",
        "challenge_f1",
        pretrain_seeds=("ecg_pretrain_seeds", "cinc_jepa_challenge_f1"),
    ),
    Headline(
        "ecg_mitdb_aami_cv",
        "ecg",
        "MIT-BIH AAMI N/S/V/F, inter-patient, probe C by record-grouped CV (not the card's C = 1)",
        "macro_f1",
    ),
    Headline(
        "ecg_cinc2017_cv",
        "ecg",
        "CinC 2017 N/A/O/~, record-wise 5-fold, probe C by CV (not the card's C = 1)",
        "challenge_f1",
    ),
    Headline(
        "eeg_eegmat",
        "eeg",
        "eegmat rest vs arithmetic, unseen subjects 7-9, per window",
        "balanced_accuracy",
        pretrain_seeds=("eeg_pretrain_seeds", "window_balanced_accuracy"),
    ),
    Headline(
        "eeg_eegmat_subjnorm",
        "eeg",
        "eegmat rest vs arithmetic, unseen subjects 7-9, features z-scored per subject (calibrated, transductive)",
        "balanced_accuracy",
        pretrain_seeds=("eeg_pretrain_seeds", "subject_norm.window_balanced_accuracy"),
    ),
    Headline("eeg_eegmat_cv", "eeg", "eegmat rest vs arithmetic, GroupKFold over 10 subjects", "balanced_accuracy"),
    Headline("sar_mstar_soc", "sar", "MSTAR SOC 10 classes, probe on all training chips", "accuracy"),
    Headline("sar_mstar_soc", "sar", "MSTAR SOC 10 classes, 10-shot (5 draws)", "accuracy", kshot="10"),
    Headline("lidar_bev_fg", "lidar", "KITTI BEV cell foreground, scene-disjoint", "fg_balanced_accuracy"),
)
METHODS = ("jepa", "random_init", "handcrafted", "supervised")


def _nested(data: dict | None, key: str) -> dict | None:
    """``data["a"]["b"]`` for ``key="a.b"``; None where any part is missing."""
    for part in key.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def machine_description() -> dict:
    import torch

    from benchmarks.common import cpu_model

    cpu = cpu_model()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gb, 1),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "os": platform.platform(),
    }


def run_step(name: str, argv: list[str], log_dir: Path) -> dict:
    """Run one command from the repo root; its output goes to ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    print(f"[bench] {name}: {shlex.join(argv)}", flush=True)
    tic = time.perf_counter()
    with open(log, "w") as fh:
        rc = subprocess.call(argv, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - tic
    print(f"[bench] {name}: exit {rc} after {wall:.0f} s (log {log.relative_to(ROOT)})", flush=True)
    return {"name": name, "command": shlex.join(argv), "exit_code": rc, "wall_s": round(wall, 1), "log": str(log)}


def quality_steps(domains: list[str]) -> list[tuple[str, list[str] | None, str]]:
    """(name, argv or None when its data is missing, note) for every evaluation recorded in a model card."""
    steps = []
    for domain in domains:
        card_path = ROOT / "models" / f"{domain}-tiny" / "model_card.json"
        card = json.loads(card_path.read_text())
        for task, entry in card.get("probe_metrics", {}).items():
            command = entry.get("command") if isinstance(entry, dict) else None
            if not command:
                continue
            argv = shlex.split(command)
            argv[0] = sys.executable if argv[0] == "python" else argv[0]
            missing = [a for a in _data_args(argv) if not (ROOT / a).exists()]
            name = f"quality-{domain}-{task}"
            if missing:
                steps.append((name, None, f"data not found: {', '.join(missing)}"))
            else:
                steps.append((name, argv, ""))
    return steps


def _data_args(argv: list[str]) -> list[str]:
    """Paths under ../shared/data or runs/ that a command reads."""
    return [a for a in argv if a.startswith("../shared/") or a.startswith("runs/")]


def speed_steps(domains: list[str], procs: tuple[int, ...]) -> list[tuple[str, list[str], str]]:
    extra = {d: [] for d in domains}
    if (ROOT.parent / "shared" / "data" / "eeg" / "eegmat").is_dir():  # the EEG reader on long 500 Hz recordings too
        extra["eeg"] = ["--long-dir", "../shared/data/eeg/eegmat"]
    steps = [(f"speed-{d}", [sys.executable, f"benchmarks/{d}.py", *extra[d]], "") for d in domains]
    if (ROOT / "benchmarks" / "export.py").is_file():
        for d in domains:
            argv = [sys.executable, "benchmarks/export.py", "--domain", d, "--procs", *map(str, procs)]
            steps.append((f"export-{d}", argv + ["--out", f"benchmarks/results/export_{d}.json"], ""))
    return steps


# ---------------------------------------------------------------- report


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _value(entry: dict, h: Headline) -> tuple[float | None, float | None, int | None]:
    """(mean, std, n) of one method's headline metric."""
    if h.kshot is not None:
        k = entry.get("kshot", {}).get(h.kshot)
        return (k["mean"], k.get("std"), k.get("n")) if k else (None, None, None)
    mean = entry.get(h.metric)
    spread = entry.get(f"{h.metric}_spread") or {}
    return mean, spread.get("std"), spread.get("n", entry.get("n_runs"))


def _fmt(mean: float | None, std: float | None = None, n: int | None = None) -> str:
    if mean is None:
        return "-"
    if std is None or not n or n < 2:
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {std:.3f} (n={n})"


def quality_table() -> tuple[list[str], list[dict]]:
    lines = [
        "| domain | task (metric) | JEPA | random init | hand-crafted | supervised | JEPA best? |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = []
    for h in HEADLINES:
        data = _load(h.file)
        if data is None:
            lines.append(f"| {h.domain} | {h.task} | not run | | | | |")
            continue
        res = data["results"]
        values = {m: _value(res[m], h) if m in res else (None, None, None) for m in METHODS}
        jepa = values["jepa"]
        if h.pretrain_seeds and (s := _nested(_load(h.pretrain_seeds[0]), h.pretrain_seeds[1])):
            jepa = (s["mean"], s["std"], s["n"])
        others = [v[0] for m, v in values.items() if m != "jepa" and v[0] is not None]
        best = jepa[0] is not None and all(jepa[0] > o for o in others)
        cells = [_fmt(*jepa)] + [_fmt(*values[m]) for m in METHODS[1:]]
        lines.append(f"| {h.domain} | {h.task} ({h.metric}) | " + " | ".join(cells) + f" | {'yes' if best else 'no'} |")
        rows.append(
            {
                "file": h.file,
                "domain": h.domain,
                "task": h.task,
                "metric": h.metric,
                "kshot": h.kshot,
                "jepa_is_best": best,
                **{m: dict(zip(("mean", "std", "n"), values[m], strict=True)) for m in METHODS},
                "jepa_over_pretraining_seeds": dict(zip(("mean", "std", "n"), jepa, strict=True)),
            }
        )
    return lines, rows


def _get(d: dict | None, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def speed_rows() -> list[dict]:
    rows = []
    for d in DOMAINS:
        s = _load(d) or {}
        e = _load(f"export_{d}") or {}
        reader = s.get("reader") or {}
        ratio = next((v for k, v in reader.items() if k.endswith("over_bare_time")), None)
        rss = _get(s, "default_pretrain", "peak_rss_gb") or _get(s, "full_scan_train_step", "peak_rss_gb")
        exports: dict[int, dict] = {}
        for r in e.get("runs", []):  # the first run per process count uses the default threads per process
            exports.setdefault(int(r["n_procs"]), r)
        rows.append(
            {
                "domain": d,
                "date": s.get("date"),
                "cpu": _get(s, "machine", "cpu_model"),
                "pretrain_samples_per_s": _get(s, "pretrain_step", "samples_per_s"),
                "matmul_peak_gflops": (s["matmul_peak_flops"] / 1e9) if s.get("matmul_peak_flops") else None,
                "fraction_of_matmul_peak": s.get("fraction_of_matmul_peak"),
                "reader_over_bare_time": ratio,
                "reader_long_over_bare_time": _get(reader, "long", "ours_over_bare_time"),  # EEG --long-dir
                "peak_rss_gb": rss,
                "export_rows_per_s_1proc": _get(exports.get(1), "export_rows_per_s"),
                "export_rows_per_s_2procs": _get(exports.get(2), "export_rows_per_s"),
                "export_peak_rss_mb": _get(exports.get(1), "peak_rss_mb"),
                "export_rss_4n_over_n": _get(e, "memory", "rss_ratio_4N_over_N"),
            }
        )
    return rows


TARGETS = (  # (domain, speed-row key, comparison, bound, what)
    ("ecg", "fraction_of_matmul_peak", ">=", 0.40, "pretraining FLOP/s >= 40% of matmul peak"),
    ("eeg", "fraction_of_matmul_peak", ">=", 0.40, "pretraining FLOP/s >= 40% of matmul peak"),
    ("sar", "fraction_of_matmul_peak", ">=", 0.40, "pretraining FLOP/s >= 40% of matmul peak"),
    ("ecg", "reader_over_bare_time", "<=", 1.2, "reader within 1.2x of bare wfdb"),
    ("eeg", "reader_over_bare_time", "<=", 1.5, "reader within 1.5x of bare MNE"),
    ("eeg", "reader_long_over_bare_time", "<=", 1.5, "the same on eegmat's 500 Hz, 182 s recordings (--long-dir)"),
    ("ecg", "export_rss_4n_over_n", "<=", 1.1, "export memory flat in dataset size (4N vs N inputs)"),
    ("eeg", "export_rss_4n_over_n", "<=", 1.1, "export memory flat in dataset size (4N vs N inputs)"),
    ("sar", "export_rss_4n_over_n", "<=", 1.1, "export memory flat in dataset size (4N vs N inputs)"),
    ("lidar", "export_rss_4n_over_n", "<=", 1.1, "export memory flat in dataset size (4N vs N inputs)"),
)


def target_lines(s_rows: list[dict]) -> list[str]:
    by_domain = {r["domain"]: r for r in s_rows}
    lines = ["| domain | target | measured | met |", "|---|---|---|---|"]
    for domain, key, op, bound, what in TARGETS:
        value = by_domain.get(domain, {}).get(key)
        met = "-" if value is None else ("yes" if (value >= bound if op == ">=" else value <= bound) else "**no**")
        lines.append(f"| {domain} | {what} | {_num(value, '.2f')} | {met} |")
    return lines


def corpus_lines() -> list[str]:
    """Size of the broken-input corpus per domain (``tests/hardening``), counted now."""
    try:
        from tests.hardening.corpus import count_cases
    except ImportError:
        return ["The hostile-input corpus (`tests/hardening`) is not importable here."]
    with warnings.catch_warnings():  # the corpus writes un-georeferenced rasters on purpose
        warnings.simplefilter("ignore")
        counts = count_cases()
    cells = ", ".join(f"{d} {n}" for d, n in counts.items())
    return [
        f"Broken or hostile inputs generated from the bundled files by `tests/hardening/corpus.py`: {cells} "
        f"({sum(counts.values())} in all). Each goes through the reader, the export read path and the app "
        "analyser; every one must end in `InputError` naming the file (or, for documented degenerate inputs, a "
        'finite result). `pytest tests/hardening` checks them; the README section "Inputs, errors and '
        'guarantees" lists what is accepted.',
    ]


def _num(v, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def render(machine: dict, steps: list[dict], command: str) -> tuple[str, dict]:
    q_lines, q_rows = quality_table()
    s_rows = speed_rows()
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Benchmarks",
        "",
        f"Generated {now} by `{command}` (regenerate with the same command; `make bench` runs everything).",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB RAM, "
        f"GPU: {machine['gpu'] or 'none'}; Python {machine['python']}, torch {machine['torch']}.",
        "",
        "## Quality: frozen-encoder probes against baselines on the same split",
        "",
        "Mean ± std over runs where a method was run more than once (probe or init seeds; JEPA over "
        "pretraining seeds where a seeds file exists). Splits are by patient, subject, record or scene, "
        "never by window. Raw numbers, per-class scores and the exact commands: `benchmarks/results/<file>.json`; "
        "each domain's README discusses them.",
        "",
        *q_lines,
        "",
        "## Speed and memory",
        "",
        "Pretraining: one full optimisation step (forward, backward, AdamW, EMA) of the domain's tiny config; "
        "the FLOP/s fraction divides by a dense fp32 matmul measured in the same benchmark run. Reader: "
        "our reader's time over the bare library call on the same files. Export: `jepa-export` rows/s "
        "with 1 and 2 processes (torchrun) on the bundled samples.",
        "",
        "| domain | date | CPU | pretrain samples/s | matmul peak GFLOP/s | fraction of peak | reader / bare | "
        "peak RSS GB | export rows/s (1 proc) | (2 procs) | export RSS MB | export RSS 4N / N |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s_rows:
        out.append(
            f"| {r['domain']} | {r['date'] or '-'} | {r['cpu'] or 'not recorded'} | "
            f"{_num(r['pretrain_samples_per_s'], '.1f')} | "
            f"{_num(r['matmul_peak_gflops'], '.0f')} | {_num(r['fraction_of_matmul_peak'], '.0%')} | "
            f"{_num(r['reader_over_bare_time'], '.2f')} | {_num(r['peak_rss_gb'], '.2f')} | "
            f"{_num(r['export_rows_per_s_1proc'], '.1f')} | {_num(r['export_rows_per_s_2procs'], '.1f')} | "
            f"{_num(r['export_peak_rss_mb'], '.0f')} | {_num(r['export_rss_4n_over_n'], '.2f')} |"
        )
    out += ["", "### Targets (from the issues)", "", *target_lines(s_rows)]
    out += ["", "## Hostile inputs", "", *corpus_lines()]
    if steps:
        out += ["", "## Steps of this run", "", "| step | exit | wall s |", "|---|---|---|"]
        out += [
            f"| {s['name']} | {s.get('exit_code', 'skipped: ' + s.get('note', ''))} | {s.get('wall_s', '-')} |"
            for s in steps
        ]
    report = {
        "generated": now,
        "command": command,
        "machine": machine,
        "quality": q_rows,
        "speed": s_rows,
        "steps": steps,
    }
    return "\n".join(out) + "\n", report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument("--domains", nargs="+", choices=DOMAINS, default=list(DOMAINS))
    p.add_argument("--skip-quality", action="store_true", help="keep the quality JSON already in benchmarks/results")
    p.add_argument("--skip-speed", action="store_true", help="keep the speed JSON already in benchmarks/results")
    p.add_argument("--report-only", action="store_true", help="only rebuild BENCHMARKS.md from the JSON files")
    p.add_argument("--procs", nargs="+", type=int, default=[1, 2], help="export process counts (default 1 2)")
    p.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    p.add_argument("--json", type=Path, default=RESULTS / "report.json")
    args = p.parse_args(argv)

    steps: list[dict] = []
    if not args.report_only:
        log_dir = ROOT / "runs" / "bench-logs"
        if not args.skip_quality:
            for name, cmd, note in quality_steps(args.domains):
                steps.append(run_step(name, cmd, log_dir) if cmd else {"name": name, "note": note})
        if not args.skip_speed:
            for name, cmd, _ in speed_steps(args.domains, tuple(args.procs)):
                steps.append(run_step(name, cmd, log_dir))
    command = "python benchmarks/run_all.py" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    text, report = render(machine_description(), steps, command)
    args.out.write_text(text)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(text)
    failed = [s["name"] for s in steps if s.get("exit_code")]
    if failed:
        print(f"[bench] failed steps: {', '.join(failed)} (see runs/bench-logs/)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
