"""Facts about the host and the interpreter, in the spirit of pyperf's metadata.

One small ``collect_<topic>(facts)`` function per source, each filling one plain dict and
quietly skipping what the platform lacks. :func:`host_facts` gathers them; the slow,
static part is cached per process, the load average is read fresh every time.
"""

from __future__ import annotations

import functools
import math
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

Facts = dict[str, Any]
PACKAGES = ("parsweep", "hydra-core", "omegaconf", "mlflow", "pandas", "psutil", "numpy", "ray", "dask", "distributed")


def collect_cpu(facts: Facts) -> None:
    facts["cpu_model"] = _cpu_model()
    facts["cpu_logical"] = os.cpu_count()
    try:
        import psutil

        facts["cpu_physical"] = psutil.cpu_count(logical=False)
        freq = psutil.cpu_freq()
        if freq is not None and freq.current:
            facts["cpu_freq_mhz"] = round(freq.current)
            if freq.max:
                facts["cpu_freq_max_mhz"] = round(freq.max)
    except Exception:
        pass
    affinity = _affinity_count()
    quota = cgroup_cpu_quota()
    facts["cpu_affinity"] = affinity
    if quota is not None:
        facts["cpu_quota"] = quota
    facts["cpu_usable"] = usable_cpus(affinity, quota)


def usable_cpus(affinity: int | None, quota: float | None) -> int:
    """CPUs this process can keep busy: its affinity mask, capped by the cgroup quota."""
    usable = affinity or os.cpu_count() or 1
    if quota is not None:
        usable = min(usable, max(1, math.ceil(quota)))
    return usable


def _affinity_count() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "Model", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    if platform.processor():
        return platform.processor()
    try:  # slow (it may start a subprocess), hence last
        import cpuinfo

        return cpuinfo.get_cpu_info().get("brand_raw") or "unknown"
    except Exception:
        return "unknown"


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup"), proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup (v2 ``cpu.max`` or v1 CFS), in CPUs; None if unlimited.

    The tightest limit along the cgroup's ancestors applies.
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits: list[float] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":  # cgroup v2 (unified)
            for base in (root, root / "unified"):
                limits += _walk(base, relative, _read_cpu_max)
        elif "cpu" in controllers.split(","):
            for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                limits += _walk(root / name, relative, _read_cfs)
    return min(limits) if limits else None


def _walk(base: Path, relative: str, read: Any) -> list[float]:
    found = []
    parts = [p for p in relative.split("/") if p]
    for depth in range(len(parts), -1, -1):
        value = read(base.joinpath(*parts[:depth]))
        if value is not None:
            found.append(value)
    return found


def _read_cpu_max(directory: Path) -> float | None:
    try:
        quota, period = (directory / "cpu.max").read_text().split()
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _read_cfs(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period


CPU_SYSFS = Path("/sys/devices/system/cpu")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cpu_frequencies(root: Path = CPU_SYSFS) -> list[dict[str, Any]]:
    """Per CPU with a ``cpufreq`` directory: ``cpu``, ``governor``, ``cur_khz``, ``max_khz`` (what exists)."""
    found = []
    for directory in sorted(root.glob("cpu[0-9]*/cpufreq"), key=lambda d: int(d.parent.name[3:])):
        entry: dict[str, Any] = {"cpu": int(directory.parent.name[3:])}
        governor = _read_text(directory / "scaling_governor")
        if governor:
            entry["governor"] = governor
        for key, names in (("cur_khz", ("scaling_cur_freq", "cpuinfo_cur_freq")), ("max_khz", ("cpuinfo_max_freq", "scaling_max_freq"))):
            for name in names:
                text = _read_text(directory / name)
                if text and text.isdigit():
                    entry[key] = int(text)
                    break
        found.append(entry)
    return found


def collect_cpufreq(facts: Facts, root: Path = CPU_SYSFS) -> None:
    """Frequency scaling as the kernel shows it (``cpufreq`` in sysfs): governors and turbo.

    Skipped quietly where there is no cpufreq (most VMs and containers).
    """
    cpus = cpu_frequencies(root)
    governors = sorted({c["governor"] for c in cpus if "governor" in c})
    if governors:
        facts["cpu_governor"] = ",".join(governors)
    no_turbo = _read_text(root / "intel_pstate" / "no_turbo")
    boost = _read_text(root / "cpufreq" / "boost")
    if no_turbo in ("0", "1"):
        facts["cpu_turbo"] = no_turbo == "0"
    elif boost in ("0", "1"):
        facts["cpu_turbo"] = boost == "1"


def collect_memory(facts: Facts) -> None:
    try:
        import psutil

        facts["memory_total_bytes"] = psutil.virtual_memory().total
    except Exception:
        pass


def collect_system(facts: Facts) -> None:
    facts["name"] = socket.gethostname()
    facts["os"] = platform.system()
    facts["kernel"] = platform.release()
    facts["machine"] = platform.machine()
    try:
        info = platform.freedesktop_os_release()
        facts["distribution"] = info.get("PRETTY_NAME", "")
    except (OSError, AttributeError):
        pass


def collect_load(facts: Facts) -> None:
    try:
        facts["load_1m"], facts["load_5m"], facts["load_15m"] = (round(x, 2) for x in os.getloadavg())
    except (AttributeError, OSError):
        pass


def collect_python(facts: Facts) -> None:
    facts["version"] = platform.python_version()
    facts["implementation"] = platform.python_implementation()
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    facts["gil_enabled"] = bool(is_gil_enabled()) if is_gil_enabled else True
    facts["build"] = " ".join(platform.python_build())
    facts["compiler"] = platform.python_compiler()
    facts["executable"] = sys.executable


def collect_packages(facts: Facts) -> None:
    for name in PACKAGES:
        try:
            facts[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass


def collect_git(facts: Facts, directory: Path = Path(__file__).resolve().parents[2]) -> None:
    """The commit of the parsweep source tree that runs, and whether it has local changes."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    facts["commit"] = commit or "unknown"
    if commit:
        status = git("status", "--porcelain", "--untracked-files=no")
        facts["dirty"] = bool(status)


@functools.lru_cache(maxsize=1)
def _static_facts() -> dict[str, Facts]:
    host: Facts = {}
    collect_system(host)
    collect_cpu(host)
    collect_cpufreq(host)
    collect_memory(host)
    python: Facts = {}
    collect_python(python)
    packages: Facts = {}
    collect_packages(packages)
    git: Facts = {}
    collect_git(git)
    return {"host": host, "python": python, "packages": packages, "git": git}


def host_facts() -> dict[str, Facts]:
    """All facts as nested plain dicts (what ``host.json`` holds); load average read now."""
    static = _static_facts()
    facts = {section: dict(values) for section, values in static.items()}
    collect_load(facts["host"])
    return facts


def facts_as_tags(facts: dict[str, Facts]) -> dict[str, str]:
    """Flatten to MLflow tags: ``host.*``, ``python.*``, ``git.*`` (packages stay in host.json)."""
    tags = {}
    for section in ("host", "python", "git"):
        for key, value in facts.get(section, {}).items():
            tags[f"{section}.{key}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return tags
