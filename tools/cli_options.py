"""Command-line options shared by several commands (no whyrec imports: the CLI reads this
without loading the service)."""

from __future__ import annotations

import argparse

#: Names of the engines offline jobs run on (:func:`whyrec.tools.engine.open_engine`).
ENGINES = ("local", "dask")


def add_engine_arguments(parser: argparse.ArgumentParser, what: str, default: str | None = None) -> None:
    """``--engine``, ``--address`` and ``--workers`` on a command's ``parser`` (one definition for
    every command that runs an offline job); ``what`` is the ``--engine`` help text. The values go
    to :func:`~whyrec.tools.engine.open_engine`, which says what is wrong with a combination."""
    parser.add_argument("--engine", choices=ENGINES, default=default, help=what)
    parser.add_argument("--address", help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --engine dask)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes of a local Dask cluster (with --engine dask; default 2)")
