"""Shared memory that /dev/shm's size does not cap, and where any shared buffer really lives.

Docker gives a container a 64 MB /dev/shm unless `--shm-size` says otherwise. POSIX shared memory
(`multiprocessing.shared_memory`) is a file in /dev/shm, so a 72 MB image does not fit there. An
anonymous shared mapping (`mmap(-1, n)`, MAP_SHARED|MAP_ANONYMOUS) lives in the kernel's internal
shmem instead, which only the memory limit bounds; workers forked after it is created inherit the
mapping and see what the driver writes into it. `describe_buffer` reads /proc/self/maps to record
what backs a buffer (this one, a multiprocessing heap arena, a memfd, a file), so a record states
which kind of shared memory a cell used rather than which one it meant to use.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np

from ..machine import Mount, mount_of, read_mounts

DELETED = " (deleted)"
ANONYMOUS_SHARED = "anonymous shared mapping (MAP_SHARED|MAP_ANONYMOUS, kernel shmem)"


class AnonymousSharedArray:
    """An ndarray in an anonymous shared mapping, for workers forked after it exists.

    Only `fork` passes it on: the mapping object cannot be pickled, so a spawned worker fails
    loudly instead of silently receiving a copy.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype | str):
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        count = int(np.prod(self.shape, dtype=np.int64))
        self.buffer = mmap.mmap(-1, max(count * self.dtype.itemsize, 1), flags=mmap.MAP_SHARED)
        self.array: np.ndarray | None = view_of(self.buffer, self.shape, self.dtype)

    @property
    def address(self) -> int:
        assert self.array is not None, "closed"
        return self.array.ctypes.data

    def close(self) -> None:
        # mmap.close() refuses while an ndarray still exports its buffer; drop ours first.
        self.array = None
        self.buffer.close()


def view_of(buffer, shape: tuple[int, ...], dtype: np.dtype | str) -> np.ndarray:
    """An ndarray over the first bytes of `buffer` (writable when the buffer is)."""
    count = int(np.prod(shape, dtype=np.int64))
    return np.frombuffer(buffer, dtype=dtype, count=count).reshape(shape)


def mapping_name(address: int, maps: str | Path = "/proc/self/maps") -> str | None:
    """The pathname column of the mapping that holds `address` ("" for an unnamed private
    mapping); None when no mapping holds it or /proc cannot be read."""
    try:
        text = Path(maps).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        fields = line.split(maxsplit=5)
        if not fields:
            continue
        low, high = (int(x, 16) for x in fields[0].split("-"))
        if low <= address < high:
            return fields[5].strip() if len(fields) > 5 else ""
    return None


def classify_mapping(name: str | None, mounts: list[Mount]) -> dict:
    """What a mapping's pathname says about where its pages live and whether /dev/shm caps it."""
    facts: dict = {"mapping": name}
    if name is None:
        return facts | {"kind": "unknown (/proc/self/maps not readable)", "in_dev_shm": None,
                        "limited_by_dev_shm": None}
    path = name.removesuffix(DELETED)
    if path == "/dev/zero" or path.startswith("/SYSV"):
        return facts | {"kind": ANONYMOUS_SHARED, "in_dev_shm": False, "limited_by_dev_shm": False}
    if path.startswith("/memfd:"):
        return facts | {"kind": "memfd (kernel shmem)", "in_dev_shm": False, "limited_by_dev_shm": False}
    if not path.startswith("/"):
        return facts | {"kind": f"private memory ({path or 'anonymous'}), not shared",
                        "in_dev_shm": False, "limited_by_dev_shm": False}
    mount = mount_of(path, mounts)
    where = f"{mount.fstype} mounted at {mount.mount_point}" if mount else "unknown file system"
    in_dev_shm = mount is not None and mount.mount_point == "/dev/shm"
    return facts | {"kind": f"file mapping on {where}", "in_dev_shm": in_dev_shm,
                    "limited_by_dev_shm": in_dev_shm, "filesystem": mount.fstype if mount else None,
                    "folder": str(Path(path).parent)}


def describe_buffer(address: int) -> dict:
    """Where the shared buffer at `address` lives in this process (for a record's backend facts)."""
    return classify_mapping(mapping_name(address), read_mounts())
