"""Shared memory that /dev/shm's size does not cap, what a record says backed it, and the mount
table it is judged by (fast: no benchmark is run)."""

import os
import pickle

import numpy as np
import pytest

from parbench.machine import Mount, is_mount_point, mount_of, parse_mountinfo, read_mounts
from parbench.workloads.shared_buffers import (
    ANONYMOUS_SHARED,
    AnonymousSharedArray,
    classify_mapping,
    describe_buffer,
    mapping_name,
)

# Shaped like a container's /proc/self/mountinfo: overlay root, Docker's 64 MB /dev/shm, a bind
# mount whose host path has a space (written \040), and /proc.
MOUNTINFO = """\
601 520 0:52 / / rw,relatime master:301 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
602 601 0:55 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
610 601 0:60 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k
611 601 259:1 /home/me/my\\040results /artifact/results rw,relatime - ext4 /dev/nvme0n1p1 rw
612 601 259:1 /var/lib/docker/containers/abc/hosts /etc/hosts rw,relatime - ext4 /dev/nvme0n1p1 rw
"""


def test_mountinfo_is_parsed_with_its_escapes():
    mounts = parse_mountinfo(MOUNTINFO)
    assert [m.mount_point for m in mounts] == ["/", "/proc", "/dev/shm", "/artifact/results", "/etc/hosts"]
    assert mounts[2] == Mount("/dev/shm", "tmpfs", "shm")
    assert mounts[3].fstype == "ext4"
    spaced = parse_mountinfo("1 0 0:1 / /mnt/a\\040b rw - tmpfs none rw\n")
    assert spaced[0].mount_point == "/mnt/a b"
    assert parse_mountinfo("garbage\n\n") == []


def test_mount_of_takes_the_longest_prefix_not_a_string_prefix():
    mounts = parse_mountinfo(MOUNTINFO)
    assert mount_of("/dev/shm/pym-1-x", mounts).fstype == "tmpfs"
    assert mount_of("/tmp/pymp-1/pym-2", mounts).fstype == "overlay"
    assert mount_of("/artifact/results/raw/x.json", mounts).mount_point == "/artifact/results"
    assert mount_of("/artifact/resultsX", mounts).mount_point == "/"  # a sibling, not inside
    assert mount_of("/x", []) is None


def test_is_mount_point_only_for_the_mounted_folder_itself(tmp_path):
    mounts = parse_mountinfo(MOUNTINFO)
    assert is_mount_point("/artifact/results", mounts)
    assert is_mount_point("/artifact/results/", mounts)
    assert not is_mount_point("/artifact", mounts)
    assert not is_mount_point("/artifact/results/raw", mounts)
    assert not is_mount_point("/artifact/results", parse_mountinfo(MOUNTINFO.replace("/artifact/results", "/data")))
    # this machine's own table: / is always mounted, a fresh temporary folder is not
    assert is_mount_point("/", read_mounts())
    assert not is_mount_point(tmp_path, read_mounts())


@pytest.mark.parametrize("name, kind, in_dev_shm, limited", [
    ("/dev/zero (deleted)", ANONYMOUS_SHARED, False, False),
    ("/SYSV00000000 (deleted)", ANONYMOUS_SHARED, False, False),
    ("/memfd:image (deleted)", "memfd (kernel shmem)", False, False),
    ("/dev/shm/pym-7-abc (deleted)", "file mapping on tmpfs mounted at /dev/shm", True, True),
    ("/tmp/pymp-q/pym-7-abc (deleted)", "file mapping on overlay mounted at /", False, False),
    ("", "private memory (anonymous), not shared", False, False),
])
def test_classify_mapping(name, kind, in_dev_shm, limited):
    facts = classify_mapping(name, parse_mountinfo(MOUNTINFO))
    assert facts["mapping"] == name
    assert (facts["kind"], facts["in_dev_shm"], facts["limited_by_dev_shm"]) == (kind, in_dev_shm, limited)


def test_a_file_mapping_names_its_folder_and_file_system():
    facts = classify_mapping("/tmp/pymp-q/pym-7-abc (deleted)", parse_mountinfo(MOUNTINFO))
    assert facts["folder"] == "/tmp/pymp-q" and facts["filesystem"] == "overlay"
    assert classify_mapping(None, [])["in_dev_shm"] is None  # /proc unreadable: unknown, not False


def test_anonymous_shared_array_is_shared_with_a_forked_child_and_not_in_dev_shm():
    shared = AnonymousSharedArray((300, 200), "float64")
    try:
        assert shared.array.shape == (300, 200) and shared.array.dtype == np.float64
        facts = describe_buffer(shared.address)
        assert facts["mapping"].startswith("/dev/zero")  # what Linux names MAP_SHARED|MAP_ANONYMOUS
        assert facts["kind"] == ANONYMOUS_SHARED and facts["limited_by_dev_shm"] is False
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: wait until the parent has written after the fork, then answer
            try:
                os.close(write)
                os.read(read, 1)
                total = float(shared.array.sum())
                shared.array[0, 0] = -1.0  # and write back through the same pages
                os._exit(0 if total == 300 * 200 * 2.0 else 3)
            finally:
                os._exit(4)
        os.close(read)
        shared.array[:] = 2.0  # written after the fork: a private copy would not see it
        os.write(write, b"x")
        os.close(write)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert shared.array[0, 0] == -1.0
    finally:
        shared.close()
    assert shared.buffer.closed


def test_the_mapping_refuses_to_be_pickled():
    # Only fork may hand it on; a spawned worker must fail, not receive a silent copy.
    shared = AnonymousSharedArray((4,), "float64")
    try:
        with pytest.raises(TypeError):
            pickle.dumps(shared.buffer)
    finally:
        shared.close()


def test_mapping_name_of_an_unmapped_address_is_none(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text("00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/python3\n"
                    "7f0000000000-7f0000001000 rw-p 00000000 00:00 0\n")
    assert mapping_name(0x00400010, maps) == "/usr/bin/python3"
    assert mapping_name(0x7F0000000010, maps) == ""
    assert mapping_name(0x10, maps) is None
    assert mapping_name(0x10, tmp_path / "absent") is None
