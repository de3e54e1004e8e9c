"""The Celery app of the back office.

    celery -A services.tasks.celery_app worker --loglevel=INFO     # runs the tasks
    celery -A services.tasks.celery_app beat --loglevel=INFO       # relay every 2 s, reconcile every 15 s,
                                                                    # daily report comparisons hourly

The broker comes from TELECOM_BROKER_URL: by default a SQLite file under data/ (no server), Redis or
RabbitMQ when scaled out. No result backend: tasks write their results to the ledger. Tasks ack late
and have time limits; a lost message only delays an operation (the outbox relay sends it again).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from celery.signals import beat_init, worker_init, worker_process_init
from kombu import Queue

import services.registry  # noqa: F401  (the worker knows every provider, handler, policy and report source)
from services.platform import installation_secrets
from services.platform.config import PROJECT_ROOT, settings
from services.workflow.dispatch import app

DEFAULT_QUEUE = "celery"
BULK_QUEUE = "bulk"  # mail and LINE calls: a worker takes from both queues in turn (services.tasks.outbox)
TASK_TIME_LIMIT_SECONDS = 60
TASK_SOFT_TIME_LIMIT_SECONDS = 45

app.conf.include = ["services.tasks.outbox", "services.tasks.inbound", "services.tasks.daily", "services.tasks.billing"]
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue=DEFAULT_QUEUE,
    task_queues=(Queue(DEFAULT_QUEUE), Queue(BULK_QUEUE)),  # a worker without -Q consumes both
    task_time_limit=TASK_TIME_LIMIT_SECONDS,
    task_soft_time_limit=TASK_SOFT_TIME_LIMIT_SECONDS,
    beat_schedule_filename=str(PROJECT_ROOT / "data" / "celerybeat-schedule"),
    beat_schedule={
        "relay-outbox": {"task": "telecom.relay_outbox", "schedule": settings.relay_interval_seconds,
                         "options": {"expires": max(1.0, settings.relay_interval_seconds * 5)}},
        "reconcile": {"task": "telecom.reconcile", "schedule": settings.reconcile_interval_seconds,
                      "options": {"expires": max(5.0, settings.reconcile_interval_seconds * 2)}},
        # hourly: a completed day is skipped, so this catches up after downtime (the reports are daily)
        "daily-reconciliation": {"task": "telecom.daily_reconciliation", "schedule": 3600.0,
                                 "options": {"expires": 1800.0}},
        "kyc-retention": {"task": "telecom.kyc_retention", "schedule": 86400.0, "options": {"expires": 3600.0}},
        # hourly: each part is idempotent (a run asked for once, a plan change told once)
        "billing-daily": {"task": "telecom.billing_daily", "schedule": 3600.0, "options": {"expires": 1800.0}},
        "dunning": {"task": "telecom.dunning", "schedule": 60.0, "options": {"expires": 120.0}},
    },
)


def prune_delivered_messages(older_than: timedelta = timedelta(hours=1)) -> int:
    """Delete messages a SQL broker delivered a while ago (kombu keeps them); returns how many (0 otherwise)."""
    with app.connection_for_write() as conn:
        if conn.transport.driver_type != "sql":
            return 0
        channel = conn.default_channel
        message = channel.message_cls
        cutoff = datetime.now() - older_than  # kombu stamps messages with naive local time
        deleted = (channel.session.query(message)
                   .filter(message.visible.is_(False), message.sent_at < cutoff)
                   .delete(synchronize_session=False))
        channel.session.commit()
        return deleted


@worker_init.connect
@beat_init.connect
def _refuse_unsafe_secrets(**_kwargs) -> None:
    """A worker or beat does not start with a missing or well-known secret; it says which."""
    installation_secrets.exit_if_unsafe()


@worker_process_init.connect
def _fresh_connections(**_kwargs) -> None:
    """A forked worker process must not share the parent's database connections."""
    from services.platform.db import get_engine

    get_engine().dispose(close=False)
