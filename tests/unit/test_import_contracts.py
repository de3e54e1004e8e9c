"""The direction of the house holds by a check: the import contracts in .importlinter pass on the code,
and fail as soon as a service imports the UI, a domain imports its sibling, a module imports a layer
above it, or two modules import each other (each shown on a copy of the code with one import added)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("services", "state", "components", "telecom_app", "demo")
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), str(root / ".importlinter"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("house")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", root / ".importlinter")
    return root


def test_the_code_keeps_every_import_contract():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module,added,broken", [
    ("services/ledger/customers.py", "import state.session", "The services never import the UI"),
    ("services/billing/payments.py", "import services.security.auth", "Inside services"),
    ("services/ledger/inventory.py", "import services.billing.invoices", "Inside services"),
    ("services/platform/text.py", "import services.workflow.outbox", "Inside services"),
    ("services/ledger/inventory.py", "import services.ledger.lines", "No import circles"),
    ("services/read/search.py", "import reflex", "The services never import the UI"),
    ("services/ledger/tickets.py", "import celery", "Services reach Celery only by sending a task by name"),
    ("state/admin/lines.py", "import telecom_app.pages.admin.lines", "The UI sits on the services"),
    ("telecom_app/routes.py", "import state.session", "telecom_app.routes imports nothing of the app"),
    ("state/auth/login.py", "import state.admin.shell", "The staff screens and the sign-in screens"),
], ids=["service->ui", "domain->sibling-domain", "ledger->billing", "kernel->engine", "circle",
        "service->reflex", "service->celery", "state->pages", "routes->state", "sign-in->staff"])
def test_one_wrong_import_breaks_its_contract(copy_of_the_code, module, added, broken):
    path = copy_of_the_code / module
    original = path.read_text()
    path.write_text(original + f"\n{added}  # added by the test\n")
    try:
        result = _lint(copy_of_the_code)
    finally:
        path.write_text(original)
    assert result.returncode != 0, f"{module}: {added} was not caught"
    broken_section = result.stdout.split("Broken contracts", 1)[-1]
    assert broken in " ".join(broken_section.split()), result.stdout
