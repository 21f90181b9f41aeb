"""Shared fixtures: the real datasets in ../shared/data, and fresh workspaces.

Where ../shared/data is absent (someone else's clone) the tests that need it skip with the
reason; under CI (CI=true) they fail instead, because CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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


def copy_workspace(template: Path, parent: Path) -> Path:
    """A copy of ``template`` at ``parent / "ws"`` (what a test may write to)."""
    import shutil

    target = parent / "ws"
    shutil.copytree(template, target)
    return target


@pytest.fixture
def demo_workspace(demo_workspace_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo workspace for one test."""
    return copy_workspace(demo_workspace_template, tmp_path)


@pytest.fixture(scope="module")
def workspace(demo_workspace_template: Path, tmp_path_factory: pytest.TempPathFactory,
              request: pytest.FixtureRequest) -> Path:
    """A private copy of the demo workspace shared by one test module's tests."""
    return copy_workspace(demo_workspace_template, tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server for this test run (Debian's ``postgresql`` package, which
    ``.ci/run`` installs): a fresh cluster in a temporary folder on a free port, trust
    authentication on 127.0.0.1 only. Without the package the tests skip (fail under CI=true).
    PostgreSQL refuses to run as root, so as root the cluster runs as the ``postgres`` user."""
    import glob
    import pwd
    import shutil
    import socket
    import subprocess
    import tempfile

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        message = "PostgreSQL is not installed (apt-get install postgresql): the shared-session tests need it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " — and CI=true, so they must run")
        pytest.skip(message)
    bin_dir = Path(found[-1]).parent
    # Not under pytest's own temporary folder: as root that one is private to root.
    root = Path(tempfile.mkdtemp(prefix="whyrec-postgres-"))
    data = root / "data"
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, pwd.getpwnam("postgres").pw_uid)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    subprocess.run([*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "whyrec", "--auth=trust",
                    "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w",
                    "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://whyrec@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
