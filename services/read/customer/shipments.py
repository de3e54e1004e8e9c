"""The customer app's shipment tracking page (配送状況): one SIM or device on its way, and its timeline.

Who sees a shipment: a person of the company it was sent to — the 法人管理者 every one, a 利用者 those for a line
assigned to them. Anything else (another company's shipment, an unknown id) is NotFound in the same words.
"""

from __future__ import annotations

from typing import Any

from services.ledger.customer_users import customer_scope
from services.ledger.shipments import order_ref, tracking_steps
from services.models import Shipment
from services.platform.db import read_session
from services.platform.errors import NotFound
from services.platform.formatting import tokyo_time
from services.platform.labels import label
from services.platform.permissions import Actor

NOT_FOUND = "配送状況が見つかりません。"


def my_shipment(shipment_id: Any, *, actor: Actor) -> dict[str, Any]:
    """One shipment of the person's company, with its tracking timeline.

    Who: a customer actor (staff: PermissionDenied); outside their scope: NotFound. Writes nothing. Returns id,
    order_ref (SHP-000123), item_label (SIM / 端末), status, status_label, tracking_number ("" until the carrier
    gives one), created_at, delivered_at and `steps` (services.ledger.shipments.tracking_steps).
    """
    with read_session() as session:
        scope = customer_scope(session, actor)
        shipment = session.get(Shipment, shipment_id) \
            if isinstance(shipment_id, int) and not isinstance(shipment_id, bool) else None
        if (shipment is None or shipment.customer_id != scope.customer_id
                or not (scope.is_admin or (shipment.line_id is not None and scope.sees_line(shipment.line_id)))):
            raise NotFound(NOT_FOUND)
        steps = tracking_steps(session, shipment)
    return {"id": shipment.id, "order_ref": order_ref(shipment.id), "item_label": label("record", shipment.item_type),
            "status": shipment.status, "status_label": label("shipment_status", shipment.status),
            "tracking_number": shipment.tracking_number or "", "created_at": tokyo_time(shipment.created_at),
            "delivered_at": tokyo_time(shipment.delivered_at), "steps": steps}
