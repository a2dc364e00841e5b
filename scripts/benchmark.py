"""Benchmark the hand-written recurrences (autograd and hand-derived BPTT) against torch.nn.RNN/LSTM/GRU.

    python scripts/benchmark.py                                     # B=64, I=32, H=128, T=50, 2 threads
    python scripts/benchmark.py --hidden 32,128,512 --seq-len 10,50,200 --compile
    python scripts/benchmark.py --device cuda                       # CUDA events; torch.nn.* uses cuDNN
    python scripts/benchmark.py --tiny --out /tmp/bench             # a seconds-long smoke run
    python scripts/benchmark.py --runs 1                            # + whole training runs, both BPTT modes

Beside the grid it times the study's shape (B=32, I=16, H=64, T=100, one thread: the memory study's
training step) unless --no-study-shape.

Writes results.md (the tables), results.csv, memory.csv, runs.csv and results.json under
outputs/benchmark/<timestamp>/ (or --out; docs/benchmark/ holds the one the docs show).
Compile time is reported apart; inductor's on-disk cache makes a repeat fast, so time a cold compile
with TORCHINDUCTOR_FORCE_DISABLE_CACHES=1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import torch
from tqdm import tqdm

from rnn_scratch.benchmark import report
from rnn_scratch.benchmark import timing as bm
from rnn_scratch.models.bptt import BPTT_MODES

ROOT = Path(__file__).resolve().parents[1]
STUDY_SHAPE = {"batch": 32, "vocab": 16, "hidden": 64, "steps": 100, "threads": 1}
"""The shape the memory study trains at (configs/experiment/memory.yaml at T = 100), on one thread."""


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--hidden", type=ints, default=[128], help="comma list, e.g. 32,128,512")
    p.add_argument("--seq-len", type=ints, default=[50], help="comma list, e.g. 10,50,200")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--layers", type=int, default=1, help="num_layers of ours and torch.nn's (>1: no floor)")
    p.add_argument("--vocab", type=int, default=32, help="input size I (one-hot characters)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--clock", default="wall", choices=["wall", "process"],
                   help="CPU: wall time, or this process's CPU time (shared machine, 1 thread)")  # fmt: skip
    families = bm.available_families()
    p.add_argument("--families", type=lambda s: s.split(","), default=families, help=",".join(families))
    p.add_argument("--compile", action="store_true", help="also torch.compile the autograd RNN")
    p.add_argument("--compile-steps", action="store_true",
                   help="also time model.compile_steps: LSTM/GRU steps as compiled kernels")  # fmt: skip
    p.add_argument("--compile-max-steps", type=int, default=50, help="skip compiling longer T")
    p.add_argument("--truncate", type=int, default=10, help="k for the memory table")
    p.add_argument("--mem-seq-len", type=ints, default=[25, 50, 100, 200])
    p.add_argument("--runs", type=int, default=0, help="also time N training runs per cell and BPTT mode")
    p.add_argument("--run-args", type=shlex.split, default=["seq_len=50"], help="overrides for those runs")
    p.add_argument("--study-shape", action=argparse.BooleanOptionalAction, default=True,
                   help="also time the study's shape: B=32, I=16, H=64, T=100, one thread")  # fmt: skip
    p.add_argument("--tiny", action="store_true", help="smoke config: seconds, not minutes")
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args()
    if not set(args.families) <= set(families):
        p.error(f"--families: choose from {','.join(families)}")
    if args.tiny:
        args.hidden, args.seq_len, args.batch, args.vocab = [8], [4], 4, 5
        args.repeats, args.warmup, args.mem_seq_len, args.truncate = 2, 1, [4, 8], 2
        args.study_shape = False
    return args


def cases_for(
    args: argparse.Namespace, hidden: int, steps: int, batch: int | None = None, vocab: int | None = None
) -> tuple[list[bm.Case], dict]:
    """Every implementation at one size (batch, vocab: the grid's unless given), all on the same
    input; plus what torch.compile did."""
    batch, vocab = batch or args.batch, vocab or args.vocab
    x = bm.one_hot_input(steps, batch, vocab, args.device, torch.float32)
    grad = torch.randn(steps, batch, hidden, device=args.device)
    cases: list[bm.Case] = []
    info: dict[str, float | str] = {"H": hidden, "T": steps}
    for family in args.families:
        ours = bm.hand_written(family, vocab, hidden, num_layers=args.layers).to(args.device)
        cases.append(bm.Case(f"{family} autograd", family, ours, x, grad))
        manual = bm.hand_written(family, vocab, hidden, "manual", args.layers).to(args.device)
        manual.load_state_dict(ours.state_dict())
        cases.append(bm.Case(f"{family} manual BPTT", family, manual, x, grad))
        if args.compile_steps and hasattr(manual.cells[0], "compile_steps"):
            fused = bm.hand_written(family, vocab, hidden, "manual", args.layers, compile_steps=True)
            fused = fused.to(args.device)
            fused.load_state_dict(ours.state_dict())
            case = bm.Case(f"{family} manual compiled steps", family, fused, x, grad)
            t0 = time.perf_counter()
            case.step(True)  # compiles the step kernels (inductor's disk cache may hold them)
            info[f"{family}_compile_steps_s"] = time.perf_counter() - t0
            print(f"compile_steps {family} H={hidden} T={steps}: {info[f'{family}_compile_steps_s']:.1f} s")
            cases.append(case)
        if args.layers == 1:  # the floor's matmuls are one layer's
            cases.append(bm.MatmulFloor(f"{family} matmul floor", family, manual, x, grad))
        if family == args.families[0]:  # torch.compile on the first family only: compiling is slow
            if args.compile and steps > args.compile_max_steps:
                info["compile_error"] = f"skipped: T > --compile-max-steps {args.compile_max_steps}"
                print(f"torch.compile H={hidden} T={steps}: {info['compile_error']}")
            elif args.compile:
                compiled, secs, err = bm.compile_module(ours, x, grad)
                info.update(compile_s=secs, compile_error=err)
                print(f"torch.compile H={hidden} T={steps}: " + (err or f"{secs:.1f} s"))
                if compiled is not None:
                    cases.append(bm.Case(f"{family} autograd compiled", family, compiled, x, grad))
        ref = bm.torch_layer(family, ours).to(args.device)
        cases.append(bm.Case(f"torch.nn.{type(ref).__name__}", family, ref, x, grad))
    return cases, info


def study_shape_rows(args: argparse.Namespace) -> tuple[list[dict], dict]:
    """The grid's implementations at ``STUDY_SHAPE``, on its thread count, then the grid's restored;
    and what compiling did there."""
    batch, vocab, hidden, steps = (STUDY_SHAPE[k] for k in ("batch", "vocab", "hidden", "steps"))
    torch.set_num_threads(STUDY_SHAPE["threads"])
    try:
        cases, info = cases_for(args, hidden, steps, batch=batch, vocab=vocab)
        bm.run_interleaved(cases, args.repeats, args.warmup, args.device, args.clock)
        rows = [dict(r, shape="study") for r in bm.summarise(cases, batch, steps, vocab, hidden)]
        return rows, dict(info, shape="study")
    finally:
        torch.set_num_threads(args.threads)


def memory_rows(args: argparse.Namespace) -> list[dict]:
    """Memory held for backward against T: linear in T; bounded by k when streamed chunk by chunk."""
    hidden, k, rows = args.hidden[0], args.truncate, []
    family = bm.available_families()[0]  # the vanilla RNN: the memory of BPTT itself, not of gates
    auto = bm.hand_written(family, args.vocab, hidden).to(args.device)
    manual = bm.hand_written(family, args.vocab, hidden, bptt="manual").to(args.device)
    manual_k = bm.hand_written(family, args.vocab, hidden, bptt="manual").to(args.device)
    manual_k.truncate = k
    ref = bm.torch_layer(family, auto).to(args.device)
    for steps in args.mem_seq_len:
        x = bm.one_hot_input(steps, args.batch, args.vocab, args.device, torch.float32)
        row: dict = {"T": steps, "H": hidden, "B": args.batch}
        for name, layer in [(f"{family} autograd", auto), (f"{family} manual BPTT", manual),
                            (f"{family} manual truncate={k} (one pass)", manual_k),
                            (f"torch.nn.{type(ref).__name__}", ref)]:  # fmt: skip
            row[name] = bm.peak_memory_bytes(lambda m=layer, x=x: m(x)[0], layer, x, args.device)
        row[f"{family} manual, chunks of {k} streamed"] = bm.chunked_peak_bytes(manual, x, k, args.device)
        rows.append(row)
    return rows


def cpu_name() -> str:
    """The CPU's model name and core count (``/proc/cpuinfo`` on Linux, else ``platform``)."""
    cpuinfo = Path("/proc/cpuinfo")
    names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
             if ln.startswith("model name")] if cpuinfo.exists() else []  # fmt: skip
    return f"{names[0] if names else platform.processor() or 'unknown CPU'}, {os.cpu_count()} cores"


