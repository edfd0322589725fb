"""Sharded sweeps on four devices: runs sharding_checks.py in a fresh process with four CPU devices.

``--xla_force_host_platform_device_count`` only takes effect before JAX
starts, so the checks cannot run in this (already initialised) process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_sharded_sweeps_equal_unsharded_on_four_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4").strip()
    env.pop("PYTEST_XDIST_WORKER", None)
    command = [sys.executable, "-m", "pytest", str(HERE / "sharding_checks.py"), "-q", "-p", "no:xdist",
               "-p", "no:cacheprovider", "--rootdir", str(HERE.parent.parent)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"sharding checks failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    assert " passed" in result.stdout and "skipped" not in result.stdout, result.stdout[-2000:]
