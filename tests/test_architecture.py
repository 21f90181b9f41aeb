"""The import-direction contracts (pyproject's [tool.importlinter], run by `make check`) cover
every module: a new module cannot slip past the one-way flow ui/api/cli -> agent -> service -> domain."""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import whyrec.agent
import whyrec.tools

REPO = Path(__file__).resolve().parent.parent


def _contracts() -> list[dict]:  # type: ignore[type-arg]
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["importlinter"]["contracts"])


def _named(name: str) -> dict:  # type: ignore[type-arg]
    return next(c for c in _contracts() if c["name"] == name)


def test_every_domain_package_is_under_the_domain_contract() -> None:
    domain = set(_named("The domain never imports the service, the agent, the API/CLI or the UI")["source_modules"])
    found = {f"whyrec.tools.{m.name}" for m in pkgutil.iter_modules(whyrec.tools.__path__)} - {"whyrec.tools.service"}
    assert found == domain, f"add new domain modules to the contract: {sorted(found - domain)}"


def test_every_agent_module_is_in_a_layer() -> None:
    core = set(_named("The agent never imports the API, the CLI, the server or the UI")["source_modules"])
    top = {"whyrec.agent.api", "whyrec.agent.cli", "whyrec.agent.server"}
    found = {f"whyrec.agent.{m.name}" for m in pkgutil.iter_modules(whyrec.agent.__path__)}
    assert found == core | top, f"place new agent modules in a layer: {sorted(found - core - top)}"


def test_above_the_service_every_domain_module_is_forbidden() -> None:
    domain = set(_named("The domain never imports the service, the agent, the API/CLI or the UI")["source_modules"])
    forbidden = set(_named("The agent, API, CLI and UI reach the domain only through the service")["forbidden_modules"])
    # Settings and the shared command-line options are read by the CLI itself; cli_options
    # imports nothing of whyrec, so it opens no way around the service.
    assert forbidden == domain - {"whyrec.tools.settings", "whyrec.tools.cli_options"}
    source = (REPO / "tools" / "cli_options.py").read_text(encoding="utf-8")
    assert "import whyrec" not in source and "from whyrec" not in source and "from ." not in source
