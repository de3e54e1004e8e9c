"""The web app and the worker refuse to start with a missing or well-known secret, and say which."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.platform.config import PROJECT_ROOT
from services.platform.installation_secrets import SECRET_NAMES, env_name

pytestmark = pytest.mark.integration


def _env(tmp_path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {env_name(n) for n in SECRET_NAMES}}
    env.update({"TELECOM_SECRETS_FILE": str(tmp_path / "absent.json"), "PYTHONPATH": str(PROJECT_ROOT),
                "TELECOM_BROKER_URL": f"sqla+sqlite:///{tmp_path / 'broker.db'}",
                "TELECOM_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.db'}", **extra})
    return env


def test_the_web_app_does_not_start_without_its_secrets(tmp_path):
    run = subprocess.run([sys.executable, "-c", "import telecom_app.telecom_app"], cwd=PROJECT_ROOT,
                         env=_env(tmp_path), capture_output=True, text=True, timeout=120)

    assert run.returncode == 2
    assert "TELECOM_WEBHOOK_SECRET_CARRIER" in run.stderr and "設定されていません" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_worker_does_not_start_with_the_old_published_webhook_secret(tmp_path):
    env = _env(tmp_path, **{env_name(n): "x" * 40 for n in SECRET_NAMES})
    env["TELECOM_WEBHOOK_SECRET_KYC"] = "sandbox-dev-webhook-secret"
    run = subprocess.run([sys.executable, "-m", "celery", "-A", "services.tasks.celery_app", "worker",
                          "--pool=solo", "--loglevel=warning"], cwd=PROJECT_ROOT, env=env,
                         capture_output=True, text=True, timeout=120)

    assert run.returncode != 0
    assert "TELECOM_WEBHOOK_SECRET_KYC" in run.stderr and "既定値" in run.stderr
    assert "TELECOM_WEBHOOK_SECRET_CARRIER" not in run.stderr
