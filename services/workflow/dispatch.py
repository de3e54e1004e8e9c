"""Sending work to the workers: a Celery task by its name, on the configured broker.

This is the one place the services meet Celery. The Celery app here is the producer every process
shares; the worker (services.tasks.celery_app) adds its tasks, limits and schedule to the same app.
The broker comes from TELECOM_BROKER_URL: by default a SQLite file under data/ (no server), Redis or
RabbitMQ when scaled out. A message that is lost only delays the work (the outbox and the scheduled
rounds send it again).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery

from services.platform.config import settings


def _broker_transport_options(url: str) -> dict:
    if url.startswith("sqla+sqlite:///"):
        path = url.removeprefix("sqla+sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {"connect_args": {"timeout": 30}}  # wait for the file lock instead of failing
    return {}


app = Celery("telecom", broker=settings.broker_url)
app.conf.update(
    broker_transport_options=_broker_transport_options(settings.broker_url),
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    enable_utc=True,
    timezone="UTC",
)


def send(task: str, *args: Any) -> None:
    """Queue the task named `task` (e.g. "telecom.process_inbound_event") with `args` for a worker."""
    app.send_task(task, args=list(args))
