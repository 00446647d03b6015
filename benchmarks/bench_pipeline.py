"""Speed of the report pipeline's own work (not the notebooks' statistics).

    .venv/bin/python benchmarks/bench_pipeline.py          # fast targets
    .venv/bin/python benchmarks/bench_pipeline.py --full   # plus a whole `cx run` on the sample

Prints one line per target: "<name>: <seconds> s (target < X s), peak <MB> MB". Peak is this
process's peak resident memory so far (resource.getrusage); the full run reports the kernels' too.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat

from helpers import catalog, config, paths
from helpers.reporting import browser, pipeline, render, run_index, run_params


def measure(name: str, target: float, func: Callable[[], Any]) -> Any:
    """Run `func` once, print its wall time and the process's peak RSS so far (resource).

    tracemalloc is not used: its per-allocation hook slows nbconvert's HTML parsing tenfold.
    """
    t0 = time.perf_counter()
    out = func()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    flag = "" if seconds < target else "  <-- over target"
    print(f"{name}: {seconds:.2f} s (target < {target:g} s), peak {peak:.0f} MB{flag}", flush=True)
    return out


def _png(kb: int = 60) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(8, 4.5))
    rng = np.random.default_rng(0)
    ax.scatter(rng.normal(size=4000), rng.normal(size=4000), s=2)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def big_notebook(path: Path, sections: int = 12) -> Path:
    """An executed-looking notebook: headings, prose, tables and one chart per section."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    png = _png()
    table = "<table>" + "".join(f"<tr><td>r{i}</td><td>{i * 1.5:.1f}</td></tr>" for i in range(40)) + "</table>"
    cells = [nbformat.v4.new_markdown_cell("# Benchmark report")]
    for i in range(sections):
        cells.append(nbformat.v4.new_markdown_cell(f"## Section {i}\n\n" + "Prose. " * 80))
        c = nbformat.v4.new_code_cell(f"x = {i}")
        c.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png,
                                                                  "text/plain": "<Figure>"}),
                     nbformat.v4.new_output("execute_result", data={"text/html": table,
                                                                    "text/plain": "table"},
                                            execution_count=i + 1)]
        cells.append(c)
    nb.cells = cells
    nbformat.write(nb, path)
    return path


def many_runs(root: Path, n: int = 200) -> Path:
    """`n` fake finished runs with manifests and metrics, for the index page."""
    for i in range(n):
        run = root / f"2026{1 + i // 28 % 12:02d}{1 + i % 28:02d}T061500Z-{i:07x}"
        run.mkdir(parents=True)
        (run / "manifest.json").write_text(json.dumps({
            "run_id": run.name, "status": "failed" if i % 17 == 0 else "succeeded",
            "started_at": "2026-01-01T06:15:00Z", "duration_s": 50.0,
            "notebooks": [{"name": f"0{k}_nb", "status": "succeeded", "html": f"0{k}_nb.html"}
                          for k in range(1, 7)]}))
        catalog.save_metrics({f"m{k}": {"estimate": 10 + k + i % 5, "ci_low": 5 + k,
                                        "ci_high": 15 + k, "n": 700} for k in range(30)},
                             "02_segments", run)
    return root


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--full", action="store_true", help="also time a whole cx run on the sample")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        root = Path(tmp)
        measure("validate config/params.yaml against every notebook", 5.0,
                lambda: run_params.validate(config.load_params(), config.load_pipeline()))
        nb = big_notebook(root / "big.ipynb")
        html = measure("render 12-section notebook with 12 charts to HTML", 5.0,
                       lambda: render.render_notebook_html(nb, root / "big.html", run_id="bench"))
        print(f"  (HTML size {html.stat().st_size / 2**20:.1f} MB)")
        runs = many_runs(root / "reports")
        measure("index of 200 runs x 30 metrics", 3.0, lambda: run_index.write_index(runs))
        if browser.find_chromium():
            measure("browser check of one report (headless Chromium)", 15.0,
                    lambda: browser.check_in_browser(html))
            measure("PDF of one report (headless Chromium)", 15.0,
                    lambda: render.print_pdf(html, root / "big.pdf"))
        else:
            print("browser check / PDF: skipped (Chromium not installed)")
        if args.full:
            result = measure("cx run, whole pipeline on the sample", 60.0,
                             lambda: pipeline.run(paths.resolve("config/params.yaml"),
                                                  out_dir=root / "full"))
            kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(f"  (run {result.status}; largest kernel peak RSS {kids:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
