"""Core selection on synthetic machines (sysfs trees), CPU quotas from synthetic cgroup files."""

from pathlib import Path

import pytest

from parbench.machine import CoreCountError, choose_cpus, cpu_quota, foreign_load, quota_cores, read_topology


def sysfs(tmp_path: Path, layout: dict[int, tuple[int, int]]) -> Path:
    """A fake /sys/devices/system/cpu: logical CPU -> (package, core id)."""
    root = tmp_path / "cpu"
    for cpu, (package, core) in layout.items():
        topo = root / f"cpu{cpu}" / "topology"
        topo.mkdir(parents=True)
        (topo / "physical_package_id").write_text(f"{package}\n")
        (topo / "core_id").write_text(f"{core}\n")
    return root


def two_sockets_siblings_far_apart():
    """2 sockets x 24 cores x 2 threads, siblings numbered N..2N-1 (as on EC2 m5.24xlarge)."""
    layout = {}
    for thread in range(2):
        for package in range(2):
            for core in range(24):
                layout[thread * 48 + package * 24 + core] = (package, core)
    return layout


def two_sockets_siblings_adjacent():
    """The same machine with siblings numbered next to each other (as on many desktops)."""
    return {2 * (package * 24 + core) + thread: (package, core)
            for package in range(2) for core in range(24) for thread in range(2)}


@pytest.mark.parametrize("layout, first_four, last", [
    (two_sockets_siblings_far_apart(), [0, 1, 2, 3], 47),
    (two_sockets_siblings_adjacent(), [0, 2, 4, 6], 94),
])
def test_one_logical_cpu_per_physical_core_on_two_sockets(tmp_path, layout, first_four, last):
    topo = read_topology(allowed=layout.keys(), sys_cpu=sysfs(tmp_path, layout))
    assert topo.source == "sysfs" and topo.physical_cores == 48
    cpus = choose_cpus(48, topo)
    assert cpus[:4] == first_four and cpus[-1] == last
    assert len({layout[c] for c in cpus}) == 48  # 48 distinct physical cores, no two siblings
    assert {layout[c][0] for c in choose_cpus(24, topo)} == {0}  # the first socket fills first
    with pytest.raises(CoreCountError, match="more physical cores than this process may use: 48"):
        choose_cpus(49, topo)


def test_a_128_core_machine_gives_128_distinct_cores_and_auto_plans_up_to_them(tmp_path):
    from parbench.plan import Machine, resolve_cores

    # 2 sockets x 64 cores x 2 threads (256 logical CPUs), siblings numbered N..2N-1.
    layout = {thread * 128 + package * 64 + core: (package, core)
              for thread in range(2) for package in range(2) for core in range(64)}
    topo = read_topology(allowed=layout.keys(), sys_cpu=sysfs(tmp_path, layout))
    assert topo.physical_cores == 128
    cpus = choose_cpus(128, topo)
    assert cpus == list(range(128)) and len({layout[c] for c in cpus}) == 128
    assert resolve_cores("auto", Machine(topo.physical_cores)) == [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128]
    assert resolve_cores("auto", Machine(96)) == [1, 2, 4, 8, 16, 24, 32, 48, 64, 96]


def test_a_cpuset_that_allows_only_some_cpus(tmp_path):
    layout = two_sockets_siblings_far_apart()
    allowed = [4, 5, 6, 7, 52, 53]  # --cpuset-cpus=4-7,52,53: 52 and 53 are siblings of 4 and 5
    topo = read_topology(allowed=allowed, sys_cpu=sysfs(tmp_path, layout))
    assert topo.physical_cores == 4
    assert choose_cpus(4, topo) == [4, 5, 6, 7]
    with pytest.raises(CoreCountError):
        choose_cpus(5, topo)


def test_no_topology_files_counts_every_logical_cpu(tmp_path):
    topo = read_topology(allowed=[0, 1, 2], sys_cpu=tmp_path / "nothing")
    assert topo.source == "logical" and topo.physical_cores == 3 and choose_cpus(2, topo) == [0, 1]


def test_oversubscription_reuses_the_available_cpus(tmp_path):
    topo = read_topology(allowed=[0, 1], sys_cpu=tmp_path / "nothing")
    assert choose_cpus(16, topo, oversubscribe=True) == [0, 1]


def test_cgroup_v2_quota(tmp_path):
    (tmp_path / "cpu.max").write_text("400000 100000\n")
    assert cpu_quota(tmp_path) == 4.0 and quota_cores(tmp_path) == 4
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # --cpus=1.5: one whole CPU
    assert quota_cores(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cpu_quota(tmp_path) is None and quota_cores(tmp_path) is None


def test_cgroup_v1_quota(tmp_path):
    (tmp_path / "cpu,cpuacct").mkdir()
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("200000\n")
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_period_us").write_text("100000\n")
    assert quota_cores(tmp_path) == 2
    (tmp_path / "cpu,cpuacct" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cpu_quota(tmp_path) is None
    assert cpu_quota(tmp_path / "absent") is None


def test_a_quota_below_the_asked_cores_is_refused_with_the_fix():
    topo = read_topology(allowed=[0, 1, 2, 3], sys_cpu=Path("/nonexistent"))
    with pytest.raises(CoreCountError, match=r"--cores 3 exceeds the CPU quota.*2 CPUs.*--cpuset-cpus"):
        choose_cpus(3, topo, quota_cores=2)
    assert choose_cpus(2, topo, quota_cores=2) == [0, 1]


def test_foreign_load_is_a_fraction_per_cpu():
    load = foreign_load([0], seconds=0.2)
    assert set(load) == {"0"} and 0.0 <= load["0"] <= 1.0
