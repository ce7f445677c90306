"""RaySession's teardown of a local Ray: the autoscaler monitor is stopped before `ray.shutdown`
(which would stop the GCS first and then wait a second for the monitor's SIGTERM handler), and
every process the session started is gone when `stop()` returns or soon after."""

import json
import os
import subprocess
import sys

SCRIPT = r"""
import json, time
import psutil
import ray
from parbench.ray_session import RaySession

session = RaySession(1, None)
session.start()
monitors = [p for p in psutil.Process().children(recursive=True)
            if "autoscaler/_private/monitor.py" in " ".join(p.cmdline())]
alive_at_shutdown = []
real_shutdown = ray.shutdown

def shutdown(*args, **kwargs):
    alive_at_shutdown.extend(p.pid for p in monitors if p.is_running() and p.status() != psutil.STATUS_ZOMBIE)
    return real_shutdown(*args, **kwargs)

ray.shutdown = shutdown
session.stop()
deadline = time.monotonic() + 10
while True:
    left = [" ".join(p.cmdline()) for p in psutil.Process().children(recursive=True)]
    if not left or time.monotonic() > deadline:
        break
    time.sleep(0.1)
print(json.dumps({"monitors": len(monitors), "alive_at_shutdown": alive_at_shutdown, "left": left}))
"""


def test_stopping_a_local_ray_stops_its_monitor_first_and_leaves_no_process_behind():
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["monitors"] == 1  # Ray still starts the monitor that this teardown stops
    assert facts["alive_at_shutdown"] == []
    assert facts["left"] == []
