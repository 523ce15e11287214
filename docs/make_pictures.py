"""Regenerate the README's pictures from a real sweep on this machine.

    .venv/bin/python docs/make_pictures.py              # run the sweep below, then draw
    .venv/bin/python docs/make_pictures.py --store mlflow.db   # draw from a store's latest sweep

Writes, next to this file:

- ``speedup.png``: speedup vs workers of the sweep (``analysis.render.plots.plot_speedup``);
- ``mlflow-runs.png``: the MLflow UI's runs table with the sweep and its trials;
- ``mlflow-sweep.png``: the sweep's page in the MLflow UI, with its speedup table;
- ``mlflow-charts.png``: the chart view with the trials unfolded, charts searched for ``speedup``.

The screenshots come from a real ``mlflow server`` on 127.0.0.1 and Debian's chromium
driven by Playwright (``apt-get install -y chromium``; never ``playwright install``).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
# The GIL story in one picture: threads stay flat, processes scale up to the cores.
SWEEP = ["-m", "backend=serial,threading,multiprocessing,process_pool", "workers=1,2,4", "n=1e6,1e7", "repeats=5", "warmup=1"]
UI_TIMEOUT_MS = 60_000


def run_sweep(directory: Path) -> Path:
    """Run :data:`SWEEP` with ``parsweep`` in ``directory``; returns its sqlite store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    command = [str(BIN / "parsweep"), *SWEEP]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=directory, env=env, check=True)
    return directory / "mlflow.db"


def latest_sweep(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("parsweep")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`parsweep.role` = 'sweep'", order_by=["attributes.start_time DESC"], max_results=1
    )
    if not runs:
        raise SystemExit(f"no sweep in {uri}")
    return runs[0]


def draw_speedup(uri: str, sweep_id: str, out: Path) -> None:
    """The speedup plot through the analysis library, as ``parsweep-report`` draws it."""
    from analysis.render.plots import _pyplot, plot_speedup
    from analysis.report import load_report

    report = load_report(uri, sweep=sweep_id)
    host, workload = report.table[["host", "workload"]].iloc[0]
    figure = plot_speedup(report, host, workload)
    figure.savefig(out, dpi=100)
    _pyplot().close(figure)
    print(f"wrote {out}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mlflow_server(store: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{store}", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("mlflow server did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)


def _maybe(what: str, action: Any) -> None:
    """UI niceties (closing a side panel, widening a column) must not stop the pictures."""
    try:
        action()
    except Exception as exc:
        print(f"  (could not {what}: {type(exc).__name__})")


def shoot_ui(store: Path, sweep: Any, runs_png: Path, sweep_png: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    experiment, run_id, name = sweep.info.experiment_id, sweep.info.run_id, sweep.info.run_name
    with mlflow_server(store) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(f"{url}/#/experiments/{experiment}?workflowType=machine_learning", wait_until="load")
            cells = page.locator('[role="gridcell"][col-id*="Run Name"]')
            sweep_cell = cells.filter(has_text=name)
            expect(sweep_cell).to_be_visible()
            _maybe("close the assistant panel", lambda: page.get_by_role("button", name="Close").first.click(timeout=5000))
            sweep_cell.locator("button").first.click()
            expect(cells.nth(3)).to_be_visible()

            def widen() -> None:  # double-clicking the header's resize handle fits the names
                header = page.locator('.ag-header-cell[col-id*="Run Name"]').first
                header.hover()
                header.locator(".ag-header-cell-resize").first.dblclick(timeout=5000)

            _maybe("widen the run name column", widen)
            page.mouse.move(5, 890)  # no hover highlight in the picture
            time.sleep(1.0)
            page.screenshot(path=str(runs_png))
            print(f"wrote {runs_png}")

            page.goto(f"{url}/#/experiments/{experiment}/runs?workflowType=machine_learning&compareRunsMode=CHART", wait_until="load")
            expect(page.get_by_text(name).first).to_be_visible()
            _maybe("search the charts", lambda: page.get_by_placeholder("Search metric charts").fill("speedup"))
            time.sleep(2.0)
            page.screenshot(path=str(runs_png.with_name("mlflow-charts.png")))
            print(f"wrote {runs_png.with_name('mlflow-charts.png')}")

            page.goto(f"{url}/#/experiments/{experiment}/runs/{run_id}?workflowType=machine_learning", wait_until="load")
            expect(page.locator("table").filter(has_text="speedup").first).to_be_visible()
            _maybe("close the assistant panel", lambda: page.get_by_role("button", name="Close").first.click(timeout=3000))
            _maybe("expand the description", lambda: page.get_by_text("Show more").first.click(timeout=5000))
            time.sleep(1.0)
            table = page.locator("table").filter(has_text="speedup").first.bounding_box()
            main = page.locator("main").first.bounding_box()
            if table and main:  # from the run's name down to the end of its speedup table
                clip = {"x": main["x"], "y": main["y"], "width": main["width"], "height": table["y"] + table["height"] + 24 - main["y"]}
                page.screenshot(path=str(sweep_png), clip=clip, full_page=True)
            else:
                page.screenshot(path=str(sweep_png), full_page=True)
            print(f"wrote {sweep_png}")
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="an existing sqlite store to draw from (its latest sweep)")
    parser.add_argument("--out", type=Path, default=DOCS, help="where to write the PNGs (default: docs/)")
    args = parser.parse_args()
    sys.path.insert(0, str(DOCS.parent))
    with tempfile.TemporaryDirectory(prefix="parsweep-pictures-") as tmp:
        store = args.store.resolve() if args.store else run_sweep(Path(tmp))
        uri = f"sqlite:///{store}"
        sweep = latest_sweep(uri)
        args.out.mkdir(parents=True, exist_ok=True)
        draw_speedup(uri, sweep.info.run_id, args.out / "speedup.png")
        shoot_ui(store, sweep, args.out / "mlflow-runs.png", args.out / "mlflow-sweep.png")


if __name__ == "__main__":
    main()
