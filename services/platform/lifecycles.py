"""Every lifecycle of the ledger as a transition table, in one place.

A table maps (state, event) -> next state. Anything not in the table is forbidden and
raises InvalidTransition with a message that names both in Japanese.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.platform.errors import InvalidTransition


class ContractStatus(StrEnum):
    DRAFT = "draft"
    APPLIED = "applied"
    ACTIVE = "active"
    CANCELLATION_REQUESTED = "cancellation_requested"
    TERMINATED = "terminated"


class ContractEvent(StrEnum):
    APPLY = "apply"
    ACTIVATE = "activate"
    REQUEST_CANCELLATION = "request_cancellation"
    WITHDRAW_CANCELLATION = "withdraw_cancellation"
    TERMINATE = "terminate"
    DISCARD = "discard"


class LineStatus(StrEnum):
    APPLYING = "applying"
    ACTIVATING = "activating"
    ACTIVE = "active"
    SUSPENDING = "suspending"
    SUSPENDED = "suspended"
    RESUMING = "resuming"
    TERMINATED = "terminated"
    PENDING = "pending"
    NEEDS_REVIEW = "needs_review"


class LineEvent(StrEnum):
    ACTIVATE = "activate"
    SUSPEND = "suspend"
    RESUME = "resume"
    TERMINATE = "terminate"
    HOLD = "hold"
    FLAG_FOR_REVIEW = "flag_for_review"
    CONFIRM_ACTIVE = "confirm_active"
    CONFIRM_SUSPENDED = "confirm_suspended"
    CONFIRM_TERMINATED = "confirm_terminated"
    CARRIER_CONFIRMED = "carrier_confirmed"
    CARRIER_REJECTED = "carrier_rejected"
    OUTCOME_UNKNOWN = "outcome_unknown"


class SimStatus(StrEnum):
    IN_STOCK = "in_stock"
    ASSIGNED = "assigned"
    ACTIVE = "active"
    RETURNED = "returned"
    FAULTY = "faulty"
    LOST = "lost"


class SimEvent(StrEnum):
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    ACTIVATE = "activate"
    RETURN = "return"
    RESTOCK = "restock"
    REPORT_FAULTY = "report_faulty"
    REPORT_LOST = "report_lost"


class DeviceStatus(StrEnum):
    IN_STOCK = "in_stock"
    ASSIGNED = "assigned"
    SHIPPED = "shipped"
    RETURNED = "returned"
    FAULTY = "faulty"


class DeviceEvent(StrEnum):
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    SHIP = "ship"
    RETURN = "return"
    RESTOCK = "restock"
    REPORT_FAULTY = "report_faulty"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    VOID = "void"


class InvoiceEvent(StrEnum):
    ISSUE = "issue"
    VOID = "void"


class PaymentStatus(StrEnum):
    RECEIVED = "received"
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    REFUNDED = "refunded"


class PaymentEvent(StrEnum):
    MATCH = "match"
    MARK_UNMATCHED = "mark_unmatched"
    REFUND = "refund"


class TicketStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


class TicketEvent(StrEnum):
    START = "start"
    WAIT_FOR_CUSTOMER = "wait_for_customer"
    CUSTOMER_REPLIED = "customer_replied"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    CLOSE = "close"


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    EXECUTED = "executed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"


class ApprovalEvent(StrEnum):
    APPROVE = "approve"
    EXECUTE = "execute"
    FAIL = "fail"
    REJECT = "reject"
    EXPIRE = "expire"


class ExternalOperationStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ExternalOperationEvent(StrEnum):
    DISPATCH = "dispatch"
    SUCCEED = "succeed"
    FAIL = "fail"
    LOSE_TRACK = "lose_track"
    RETRY = "retry"


class ImportBatchStatus(StrEnum):
    UPLOADED = "uploaded"
    VALIDATED = "validated"
    APPLIED = "applied"
    ROLLED_BACK = "rolled_back"
    DISCARDED = "discarded"


class ImportBatchEvent(StrEnum):
    VALIDATE = "validate"
    APPLY = "apply"
    ROLL_BACK = "roll_back"
    DISCARD = "discard"


@dataclass(frozen=True)
class Lifecycle:
    """A named transition table."""

    name: str
    states: type[StrEnum]
    events: type[StrEnum]
    table: dict[tuple[StrEnum, StrEnum], StrEnum]

    def next_state(self, state: StrEnum | str, event: StrEnum | str) -> StrEnum:
        """Return the state after `event`, or raise InvalidTransition."""
        current = self.states(state)
        ev = self.events(event)
        try:
            return self.table[(current, ev)]
        except KeyError:
            raise InvalidTransition(
                f"{LABELS_JA.get(self.name, self.name)}が「{STATE_LABELS_JA[self.name][current]}」の状態では"
                f"「{EVENT_LABELS_JA[self.name][ev]}」はできません。"
            ) from None

    def allowed_events(self, state: StrEnum | str) -> list[StrEnum]:
        """Events that the table allows from `state`, in declaration order."""
        current = self.states(state)
        return [ev for ev in self.events if (current, ev) in self.table]


C, CE = ContractStatus, ContractEvent
CONTRACT = Lifecycle("contract", C, CE, {
    (C.DRAFT, CE.APPLY): C.APPLIED,
    (C.DRAFT, CE.DISCARD): C.TERMINATED,
    (C.APPLIED, CE.ACTIVATE): C.ACTIVE,
    (C.APPLIED, CE.DISCARD): C.TERMINATED,
    (C.ACTIVE, CE.REQUEST_CANCELLATION): C.CANCELLATION_REQUESTED,
    (C.CANCELLATION_REQUESTED, CE.WITHDRAW_CANCELLATION): C.ACTIVE,
    (C.CANCELLATION_REQUESTED, CE.TERMINATE): C.TERMINATED,
})

L, LE = LineStatus, LineEvent
LINE = Lifecycle("line", L, LE, {
    # the carrier decides: activate / suspend / resume wait in a 処理中 state for its answer
    (L.APPLYING, LE.ACTIVATE): L.ACTIVATING,
    (L.ACTIVE, LE.SUSPEND): L.SUSPENDING,
    (L.SUSPENDED, LE.RESUME): L.RESUMING,
    (L.ACTIVATING, LE.CARRIER_CONFIRMED): L.ACTIVE,
    (L.SUSPENDING, LE.CARRIER_CONFIRMED): L.SUSPENDED,
    (L.RESUMING, LE.CARRIER_CONFIRMED): L.ACTIVE,
    (L.ACTIVATING, LE.CARRIER_REJECTED): L.APPLYING,
    (L.SUSPENDING, LE.CARRIER_REJECTED): L.ACTIVE,
    (L.RESUMING, LE.CARRIER_REJECTED): L.SUSPENDED,
    (L.ACTIVATING, LE.OUTCOME_UNKNOWN): L.NEEDS_REVIEW,
    (L.SUSPENDING, LE.OUTCOME_UNKNOWN): L.NEEDS_REVIEW,
    (L.RESUMING, LE.OUTCOME_UNKNOWN): L.NEEDS_REVIEW,
    (L.APPLYING, LE.TERMINATE): L.TERMINATED,
    (L.ACTIVE, LE.TERMINATE): L.TERMINATED,
    (L.SUSPENDED, LE.TERMINATE): L.TERMINATED,
    (L.APPLYING, LE.HOLD): L.PENDING,
    (L.ACTIVE, LE.HOLD): L.PENDING,
    (L.SUSPENDED, LE.HOLD): L.PENDING,
    (L.APPLYING, LE.FLAG_FOR_REVIEW): L.NEEDS_REVIEW,
    (L.ACTIVE, LE.FLAG_FOR_REVIEW): L.NEEDS_REVIEW,
    (L.SUSPENDED, LE.FLAG_FOR_REVIEW): L.NEEDS_REVIEW,
    (L.PENDING, LE.FLAG_FOR_REVIEW): L.NEEDS_REVIEW,
    (L.PENDING, LE.CONFIRM_ACTIVE): L.ACTIVE,
    (L.PENDING, LE.CONFIRM_SUSPENDED): L.SUSPENDED,
    (L.PENDING, LE.CONFIRM_TERMINATED): L.TERMINATED,
    (L.NEEDS_REVIEW, LE.CONFIRM_ACTIVE): L.ACTIVE,
    (L.NEEDS_REVIEW, LE.CONFIRM_SUSPENDED): L.SUSPENDED,
    (L.NEEDS_REVIEW, LE.CONFIRM_TERMINATED): L.TERMINATED,
})

S, SE = SimStatus, SimEvent
SIM = Lifecycle("sim", S, SE, {
    (S.IN_STOCK, SE.ASSIGN): S.ASSIGNED,
    (S.ASSIGNED, SE.UNASSIGN): S.IN_STOCK,
    (S.ASSIGNED, SE.ACTIVATE): S.ACTIVE,
    (S.ASSIGNED, SE.RETURN): S.RETURNED,
    (S.ACTIVE, SE.RETURN): S.RETURNED,
    (S.RETURNED, SE.RESTOCK): S.IN_STOCK,
    (S.IN_STOCK, SE.REPORT_FAULTY): S.FAULTY,
    (S.ASSIGNED, SE.REPORT_FAULTY): S.FAULTY,
    (S.ACTIVE, SE.REPORT_FAULTY): S.FAULTY,
    (S.RETURNED, SE.REPORT_FAULTY): S.FAULTY,
    (S.IN_STOCK, SE.REPORT_LOST): S.LOST,
    (S.ASSIGNED, SE.REPORT_LOST): S.LOST,
    (S.ACTIVE, SE.REPORT_LOST): S.LOST,
})

D, DE = DeviceStatus, DeviceEvent
DEVICE = Lifecycle("device", D, DE, {
    (D.IN_STOCK, DE.ASSIGN): D.ASSIGNED,
    (D.ASSIGNED, DE.UNASSIGN): D.IN_STOCK,
    (D.ASSIGNED, DE.SHIP): D.SHIPPED,
    (D.SHIPPED, DE.RETURN): D.RETURNED,
    (D.RETURNED, DE.RESTOCK): D.IN_STOCK,
    (D.IN_STOCK, DE.REPORT_FAULTY): D.FAULTY,
    (D.ASSIGNED, DE.REPORT_FAULTY): D.FAULTY,
    (D.SHIPPED, DE.REPORT_FAULTY): D.FAULTY,
    (D.RETURNED, DE.REPORT_FAULTY): D.FAULTY,
})

I, IE = InvoiceStatus, InvoiceEvent
INVOICE = Lifecycle("invoice", I, IE, {
    (I.DRAFT, IE.ISSUE): I.ISSUED,
    (I.DRAFT, IE.VOID): I.VOID,
    (I.ISSUED, IE.VOID): I.VOID,
})

P, PE = PaymentStatus, PaymentEvent
PAYMENT = Lifecycle("payment", P, PE, {
    (P.RECEIVED, PE.MATCH): P.MATCHED,
    (P.RECEIVED, PE.MARK_UNMATCHED): P.UNMATCHED,
    (P.UNMATCHED, PE.MATCH): P.MATCHED,
    (P.MATCHED, PE.REFUND): P.REFUNDED,
    (P.UNMATCHED, PE.REFUND): P.REFUNDED,
})

T, TE = TicketStatus, TicketEvent
TICKET = Lifecycle("ticket", T, TE, {
    (T.OPEN, TE.START): T.IN_PROGRESS,
    (T.OPEN, TE.RESOLVE): T.RESOLVED,
    (T.IN_PROGRESS, TE.WAIT_FOR_CUSTOMER): T.WAITING_CUSTOMER,
    (T.IN_PROGRESS, TE.RESOLVE): T.RESOLVED,
    (T.WAITING_CUSTOMER, TE.CUSTOMER_REPLIED): T.IN_PROGRESS,
    (T.WAITING_CUSTOMER, TE.RESOLVE): T.RESOLVED,
    (T.RESOLVED, TE.REOPEN): T.IN_PROGRESS,
    (T.RESOLVED, TE.CLOSE): T.CLOSED,
})

A, AE = ApprovalStatus, ApprovalEvent
APPROVAL = Lifecycle("approval", A, AE, {
    (A.PENDING, AE.APPROVE): A.APPROVED,
    (A.PENDING, AE.REJECT): A.REJECTED,
    (A.PENDING, AE.EXPIRE): A.EXPIRED,
    (A.APPROVED, AE.EXECUTE): A.EXECUTED,
    (A.APPROVED, AE.FAIL): A.FAILED,
})

X, XE = ExternalOperationStatus, ExternalOperationEvent
EXTERNAL_OPERATION = Lifecycle("external_operation", X, XE, {
    (X.PENDING, XE.DISPATCH): X.IN_FLIGHT,
    (X.IN_FLIGHT, XE.SUCCEED): X.SUCCEEDED,
    (X.IN_FLIGHT, XE.FAIL): X.FAILED,
    (X.IN_FLIGHT, XE.LOSE_TRACK): X.UNKNOWN,
    (X.IN_FLIGHT, XE.RETRY): X.PENDING,
    (X.UNKNOWN, XE.SUCCEED): X.SUCCEEDED,
    (X.UNKNOWN, XE.FAIL): X.FAILED,
    (X.UNKNOWN, XE.RETRY): X.PENDING,
})

B, BE = ImportBatchStatus, ImportBatchEvent
IMPORT_BATCH = Lifecycle("import_batch", B, BE, {
    (B.UPLOADED, BE.VALIDATE): B.VALIDATED,
    (B.UPLOADED, BE.DISCARD): B.DISCARDED,
    (B.VALIDATED, BE.APPLY): B.APPLIED,
    (B.VALIDATED, BE.DISCARD): B.DISCARDED,
    (B.APPLIED, BE.ROLL_BACK): B.ROLLED_BACK,
})

LIFECYCLES: dict[str, Lifecycle] = {
    lc.name: lc
    for lc in (CONTRACT, LINE, SIM, DEVICE, INVOICE, PAYMENT, TICKET, APPROVAL,
               EXTERNAL_OPERATION, IMPORT_BATCH)
}

LABELS_JA = {
    "contract": "契約", "line": "回線", "sim": "SIM", "device": "端末", "invoice": "請求書",
    "payment": "入金", "ticket": "問い合わせ", "approval": "承認申請",
    "external_operation": "外部連携処理", "import_batch": "一括登録",
}

STATE_LABELS_JA: dict[str, dict[str, str]] = {
    "contract": {"draft": "下書き", "applied": "申込済", "active": "契約中",
                 "cancellation_requested": "解約申請中", "terminated": "解約済"},
    "line": {"applying": "申請中", "activating": "開通処理中", "active": "利用中", "suspending": "停止処理中",
             "suspended": "停止中", "resuming": "再開処理中", "terminated": "解約済",
             "pending": "保留", "needs_review": "要確認"},
    "sim": {"in_stock": "在庫", "assigned": "割当済", "active": "利用中", "returned": "返却済",
            "faulty": "故障", "lost": "紛失"},
    "device": {"in_stock": "在庫", "assigned": "割当済", "shipped": "出荷済", "returned": "返却済",
               "faulty": "故障"},
    "invoice": {"draft": "下書き", "issued": "発行済", "void": "無効"},
    "payment": {"received": "受領", "matched": "消込済", "unmatched": "未消込", "refunded": "返金済"},
    "ticket": {"open": "未対応", "in_progress": "対応中", "waiting_customer": "お客様回答待ち",
               "resolved": "解決済", "closed": "クローズ"},
    "approval": {"pending": "承認待ち", "approved": "承認済", "executed": "実行済", "rejected": "却下",
                 "expired": "期限切れ", "failed": "実行失敗"},
    "external_operation": {"pending": "保留", "in_flight": "処理中", "succeeded": "成功",
                           "failed": "失敗", "unknown": "要確認"},
    "import_batch": {"uploaded": "アップロード済", "validated": "検証済", "applied": "反映済",
                     "rolled_back": "取り消し済", "discarded": "破棄"},
}

STATE_LABELS_EN: dict[str, dict[str, str]] = {
    name: {state: state.replace("_", " ") for state in labels} for name, labels in STATE_LABELS_JA.items()
}

EVENT_LABELS_JA: dict[str, dict[str, str]] = {
    "contract": {"apply": "申込", "activate": "契約開始", "request_cancellation": "解約申請",
                 "withdraw_cancellation": "解約申請の取り下げ", "terminate": "解約", "discard": "破棄"},
    "line": {"activate": "開通", "suspend": "停止", "resume": "再開", "terminate": "解約",
             "hold": "保留", "flag_for_review": "要確認にする", "confirm_active": "利用中として確定",
             "confirm_suspended": "停止中として確定", "confirm_terminated": "解約済として確定",
             "carrier_confirmed": "キャリア完了", "carrier_rejected": "キャリア拒否",
             "outcome_unknown": "結果不明（要確認）"},
    "sim": {"assign": "割当", "unassign": "割当解除", "activate": "利用開始", "return": "返却",
            "restock": "在庫戻し", "report_faulty": "故障登録", "report_lost": "紛失登録"},
    "device": {"assign": "割当", "unassign": "割当解除", "ship": "出荷", "return": "返却",
               "restock": "在庫戻し", "report_faulty": "故障登録"},
    "invoice": {"issue": "発行", "void": "無効化"},
    "payment": {"match": "消込", "mark_unmatched": "未消込にする", "refund": "返金"},
    "ticket": {"start": "対応開始", "wait_for_customer": "お客様回答待ちにする",
               "customer_replied": "お客様回答あり", "resolve": "解決", "reopen": "再オープン",
               "close": "クローズ"},
    "approval": {"approve": "承認", "execute": "実行", "fail": "実行失敗", "reject": "却下",
                 "expire": "期限切れ"},
    "external_operation": {"dispatch": "送信", "succeed": "成功", "fail": "失敗",
                           "lose_track": "結果不明", "retry": "再試行"},
    "import_batch": {"validate": "検証", "apply": "反映", "roll_back": "取り消し", "discard": "破棄"},
}


def next_state(lifecycle: str, state: StrEnum | str, event: StrEnum | str) -> StrEnum:
    """Return the state after `event` in the named lifecycle, or raise InvalidTransition."""
    return LIFECYCLES[lifecycle].next_state(state, event)


def state_label(lifecycle: str, state: str, lang: str = "ja") -> str:
    """The on-screen name of a state ("停止中")."""
    labels = STATE_LABELS_JA if lang == "ja" else STATE_LABELS_EN
    return labels[lifecycle].get(state, state)
