"""Waiting for a server a test started (whyrec serve, a Chroma server, nginx) to answer."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


def wait_up(process: subprocess.Popen, url: str, log: Path | None = None, timeout: float = 180.0) -> None:
    """Return once ``url`` answers 200; raise (with the end of ``log``) when ``process`` exits
    first or ``timeout`` seconds pass."""
    deadline = time.time() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
        if process.poll() is not None or time.time() > deadline:
            tail = log.read_text()[-2000:] if log is not None and log.exists() else ""
            state = "exited" if process.poll() is not None else f"did not answer in {timeout:.0f} s"
            raise RuntimeError(f"{url}: the process {state}: {tail}")
