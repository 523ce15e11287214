"""Facts about the host and the interpreter, in the spirit of pyperf's metadata.

One small ``collect_<topic>(facts)`` function per source, each filling one plain dict and
quietly skipping what the platform lacks (no psutil, no /proc file). What does not change
while parsweep runs (CPU model, usable CPUs, packages, git commit) is collected once per
process; what does (the CPU clock, the load average) is read for each trial
(:func:`host_facts`). The interpreter's facts (:func:`interpreter_facts`) are collected by
the trial process itself, so they describe the interpreter the trial ran under.

Standard library only, psutil where it happens to be importable: the trial process imports
this module under any CPython >= 3.10.
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
    """What does not change: model, logical and physical cores, affinity, cgroup quota, usable CPUs."""
    facts["cpu_model"] = cpu_model()
    facts["cpu_logical"] = os.cpu_count()
    physical = _physical_cores()
    if physical:
        facts["cpu_physical"] = physical
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


def _physical_cores() -> int | None:
    """Distinct (package, core) pairs in /proc/cpuinfo; psutil's count where that file says nothing."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    cores = set()
    package = core = None
    for line in text.splitlines() + [""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            package = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not line.strip():
            if core is not None:
                cores.add((package, core))
            package = core = None
    if cores:
        return len(cores)
    try:
        import psutil

        return psutil.cpu_count(logical=False)
    except Exception:
        return None


def collect_clock(facts: Facts) -> None:
    """The CPU clock now (MHz, averaged over the CPUs) and its maximum: read for each trial."""
    entries = cpu_frequencies()
    current = [e["cur_khz"] for e in entries if e.get("cur_khz")]
    top = [e["max_khz"] for e in entries if e.get("max_khz")]
    if current:
        facts["cpu_freq_mhz"] = round(sum(current) / len(current) / 1000)
        if top:
            facts["cpu_freq_max_mhz"] = round(max(top) / 1000)
        return
    try:  # no cpufreq in sysfs (most VMs): the kernel's figure per CPU in /proc/cpuinfo
        mhz = [float(line.split(":", 1)[1]) for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("cpu MHz")]
    except (OSError, ValueError):
        mhz = []
    if mhz:
        facts["cpu_freq_mhz"] = round(sum(mhz) / len(mhz))


def _affinity_count() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else what the platform says)."""
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


def frequency_state(cpus: list[int] | None = None, root: Path | None = None) -> tuple[list[str], float | None]:
    """Governors in use and current / maximum clock (summed over ``cpus``), from cpufreq in sysfs."""
    entries = cpu_frequencies(root or CPU_SYSFS)
    if cpus is not None:
        entries = [e for e in entries if e["cpu"] in cpus] or entries
    governors = sorted({e["governor"] for e in entries if "governor" in e})
    clocked = [e for e in entries if e.get("cur_khz") and e.get("max_khz")]
    ratio = sum(e["cur_khz"] for e in clocked) / sum(e["max_khz"] for e in clocked) if clocked else None
    return governors, ratio


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
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return
    if pages > 0 and size > 0:
        facts["memory_total_bytes"] = pages * size


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
    """The running interpreter: version, implementation, build, whether it is free-threaded
    (PEP 703) and whether its GIL is on right now (``PYTHON_GIL`` can force it either way)."""
    import sysconfig

    facts["version"] = platform.python_version()
    facts["implementation"] = platform.python_implementation()
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    # sys._is_gil_enabled (3.13+) is the only way to ask; it is documented, underscore and all.
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    gil_enabled = bool(is_gil_enabled()) if is_gil_enabled else True
    facts["gil_enabled"] = gil_enabled
    facts["free_threaded"] = free_threaded
    facts["gil_env"] = os.environ.get("PYTHON_GIL", "")
    facts["label"] = python_label(facts["version"], free_threaded, gil_enabled)
    facts["build"] = " ".join(platform.python_build())
    facts["compiler"] = platform.python_compiler()
    facts["executable"] = sys.executable


def collect_packages(facts: Facts) -> None:
    for name in PACKAGES:
        try:
            facts[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass


SOURCE_TREE = Path(__file__).resolve().parents[2]


def collect_git(facts: Facts, directory: Path = SOURCE_TREE) -> None:
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
    packages: Facts = {}
    collect_packages(packages)
    git: Facts = {}
    collect_git(git)
    return {"host": host, "packages": packages, "git": git}


def python_label(version: str, free_threaded: bool, gil_enabled: bool) -> str:
    """How reports name an interpreter: ``3.11.7``; ``3.13.5t`` for a free-threaded build;
    ``3.13.5t+GIL`` for a free-threaded build running with its GIL forced back on."""
    label = f"{version}t" if free_threaded else version
    return f"{label}+GIL" if free_threaded and gil_enabled else label


def interpreter_facts() -> Facts:
    """This interpreter's facts (the ``python`` section of ``host.json``)."""
    facts: Facts = {}
    collect_python(facts)
    return facts


def host_facts(python: Facts | None = None) -> dict[str, Facts]:
    """All facts as nested plain dicts (what ``host.json`` holds): the static ones, the CPU
    clock and the load average read now, and ``python`` (default: this interpreter's)."""
    static = _static_facts()
    facts = {section: dict(values) for section, values in static.items()}
    collect_clock(facts["host"])
    collect_load(facts["host"])
    facts["python"] = dict(python) if python is not None else interpreter_facts()
    return facts


def usable_cpu_count() -> int:
    """CPUs this process can keep busy (affinity and cgroup quota applied)."""
    return int(_static_facts()["host"]["cpu_usable"])


def facts_as_tags(facts: dict[str, Facts]) -> dict[str, str]:
    """Flatten to MLflow tags: ``host.*``, ``python.*``, ``git.*`` (packages stay in host.json)."""
    tags = {}
    for section in ("host", "python", "git"):
        for key, value in facts.get(section, {}).items():
            tags[f"{section}.{key}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return tags
