"""Reaper of a local Ray cluster started by one search: run as a script (standard library only), it waits for its
parent to go away, then kills every process of that cluster and removes the cluster's temporary folder.

Usage: ``python _ray_reaper.py MARKER FOLDER``, with stdin a pipe from the search. EOF on stdin means the search
ended, normally (it closes the pipe after shutting Ray down) or by ``kill -9``. Every process Ray started for the
search inherited ``AUTOML_RAY_SESSION=MARKER`` in its environment, which ``/proc/PID/environ`` still shows after
Ray renames its processes; those are sent SIGTERM, and SIGKILL after a grace period (Ray's dashboard and runtime
agents ignore SIGTERM, and outlive a driver killed with SIGKILL).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

MARKER_VAR = "AUTOML_RAY_SESSION"
GRACE = 2.0


def session_pids(marker: str) -> list[int]:
    """Processes (other than this one) whose environment holds ``AUTOML_RAY_SESSION=marker``."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or not ours to read
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def reap(marker: str, folder: str) -> None:
    """SIGTERM, then SIGKILL after :data:`GRACE` seconds, every process of the session; remove ``folder``."""
    for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, 0.0)):
        pids = session_pids(marker)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while session_pids(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    """Wait for EOF on stdin, then reap."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C is the search's to handle
    marker, folder = sys.argv[1], sys.argv[2]
    while sys.stdin.buffer.read(1):
        pass
    reap(marker, folder)


if __name__ == "__main__":
    main()
