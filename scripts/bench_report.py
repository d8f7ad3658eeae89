"""Report building time and page size on synthetic batches of 10, 100 and 1,000 runs.

The run folders are written by featpipe's own run-folder writer (featpipe.runs.synthetic: no
training, consistent metrics and predictions.npy), then `featpipe.report.build_report` makes
the HTML, Markdown and CSV. Printed per size: seconds to build, seconds per run, HTML
megabytes, kB per run, and the ratio of the per-run time to the 100-run batch's (the peer
measured in the same run: near 1 means building time is linear in the runs).

    python scripts/bench_report.py [--sizes 10 100 1000] [--keep DIR]

Times taken while other processes share the cores are upper bounds.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featpipe.report import build_report  # noqa: E402
from featpipe.runs.synthetic import write_sweep  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--keep", type=Path, help="write the batches here and keep them (default: a temporary folder)")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="featpipe-bench-report-"))
    results = {}
    try:
        for n in args.sizes:
            root = base / f"runs-{n}"
            if root.exists():
                shutil.rmtree(root)
            start = time.perf_counter()
            write_sweep(root, n)
            written = time.perf_counter() - start
            start = time.perf_counter()
            files = build_report(root, root / "report.html")
            seconds = time.perf_counter() - start
            size = files.html.stat().st_size
            results[n] = (seconds, size)
            print(f"{n:5d} runs: wrote folders in {written:6.1f} s; report {seconds:6.2f} s "
                  f"({1000 * seconds / n:6.1f} ms/run), HTML {size / 1e6:6.2f} MB ({size / 1e3 / n:6.1f} kB/run), "
                  f"Markdown {files.markdown.stat().st_size / 1e6:.2f} MB, CSV {files.csv.stat().st_size / 1e6:.2f} MB",
                  flush=True)
        peer = 100 if 100 in results else min(results)
        per_run = results[peer][0] / peer
        for n, (seconds, _) in results.items():
            print(f"per-run time at {n} runs / at {peer} runs: {seconds / n / per_run:.2f}")
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
