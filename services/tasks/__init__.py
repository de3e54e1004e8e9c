"""Celery: the app (celery_app) and the tasks that carry the outbox, reconciliation and webhooks."""
