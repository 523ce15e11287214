"""Helpers for the fault tests (no tests here): a sweep in the background, its processes,
and a real ``mlflow server`` on 127.0.0.1.

Everything is real: sweeps are ``parsweep`` subprocesses, signals are real signals, the
tracking server is MLflow's own, started and stopped by the test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conftest import MARKER, MLFLOW_SERVER_ENV, clean_env, parsweep_command, with_test_settings


class Background:
    """``parsweep ARGS`` running in its own session, its output collected line by line."""

    def __init__(self, args: list[str], cwd: Path, uri: str | None = None, env: dict[str, str] | None = None,
                 command: list[str] | None = None, settings: bool = True) -> None:
        args = with_test_settings(args, settings)
        self.marker = f"launch-{uuid.uuid4().hex}"
        full_env = clean_env(**(env or {}))
        full_env[MARKER] = self.marker
        if uri is not None:
            full_env["MLFLOW_TRACKING_URI"] = uri
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.process = subprocess.Popen(
            (command or parsweep_command()) + args, cwd=cwd, env=full_env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(self.process.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.process.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return "\n".join(self.stdout) + "\n--- stderr\n" + "\n".join(self.stderr)

    def wait_for(self, condition: Callable[[], Any], timeout: float = 90, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the readers catch up
                value = condition()
                if value:
                    return value
                raise AssertionError(f"parsweep exited ({self.process.returncode}) before {what}\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.output()}")

    def wait_for_line(self, text: str, stream: str = "stdout", timeout: float = 90) -> str:
        lines = self.stdout if stream == "stdout" else self.stderr
        return self.wait_for(lambda: next((line for line in list(lines) if text in line), None), timeout, repr(text))

    def wait_for_trial_process(self, line: str, timeout: float = 90) -> None:
        """Wait for ``line``, then for a process of the sweep started since (its next group's trial
        process; the processes of the trials ``line`` reports ended before it was printed): from
        then on a trial is being measured, however busy the machine."""
        import psutil

        self.wait_for_line(line, timeout=timeout)
        # the line may have been printed up to a reader's turn before it was seen: look back a little.
        # Start times are compared on the kernel's own clock (seconds since boot, /proc/PID/stat);
        # psutil's create_time adds the boot time, which on a VM can be seconds off time.time().
        since = time.clock_gettime(time.CLOCK_BOOTTIME) - 0.5
        ticks = os.sysconf("SC_CLK_TCK")

        def started() -> bool:
            try:
                family = psutil.Process(self.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                return False
            for process in family:
                try:
                    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                state, start = fields[0], int(fields[19]) / ticks  # fields 3 and 22 of proc(5)
                if start >= since and state != "Z":
                    return True
            return False

        self.wait_for(started, timeout, f"a trial process after {line!r}")

    def finish(self, timeout: float = 120) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        for reader in self._readers:
            reader.join(5)
        return code

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)


def trial_processes(launcher_pid: int) -> list[Any]:
    """Trial processes under a launcher: descendants leading their own process group."""
    import psutil

    found = []
    try:
        for child in psutil.Process(launcher_pid).children(recursive=True):
            try:
                if os.getpgid(child.pid) == child.pid and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child)
            except (psutil.Error, ProcessLookupError):
                continue
    except psutil.Error:
        pass
    return found


def worker_processes(launcher_pid: int) -> list[Any]:
    """Worker processes of the running trial (children of a trial process, same group)."""
    import psutil

    workers = []
    for trial in trial_processes(launcher_pid):
        try:
            for child in trial.children(recursive=True):
                if child.status() != psutil.STATUS_ZOMBIE and "resource_tracker" not in " ".join(child.cmdline()):
                    workers.append(child)
        except psutil.Error:
            continue
    return workers


def alive(pids: list[int]) -> list[int]:
    import psutil

    left = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except psutil.Error:
            continue
    return left


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServer:
    """``mlflow server`` on 127.0.0.1 with a sqlite backend, in its own session."""

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> MlflowServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        mlflow = Path(sys.executable).with_name("mlflow")
        env = clean_env(**MLFLOW_SERVER_ENV)
        with open(self.directory / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                [str(mlflow), "server", "--backend-store-uri", f"sqlite:///{self.directory / 'server.db'}",
                 "--artifacts-destination", str(self.directory / "artifacts"), "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1"],
                cwd=self.directory, env=env, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mlflow server exited: {(self.directory / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.uri + "/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.25)
        self.stop()
        raise AssertionError("mlflow server did not come up")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(10)
                break
            except subprocess.TimeoutExpired:
                continue
        # The port must really be closed before the test goes on.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) != 0:
                    return
            time.sleep(0.1)
