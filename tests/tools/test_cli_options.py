"""The shared command-line options: one definition, used by every command that runs a job."""

from __future__ import annotations

import argparse

import pytest

from whyrec.tools.cli_options import ENGINES, add_engine_arguments


def test_engine_options_parse_and_refuse_an_unknown_engine(capsys) -> None:
    parser = argparse.ArgumentParser()
    add_engine_arguments(parser, "where it runs", default="local")
    args = parser.parse_args(["--engine", "dask", "--workers", "3", "--address", "tcp://h:8786"])
    assert (args.engine, args.workers, args.address) == ("dask", 3, "tcp://h:8786")
    assert parser.parse_args([]).engine == "local" and ENGINES == ("local", "dask")
    with pytest.raises(SystemExit):
        parser.parse_args(["--engine", "ray"])
    assert "invalid choice: 'ray'" in capsys.readouterr().err


def test_every_job_command_offers_the_same_engine_options() -> None:
    from whyrec.agent.cli import build_parser
    from whyrec.tools.causal.cli import build_parser as effects_parser
    from whyrec.tools.ranking.evaluate import build_parser as evaluate_parser

    cli = build_parser()
    for argv in (["ingest", "x.csv", "--preset", "tmall2014"], ["recommend", "--all", "--out", "o.csv"]):
        args = cli.parse_args([*argv, "--engine", "dask", "--workers", "2"])
        assert (args.engine, args.workers) == ("dask", 2)
    for parser, needed in ((effects_parser(), ["--workspace", "ws"]), (evaluate_parser(), [])):
        assert parser.parse_args([*needed, "--engine", "dask", "--workers", "2"]).workers == 2
