"""Small helpers shared by the ingest and store benchmarks: timing, percentiles, result files."""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def command_line() -> str:
    """The command that ran this benchmark, as typed from the repository root."""
    return " ".join([".venv/bin/python"] + [shlex.quote(a) for a in sys.argv])


def machine_info() -> dict[str, Any]:
    import pandas as pd

    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }
    try:
        info["nproc"] = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
    except (OSError, ValueError):
        pass
    try:
        info["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        import chromadb

        info["chromadb"] = chromadb.__version__
    except ImportError:
        pass
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "tools"], capture_output=True,
                               text=True, cwd=Path(__file__).resolve().parent).stdout.strip()
        info["git"] = rev + (" (tools/ has uncommitted changes)" if dirty else "")
    except OSError:
        pass
    return info


@contextmanager
def timed(into: list[float]) -> Iterator[None]:
    """Append the wall time of the ``with`` body (seconds) to ``into``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        into.append(time.perf_counter() - start)


def time_call(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def summary(samples: list[float]) -> dict[str, float]:
    """Best, median and all samples (seconds)."""
    arr = np.asarray(samples, dtype=float)
    return {"best_s": float(arr.min()), "median_s": float(np.median(arr)),
            "samples_s": [round(float(x), 4) for x in arr]}


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    ms = np.asarray(samples, dtype=float) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()),
            "mean_ms": float(ms.mean()), "n": int(len(ms))}


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            if v == 0:
                return "0"
            if abs(v) >= 1000:
                return f"{v:,.0f}"
            if abs(v) >= 10:
                return f"{v:.1f}"
            if abs(v) >= 0.1:
                return f"{v:.2f}"
            return f"{v:.3f}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, title: str, body_md: str, data: dict[str, Any],
                  out_dir: Path = RESULTS) -> tuple[Path, Path]:
    """Write ``<name>.md`` (command, machine, tables) and ``<name>.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    machine = data.setdefault("machine", machine_info())
    data.setdefault("command", command_line())
    header = [f"# {title}", "",
              f"Command (from the repository root): `{data['command']}`", "",
              "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()), "", ""]
    md_path = out_dir / f"{name}.md"
    md_path.write_text("\n".join(header) + body_md.rstrip() + "\n", encoding="utf-8")
    json_path = out_dir / f"{name}.json"
    json_path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return md_path, json_path


def paired_cells(row: dict[str, Any]) -> str:
    """Markdown cells "validation ± s.e. | its paired difference | test ± s.e. | its paired
    difference" of a row holding ``validation``, ``test`` and their ``_stderr``, ``_difference``
    and ``_paired_stderr`` (the forced-term benches: cycle weights, extra terms)."""
    return " | ".join(f"{row[s]:.4f} ± {row[f'{s}_stderr']:.4f} | "
                      f"{row[f'{s}_difference']:+.4f} ± {row[f'{s}_paired_stderr']:.4f}"
                      for s in ("validation", "test"))
