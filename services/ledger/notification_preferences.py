"""Notification preferences (通知の設定): which optional notices a customer gets by mail and by LINE.

One switch per topic × channel (services.models.self_service: topics usage データ通信量, maintenance 障害・
メンテナンス, request お申し込みの結果, shipment 配送状況; channels mail and line). No row means on. The
preferences belong to the company: every person of it sees them, the 法人管理者 changes them. In-app notices are
always kept, and bills, dunning, security, legal and service notices always go out on every channel
(services.ledger.notifications.notify_in honours the switches only for a notice sent with a topic).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from services.ledger.customer_users import customer_scope
from services.models import NotificationPreference
from services.models.base import utcnow
from services.models.self_service import NOTICE_TOPICS, PREFERENCE_CHANNELS
from services.platform.audit import mutating_service, record, snapshot
from services.platform.db import read_session, write_session
from services.platform.errors import PermissionDenied, ValidationFailed
from services.platform.labels import label
from services.platform.permissions import Actor

ADMIN_ONLY = "通知の設定は法人管理者だけが変更できます。"
ALWAYS_SENT = ("請求・お支払い・ご本人確認・セキュリティに関するお知らせと、重要なお知らせは、設定にかかわらずお送りします。"
               "アプリ内のお知らせは常に表示されます。")


def my_preferences(*, actor: Actor) -> dict[str, Any]:
    """The company's switches for the settings page.

    Who: a customer actor (staff: PermissionDenied). Writes nothing. Returns `editable` (True for a 法人管理者),
    `always_sent` (what no switch turns off, in words) and `rows`: one per topic in NOTICE_TOPICS order with
    topic, topic_label and, per channel in PREFERENCE_CHANNELS, `<channel>` (bool) and `<channel>_label`.
    """
    with read_session() as session:
        scope = customer_scope(session, actor)
        stored = session.exec(select(NotificationPreference).where(
            NotificationPreference.customer_id == scope.customer_id)).all()
    off = {(p.topic, p.channel) for p in stored if not p.enabled}
    rows = []
    for topic in NOTICE_TOPICS:
        row: dict[str, Any] = {"topic": topic, "topic_label": label("notice_topic", topic)}
        for channel in PREFERENCE_CHANNELS:
            row[channel] = (topic, channel) not in off
            row[f"{channel}_label"] = label("notification_channel", channel)
        rows.append(row)
    return {"editable": scope.is_admin, "always_sent": ALWAYS_SENT, "rows": rows}


@mutating_service
def set_preference(*, actor: Actor, topic: str, channel: str, enabled: bool) -> NotificationPreference | None:
    """Turn one optional notice on or off on one channel for the actor's company.

    Who: the company's 法人管理者 (a 利用者: PermissionDenied; staff: PermissionDenied — the customer decides).
    Idempotent: a switch already in that position writes nothing (returns None when there was no row to keep).
    Writes the NotificationPreference row and one audit entry "notification.preference".
    """
    if topic not in NOTICE_TOPICS or channel not in PREFERENCE_CHANNELS or not isinstance(enabled, bool):
        raise ValidationFailed({"preference": "通知の種類と送信方法を一覧から選んでください。"})
    with write_session() as session:
        scope = customer_scope(session, actor)
        if not scope.is_admin:
            raise PermissionDenied(ADMIN_ONLY)
        row = session.exec(select(NotificationPreference).where(
            NotificationPreference.customer_id == scope.customer_id, NotificationPreference.topic == topic,
            NotificationPreference.channel == channel).with_for_update()).first()
        if (row.enabled if row is not None else True) == enabled:
            return row
        before = snapshot(row)
        row = row or NotificationPreference(customer_id=scope.customer_id, topic=topic, channel=channel)
        row.enabled, row.updated_at = enabled, utcnow()
        session.add(row)
        session.flush()
        record(session, actor, "notification.preference", row, before=before,
               reason=f"{label('notice_topic', topic)}の{label('notification_channel', channel)}を"
                      f"{'受け取る' if enabled else '受け取らない'}")
    return row
