"""How well `featpipe bench` uses the cores: one batch of small digit runs with 1 and with N local workers.

Prints, for each worker count, the batch's wall time, the sum of the runs' own times as measured
inside the workers, and the overhead per run: worker-seconds not spent inside a run (start-up,
scheduling, idle tail) divided by the number of runs. Then the speed-up of N workers over 1
worker, measured in the same invocation on the same batch. Both twice: "cold", with workers the
batch starts (each pays a few seconds importing scikit-learn, which no worker count hides, so
the speed-up grows with the batch), and "warm", with workers already started (the scheduling alone).

    python scripts/bench_scaling.py                 # 28 runs, 1 vs 2 workers
    python scripts/bench_scaling.py --runs 16 --jobs 2 --repeat 2

Goals (issue 5): on 2 cores, 2 workers at least 1.7x faster than 1; overhead under 1 s per run.
Every run computes its own features (feature cache off), so both worker counts do the same work.
The machine's load average is printed before and after: other processes on shared cores skew it.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import tempfile
import time
from pathlib import Path

from featpipe.bench import load_batch, run_batch
from featpipe.bench.local import LocalExecutor, cpu_count

BASE = """\
name: scaling
seed: 0
data: {source: digits, val_fraction: 0.2}
features:
  hog: {pixels_per_cell: 2, cells_per_block: 2}
classifier: svm
svm: {C: [0.1, 1.0, 10.0]}
output: {feature_cache: false, plots: false}
"""

ORIENTATIONS = [6, 8, 9, 10, 12, 15, 18]
SEEDS = [0, 1, 2, 3]


def write_batch(folder: Path, n_runs: int) -> Path:
    """A batch of `n_runs` HOG + linear SVM runs on the digits (orientations x seed grid, truncated)."""
    combos = list(itertools.islice(itertools.product(ORIENTATIONS, SEEDS), n_runs))
    if len(combos) < n_runs:
        raise SystemExit(f"--runs at most {len(ORIENTATIONS) * len(SEEDS)}")
    (folder / "base.yaml").write_text(BASE)
    lines = ["name: scaling", "base: base.yaml", "runs:", "  - zip:",
             f"      features.hog.orientations: {[o for o, _ in combos]}",
             f"      seed: {[s for _, s in combos]}"]
    path = folder / "batch.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(batch: Path, folder: Path, jobs: int, label: str, warm: bool) -> dict:
    """Run the batch on `jobs` fresh workers (cold: their start-up is timed too) or on warmed-up ones."""
    plan = load_batch(batch)
    out = folder / f"out-{label}"
    with LocalExecutor(jobs=jobs) as executor:
        if warm:  # one small run per worker first, so every worker has imported the runner
            warm_up = dataclasses.replace(plan, runs=plan.runs[:jobs])
            run_batch(warm_up, folder / f"warm-up-{label}", executor=executor, progress=False)
        start = time.perf_counter()
        report = run_batch(plan, out, executor=executor, progress=False)
        wall = time.perf_counter() - start
    if report.failed or len(report.executed) != len(plan.runs):
        raise SystemExit(f"{label}: runs failed or were skipped: {report.failed}")
    own = sum(outcome["seconds"] for outcome in report.outcomes.values())
    n = len(plan.runs)
    return {"jobs": jobs, "wall": wall, "own": own, "n": n, "overhead": (wall * jobs - own) / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=28, help="runs in the batch (default 28)")
    parser.add_argument("--jobs", type=int, default=2, help="worker count compared with 1 worker (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="measure each setting this many times; best kept")
    args = parser.parse_args()

    print(f"cores: {cpu_count()}; load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    best: dict[tuple[str, int], dict] = {}
    with tempfile.TemporaryDirectory(prefix="featpipe-scaling-") as tmp:
        folder = Path(tmp)
        os.environ.setdefault("FEATPIPE_CACHE", str(folder / "cache"))
        batch = write_batch(folder, args.runs)
        for attempt in range(args.repeat):
            order = (1, args.jobs) if attempt % 2 == 0 else (args.jobs, 1)  # alternate to even out drift
            for mode in ("cold", "warm"):
                for jobs in order:
                    result = measure(batch, folder, jobs, f"{mode}-{jobs}-{attempt}", warm=mode == "warm")
                    print(f"  {mode} {jobs} worker(s): wall {result['wall']:6.2f} s, runs' own time "
                          f"{result['own']:6.2f} s ({result['own'] / result['n']:.2f} s per run), "
                          f"overhead {result['overhead']:.2f} s per run")
                    key = (mode, jobs)
                    if key not in best or result["wall"] < best[key]["wall"]:
                        best[key] = result
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    n = best[("cold", 1)]["n"]
    print(f"batch of {n} digit runs (HOG + linear SVM with a 3-value C search, full digits, no feature cache); "
          "overhead = (wall x workers - runs' own time) / runs")
    for mode, what in (("cold", "workers started by the batch (their imports timed)"),
                       ("warm", "workers already started")):
        one, many = best[(mode, 1)], best[(mode, args.jobs)]
        print(f"  {what}:")
        print(f"    1 worker : {one['wall']:6.2f} s wall, overhead {one['overhead']:.2f} s per run")
        print(f"    {args.jobs} workers: {many['wall']:6.2f} s wall, overhead {many['overhead']:.2f} s per run")
        print(f"    speed-up {args.jobs} workers vs 1: {one['wall'] / many['wall']:.2f}x (goal >= 1.7x on 2 cores)")


if __name__ == "__main__":
    main()
