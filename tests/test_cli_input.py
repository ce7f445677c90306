"""Bad input gets one clear sentence and exit status 2, never a bare traceback."""

import json

import pytest

from conftest import parbench
from parbench.machine import CoreCountError, Topology, choose_cpus, read_topology


def test_list_names_everything():
    out = parbench("list")
    assert out.returncode == 0
    for name in ("numerical", "stateful", "expensive_init", "serial", "multiprocessing", "ray",
                 "multiprocessing_tuned", "paper", "quick", "smoke"):
        assert name in out.stdout


@pytest.mark.parametrize("args, message", [
    (["--cores", "0"], "must be at least 1"),
    (["--cores", "-2"], "must be at least 1"),
    (["--cores", "1.5"], "is not an integer"),
    (["--cores", "4096"], "asks for more physical cores than this process may use"),
    (["--cores", "1", "--preset", "huge"], "unknown preset 'huge'; choose one of: paper, quick, smoke"),
    (["--cores", "1", "--size", "image_side=0"], "must be at least 1"),
    (["--cores", "1", "--size", "colour=3"], "unknown size 'colour'"),
])
def test_bad_run_input(tmp_path, args, message):
    out = parbench("run", "--workload", "numerical", "--backend", "serial", *args, "--out", tmp_path / "r.json")
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "r.json").exists()


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    out = parbench("run", "--workload", "numerical", "--backend", "serial", "--cores", "1",
                   "--out", blocker / "sub" / "r.json")
    assert out.returncode == 2 and "output folder" in out.stderr and "Traceback" not in out.stderr


def test_choose_cpus_skips_smt_siblings():
    topo = Topology(allowed=(0, 1, 2, 3), cores=((0, 2), (1, 3)), source="sysfs")
    assert choose_cpus(2, topo) == [0, 1]
    with pytest.raises(CoreCountError, match="at most 2"):
        choose_cpus(3, topo)


def test_env_has_no_hostname(tmp_path):
    import socket

    out = parbench("env", "--out", tmp_path / "env.json")
    assert out.returncode == 0
    text = (tmp_path / "env.json").read_text()
    data = json.loads(text)
    assert data["machine"]["physical_cores_allowed"] == read_topology().physical_cores
    assert socket.gethostname() not in text