def time_training_runs(repeats: int, families: list[str], overrides: list[str]) -> list[dict]:
    """``scripts/train.py model=<cell> model.bptt=<mode> <overrides>``, one subprocess per run, the
    modes interleaved: median training time (the run's ``wall_time_s``) and process wall time."""
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    metric: dict[tuple[str, str], str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(repeats):
            for family in families:
                for mode in BPTT_MODES:
                    out = Path(tmp) / f"{family}-{mode}-{rep}"
                    cmd = [sys.executable, str(ROOT / "scripts" / "train.py"), f"model={family}",
                           f"model.bptt={mode}", *overrides, f"hydra.run.dir={out}"]  # fmt: skip
                    t0 = time.perf_counter()
                    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
                    if proc.returncode != 0:
                        sys.exit(f"error: --runs: {shlex.join(cmd[1:])} failed:\n{proc.stderr[-2000:]}")
                    total = time.perf_counter() - t0
                    metrics = json.loads((out / "metrics.json").read_text())
                    times.setdefault((family, mode), []).append((metrics["wall_time_s"], total))
                    metric[family, mode] = " ".join(
                        f"{k}={v:.4g}" for k, v in metrics.items()
                        if k.startswith("eval_") and k != "eval_loss" and isinstance(v, float)
                    )  # fmt: skip
                    print(f"run {family} {mode}: {metrics['wall_time_s']:.1f} s training, {total:.1f} s all")
    label = " ".join(overrides)
    return [
        {"run": f"model={family} {label}", "bptt": mode, "train_s": median(t for t, _ in runs),
         "total_s": median(w for _, w in runs), "metric": metric[family, mode], "repeats": len(runs)}
        for (family, mode), runs in times.items()
    ]  # fmt: skip


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    # Whole runs first: a bad --run-args fails in seconds, not after the grid.
    runs = time_training_runs(args.runs, args.families, args.run_args) if args.runs else None
    rows, compile_info = [], []
    shapes = [(hidden, steps) for hidden in args.hidden for steps in args.seq_len]
    for hidden, steps in tqdm(shapes, desc="benchmark: shapes (H, T)", unit="shape"):
        cases, info = cases_for(args, hidden, steps)
        compile_info.append(info)
        bm.run_interleaved(cases, args.repeats, args.warmup, args.device, args.clock)
        rows += [dict(r, shape="grid") for r in bm.summarise(cases, args.batch, steps, args.vocab, hidden)]
    if args.study_shape:
        study_rows, study_info = study_shape_rows(args)
        rows += study_rows
        compile_info.append(study_info)
    mem = memory_rows(args)

    layers = f", {args.layers} layers" if args.layers > 1 else ""
    print(f"\n{args.device}, {args.threads} threads, float32, B={args.batch}, I={args.vocab}{layers}, in ms,")
    print(f"median of {args.repeats} repeats. speedup = torch.nn.* time / ours: > 1 means ours is faster.")
    print(report.format_table(rows))
    print(
        f"\nMemory held for backward, MiB ({'saved tensors + output' if args.device == 'cpu' else 'peak'}):"
    )
    print(report.format_table([{k: v / 2**20 if k not in "THB" else v for k, v in r.items()} for r in mem]))

    out = args.out or Path("outputs/benchmark") / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    env = {"torch": torch.__version__, "threads": args.threads, "device": args.device, "clock": args.clock}
    env["machine"] = torch.cuda.get_device_name() if args.device == "cuda" else cpu_name()
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    meta = {"config": config, "env": env, "compile": compile_info, "date": f"{dt.date.today()}",
            "command": shlex.join(["python", "scripts/benchmark.py", *sys.argv[1:]]),
            "elapsed_s": time.perf_counter() - started}  # fmt: skip
    report.write_results(out, rows, mem, meta, runs)
    print(f"\nwrote {out} ({meta['elapsed_s']:.0f} s in all)")


if __name__ == "__main__":
    main()
