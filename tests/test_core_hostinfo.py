"""Host facts: cgroup CPU quotas on fake cgroup trees, usable cores, the facts and their tags."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

from conftest import SPEC_FACT_TAGS
from runner.host.facts import cgroup_cpu_quota, facts_as_tags, host_facts, usable_cpus

pytestmark = pytest.mark.timeout(60)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def v2_tree(tmp_path: Path, cgroup: str, limits: dict[str, str]) -> tuple[Path, Path]:
    """A unified (v2) hierarchy: ``limits`` maps a cgroup path to its ``cpu.max`` line."""
    root = tmp_path / "sys-fs-cgroup"
    root.mkdir()
    for path, line in limits.items():
        write(root / path.strip("/") / "cpu.max", line + "\n")
    proc = tmp_path / "proc-self-cgroup"
    write(proc, f"0::{cgroup}\n")
    return root, proc


def test_v2_quota_in_cpus(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, "/job", {"/job": "200000 100000"})
    assert cgroup_cpu_quota(root, proc) == 2.0


def test_v2_fractional_quota(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, "/job", {"/job": "150000 100000"})
    assert cgroup_cpu_quota(root, proc) == 1.5


def test_v2_max_means_unlimited(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, "/job", {"/job": "max 100000"})
    assert cgroup_cpu_quota(root, proc) is None


def test_v2_nested_limits_tightest_wins(tmp_path: Path) -> None:
    root, proc = v2_tree(
        tmp_path,
        "/a/b/c",
        {"/": "max 100000", "/a": "100000 100000", "/a/b": "300000 100000", "/a/b/c": "max 100000"},
    )
    assert cgroup_cpu_quota(root, proc) == 1.0


def test_v2_parent_limit_applies_to_an_unlimited_child(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, "/a/b", {"/a": "50000 100000", "/a/b": "max 100000"})
    assert cgroup_cpu_quota(root, proc) == 0.5


def test_v2_no_cpu_max_anywhere(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, "/a", {})
    assert cgroup_cpu_quota(root, proc) is None


def test_garbage_cpu_max_is_ignored(tmp_path: Path) -> None:
    root, proc = v2_tree(tmp_path, "/a", {"/a": "nonsense"})
    assert cgroup_cpu_quota(root, proc) is None


@pytest.mark.parametrize("controllers", ["cpu,cpuacct", "cpu"])
def test_v1_cfs_quota(tmp_path: Path, controllers: str) -> None:
    root = tmp_path / "cg"
    write(root / controllers / "grp" / "cpu.cfs_quota_us", "250000\n")
    write(root / controllers / "grp" / "cpu.cfs_period_us", "100000\n")
    proc = tmp_path / "cgroup"
    write(proc, f"4:memory:/grp\n3:{controllers}:/grp\n0::/\n")
    assert cgroup_cpu_quota(root, proc) == 2.5


def test_v1_unlimited_quota(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    write(root / "cpu,cpuacct" / "grp" / "cpu.cfs_quota_us", "-1\n")
    write(root / "cpu,cpuacct" / "grp" / "cpu.cfs_period_us", "100000\n")
    proc = tmp_path / "cgroup"
    write(proc, "3:cpu,cpuacct:/grp\n")
    assert cgroup_cpu_quota(root, proc) is None


def test_v1_nested_tightest_wins(tmp_path: Path) -> None:
    root = tmp_path / "cg"
    base = root / "cpu,cpuacct"
    write(base / "outer" / "cpu.cfs_quota_us", "100000\n")
    write(base / "outer" / "cpu.cfs_period_us", "100000\n")
    write(base / "outer" / "inner" / "cpu.cfs_quota_us", "400000\n")
    write(base / "outer" / "inner" / "cpu.cfs_period_us", "100000\n")
    proc = tmp_path / "cgroup"
    write(proc, "3:cpu,cpuacct:/outer/inner\n")
    assert cgroup_cpu_quota(root, proc) == 1.0


def test_missing_proc_cgroup_means_no_quota(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(tmp_path, tmp_path / "does-not-exist") is None


@pytest.mark.parametrize(
    "affinity, quota, usable",
    [(4, None, 4), (4, 2.0, 2), (4, 1.5, 2), (4, 0.5, 1), (2, 8.0, 2), (8, 3.2, 4), (1, None, 1)],
)
def test_usable_cpus(affinity: int, quota: float | None, usable: int) -> None:
    assert usable_cpus(affinity, quota) == usable


def test_usable_cpus_without_affinity() -> None:
    assert usable_cpus(None, None) == (os.cpu_count() or 1)


def test_host_facts_has_the_keys() -> None:
    facts = host_facts()
    assert {"host", "python", "git"} <= set(facts)
    host = facts["host"]
    for key in ("name", "cpu_model", "cpu_logical", "cpu_physical", "cpu_usable", "os", "kernel"):
        assert key in host, key
    assert 1 <= host["cpu_usable"] <= (os.cpu_count() or 1)
    assert host["cpu_usable"] <= len(os.sched_getaffinity(0))
    assert host["cpu_logical"] == os.cpu_count()
    python = facts["python"]
    assert python["version"] == platform.python_version()
    assert python["implementation"] == platform.python_implementation()
    assert isinstance(python["gil_enabled"], bool)
    assert "commit" in facts["git"]
    assert "load_1m" in host  # read fresh on every call


def test_host_facts_returns_a_fresh_copy() -> None:
    first = host_facts()
    first["host"]["name"] = "changed"
    assert host_facts()["host"]["name"] != "changed"


def test_facts_as_tags_flattens() -> None:
    facts = {
        "host": {"name": "box", "cpu_usable": 2, "cpu_quota": 1.5},
        "python": {"version": "3.11.7", "gil_enabled": True},
        "git": {"commit": "abc", "dirty": False},
        "packages": {"mlflow": "3.17.0"},
    }
    tags = facts_as_tags(facts)
    assert tags == {
        "host.name": "box",
        "host.cpu_usable": "2",
        "host.cpu_quota": "1.5",
        "python.version": "3.11.7",
        "python.gil_enabled": "true",
        "git.commit": "abc",
        "git.dirty": "false",
    }


def test_real_facts_as_tags_name_what_the_spec_names() -> None:
    tags = facts_as_tags(host_facts())
    for key in SPEC_FACT_TAGS:
        assert key in tags and tags[key] != "", key
    assert all(isinstance(v, str) for v in tags.values())
