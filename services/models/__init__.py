"""All ledger tables; importing this package registers them on SQLModel.metadata."""

from services.models.audit import AuditChainHead, AuditEntry, AuditSealedValue
from services.models.billing import (
    BillingAnomaly,
    BillingRun,
    Invoice,
    InvoiceDocument,
    InvoiceItem,
    InvoiceNumberSeries,
    Payment,
    PaymentAllocation,
)
from services.models.catalog import ChargeRate, RateOption, RateOptionVersion, RatePlan, RatePlanVersion
from services.models.collections import DirectDebitBatch, DirectDebitItem, DirectDebitMandate, DunningCase
from services.models.contract import Contract, ContractOption, ContractPlanPeriod, InstalmentPlan, PendingCharge
from services.models.customer import Customer, CustomerUser, KycRecord
from services.models.customer_access import (
    CustomerInvitation,
    CustomerPasskey,
    CustomerPasswordReset,
    CustomerRecoveryCode,
    CustomerSession,
    CustomerSignInChallenge,
    CustomerUserLine,
    CustomerWebAuthnChallenge,
)
from services.models.inventory import Device, SimCard
from services.models.line import Line, UsageRecord
from services.models.search import CustomerNameGram
from services.models.self_service import (
    CardCheckout,
    CardSetup,
    CustomerCard,
    MnpReservation,
    NotificationPreference,
    UsageNotice,
)
from services.models.staff import (
    SignInAttempt,
    SignInChallenge,
    StaffRecoveryCode,
    StaffSession,
    StaffUser,
)
from services.models.support import Ticket, TicketAttachment, TicketMessage
from services.models.workflow import (
    ApprovalRequest,
    ExternalAttempt,
    ExternalOperation,
    ImportBatch,
    InboundEvent,
    Notification,
    ReconciliationRun,
    ReviewItem,
    ServiceIncident,
    Shipment,
)

__all__ = [
    "BillingAnomaly", "BillingRun", "ChargeRate", "ContractPlanPeriod", "DirectDebitBatch", "DirectDebitItem",
    "DirectDebitMandate", "DunningCase", "InstalmentPlan", "InvoiceDocument", "InvoiceNumberSeries", "PendingCharge",
    "RateOptionVersion", "RatePlanVersion",
    "CustomerInvitation", "CustomerPasswordReset", "CustomerRecoveryCode", "CustomerSession", "CustomerSignInChallenge",
    "CustomerUserLine", "CustomerPasskey", "CustomerWebAuthnChallenge",
    "CardCheckout", "CardSetup", "CustomerCard", "MnpReservation", "NotificationPreference", "UsageNotice",
    "TicketAttachment",
    "ApprovalRequest", "AuditChainHead", "AuditEntry", "AuditSealedValue", "Contract", "ContractOption", "Customer", "CustomerNameGram",
    "CustomerUser", "Device", "ExternalAttempt", "ExternalOperation", "InboundEvent", "ImportBatch", "Invoice", "InvoiceItem", "KycRecord", "Line",
    "Notification", "Payment", "PaymentAllocation", "RateOption", "RatePlan", "ReconciliationRun", "ReviewItem", "ServiceIncident", "Shipment",
    "SignInAttempt",
    "SignInChallenge", "SimCard", "StaffRecoveryCode", "StaffSession", "StaffUser", "Ticket",
    "TicketMessage", "UsageRecord",
]
