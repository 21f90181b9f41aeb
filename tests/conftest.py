"""Shared fixtures: the real datasets in ../shared/data, and fresh workspaces.

Where ../shared/data is absent (someone else's clone) the tests that need it skip with the
reason; under CI (CI=true) they fail instead, because CI must run them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    return Path(os.environ.get("WHYREC_SHARED_DATA", REPO.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        message = (f"real dataset {path} not found: these tests read ../shared/data "
                   "(set WHYREC_SHARED_DATA to its location)")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " — and CI=true, so they must run")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _require(shared_data_dir())


@pytest.fixture(scope="session")
def rees46_dir(shared_data: Path) -> Path:
    return _require(shared_data / "rees46-multicategory-2019oct-head")


@pytest.fixture(scope="session")
def tmall_dir(shared_data: Path) -> Path:
    return _require(shared_data / "tmall-brand-rec-2014")


@pytest.fixture(scope="session")
def movielens_dir(shared_data: Path) -> Path:
    return _require(shared_data / "movielens-ml-latest-small")


@pytest.fixture(scope="session")
def coat_dir(shared_data: Path) -> Path:
    return _require(shared_data / "coat")


@pytest.fixture(scope="session")
def demo_workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo shop, indexed into its embedded Chroma store, built once per test run.

    Tests that write to a workspace copy it first (see ``demo_workspace``).
    """
    from whyrec.tools.behaviour_store import BehaviourStore
    from whyrec.tools.demo import DemoConfig, build_demo_workspace
    from whyrec.tools.embeddings import default_embedder
    from whyrec.tools.workspace import Workspace

    path = tmp_path_factory.mktemp("demo-template") / "ws"
    build_demo_workspace(path, DemoConfig(users=150, items=160, seed=5))
    BehaviourStore(Workspace.open(path), default_embedder()).sync()
    return path


@pytest.fixture
def demo_workspace(demo_workspace_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo workspace for one test."""
    import shutil

    target = tmp_path / "ws"
    shutil.copytree(demo_workspace_template, target)
    return target
