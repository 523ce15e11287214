"""The MLflow UI, in a real browser, after a real sweep.

A small ``parsweep -m`` sweep writes a fresh sqlite store; a real ``mlflow server`` on
127.0.0.1 serves it; headless Chromium (Debian's ``chromium``, driven by Playwright's
Python package) opens the UI as a user would:

- the experiment's runs table lists the sweep by its name, and its trial runs (folded
  under the sweep) by theirs once expanded;
- the sweep's own page shows the speedup table (the run's description) and its trials;
- the link parsweep prints (``?workflowType=machine_learning``: MLflow 3.17 picks its layout from
  that setting, not from the experiment's tags, which parsweep sets too) opens the experiment on
  the runs table, not on the GenAI overview;
- a trial's page shows its ``speedup`` metric; the chart view, on the trial runs, has a
  ``speedup`` chart; the sweep's page shows its verdict's first finding and its metrics
  (``best_speedup``) with no click (above "Show more").

Screenshots of both pages are saved under the test's tmp_path and their paths printed.
The UI polls, so pages are never awaited to be network-idle: each wait is for ``load``
and then for the text expected.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from analysis.report import load_report
from conftest import MLFLOW_SERVER_ENV, TINY, all_runs, clean_env, run_parsweep, runs_with_role, sqlite_uri

pytestmark = [pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"]
SERVER_START_TIMEOUT_S = 90
UI_TIMEOUT_MS = 45_000


def require_browser() -> None:
    """Fail (not skip) with what to do when the browser or its driver is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the MLflow UI test drives Debian's chromium. "
            "`.ci/run` installs it (apt-get update && apt-get install -y chromium); run that once here."
        )
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("the Python package `playwright` is missing: install the test extras (pip install -e '.[test]')")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def mlflow_server(store: Path, log: Path) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 serving ``store``; always stopped afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    mlflow = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow) if mlflow.exists() else shutil.which("mlflow") or "mlflow"]
    command += ["server", "--backend-store-uri", sqlite_uri(store), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with log.open("w") as out:
        server = subprocess.Popen(command, env=clean_env(**MLFLOW_SERVER_ENV), stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer /health within {SERVER_START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        import os
        import signal

        try:
            os.killpg(server.pid, signal.SIGTERM)  # the server and its uvicorn workers
            server.wait(15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(server.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            server.wait(5)


def shoot(page: Any, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_sweep_and_trials_in_the_mlflow_ui(tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)  # the first page can take a while on a busy machine

    launch_dir = tmp_path / "launch"
    launch_dir.mkdir()
    store = launch_dir / "mlflow.db"
    launch = run_parsweep(["-m", "backend=serial,threading", "workers=1,2", *TINY, "plots=true"], launch_dir, uri=sqlite_uri(store))
    assert launch.returncode == 0, launch.explain()
    runs = all_runs(sqlite_uri(store))
    (sweep,) = runs_with_role(runs, "sweep")
    trials = runs_with_role(runs, "trial")
    assert len(trials) == 3
    experiment = sweep.info.experiment_id
    sweep_name = sweep.info.run_name
    trial_names = sorted(run.info.run_name for run in trials)
    assert trial_names == ["serial · n=1e4", "threading · 1 worker · n=1e4", "threading · 2 workers · n=1e4"]

    with mlflow_server(store, tmp_path / "mlflow-server.log") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)

            # The experiment's runs table: the sweep by name, its trials folded under it.
            page.goto(f"{url}/#/experiments/{experiment}/runs", wait_until="load")
            name_cells = page.locator('[role="gridcell"][col-id*="Run Name"]')
            sweep_cell = name_cells.filter(has_text=sweep_name)
            expect(sweep_cell).to_be_visible()
            sweep_cell.locator("button").first.click()  # expand the sweep's children
            for name in trial_names:
                expect(name_cells.filter(has_text=name)).to_be_visible()
            shoot(page, tmp_path / "mlflow-runs.png")

            # The sweep's own page: its speedup table (the description) and its trials.
            page.goto(f"{url}/#/experiments/{experiment}/runs/{sweep.info.run_id}", wait_until="load")
            expect(page.get_by_text(sweep_name).first).to_be_visible()
            table = page.locator("table").filter(has_text="speedup")
            try:
                expect(table.first).to_be_visible()
            except AssertionError:
                shoot(page, tmp_path / "mlflow-sweep.png")
                raise AssertionError("the sweep's page shows no speedup table (tag mlflow.note.content)") from None
            show_more = page.get_by_text("Show more", exact=True)
            if show_more.count():  # a long description starts folded
                show_more.first.click()
            for backend in ("serial", "threading"):
                expect(table.first).to_contain_text(backend)
            expect(table.first.locator("tr")).to_have_count(4)  # the header and one row per trial
            for name in trial_names:
                expect(page.get_by_text(name).first).to_be_visible()
            shoot(page, tmp_path / "mlflow-sweep.png")

            # The link the sweep printed opens the runs table (MLflow's default is its GenAI overview).
            (hint,) = [line for line in launch.stdout.splitlines() if line.startswith("Browse the runs:")]
            page_path = hint[hint.index("#/"):]
            assert page_path == f"#/experiments/{experiment}?workflowType=machine_learning", hint
            page.goto(f"{url}/{page_path}", wait_until="load")
            expect(name_cells.filter(has_text=sweep_name)).to_be_visible()
            assert "/runs" in page.url and "overview" not in page.url, page.url
            shoot(page, tmp_path / "mlflow-experiment.png")

            # A trial's page: its speedup, among its metrics.
            serial = next(t for t in trials if t.data.params["backend"] == "serial")
            page.goto(f"{url}/#/experiments/{experiment}/runs/{serial.info.run_id}?workflowType=machine_learning", wait_until="load")
            expect(page.get_by_role("cell", name="speedup", exact=True).first).to_be_visible()
            shoot(page, tmp_path / "mlflow-trial.png")

            # The chart view with the sweep's trials unfolded (MLflow keeps what was unfolded in the
            # table): speedup is a chart of its own.
            page.goto(f"{url}/{page_path}", wait_until="load")
            expect(name_cells.filter(has_text=sweep_name)).to_be_visible()
            time.sleep(1.0)
            if not name_cells.filter(has_text=trial_names[0]).count():  # unfolded above already, or not
                name_cells.filter(has_text=sweep_name).locator("button").first.click()
            expect(name_cells.filter(has_text=trial_names[0])).to_be_visible()
            time.sleep(1.0)  # the page saves its state to the browser's storage
            page.goto(f"{url}/#/experiments/{experiment}/runs?workflowType=machine_learning&compareRunsMode=CHART", wait_until="load")
            expect(page.get_by_text(trial_names[0]).first).to_be_visible()
            page.get_by_placeholder("Search metric charts").fill("speedup")
            expect(page.get_by_text("speedup", exact=True).first).to_be_visible()
            shoot(page, tmp_path / "mlflow-charts.png")

            # The sweep's page, folded as it opens: the verdict's first finding and the metrics, no click.
            page.goto(f"{url}/#/experiments/{experiment}/runs/{sweep.info.run_id}?workflowType=machine_learning", wait_until="load")
            report = load_report(sqlite_uri(store), sweep=sweep.info.run_id)
            finding = report.verdict[1].strip()
            lead = page.get_by_text(finding[:60]).first
            expect(lead).to_be_visible()
            expect(page.get_by_role("cell", name="best_speedup", exact=True).first).to_be_visible()
            fold = page.get_by_text("Show more", exact=True)
            if fold.count():  # what is above "Show more" is what a user sees without a click
                lead_box, fold_box = lead.bounding_box(), fold.first.bounding_box()
                assert lead_box and fold_box and lead_box["y"] + lead_box["height"] <= fold_box["y"], (lead_box, fold_box)
            shoot(page, tmp_path / "mlflow-sweep-folded.png")

            # The interactive report in MLflow's artifact viewer: hovering a point shows its interval and trust.
            page.goto(f"{url}/#/experiments/{experiment}/runs/{sweep.info.run_id}/artifacts/report/interactive.html"
                      "?workflowType=machine_learning", wait_until="load")
            frame = page.frame_locator("iframe").first
            point = frame.locator("circle.point").first
            point.scroll_into_view_if_needed()
            point.hover()
            expect(frame.locator("#tip")).to_contain_text("95% CI")
            expect(frame.locator("#tip")).to_contain_text("trust: ")
            shoot(page, tmp_path / "mlflow-interactive.png")
        finally:
            browser.close()
