"""The one list of what plugs into the engines. The web app, the worker and the tests import it.

Each domain declares its pieces beside the operations they belong to (approval-policy rows, a provider
with its outcome handler, a webhook handler, a daily report with its comparison, the subject hooks of a
line); this
module registers them, in one place, so that nothing is found by a string or loaded behind one's back.
"""

from __future__ import annotations

from services.billing import (
    allocation,
    bank_transfers,
    card_payments,
    corrections,
    debit_applications,
    direct_debit,
    dunning,
    invoices,
    payment_settlement,
    payments,
)
from services.ledger import (
    carrier_report,
    carrier_sync,
    contracts,
    customer_requests,
    customers,
    kyc_checks,
    lines,
    notifications,
    provisioning,
    request_notices,
    shipments,
)
from services.operations import incidents
from services.security import staff_admin
from services.workflow import approvals, daily_reconciliation, outbox, reconciliation, webhooks

approvals.register_policies(*lines.POLICIES, *contracts.POLICIES, *invoices.POLICIES, *corrections.POLICIES,
                            *payments.POLICIES,
                            *customers.POLICIES, *staff_admin.POLICIES, *debit_applications.POLICIES)

for provider in (lines.CARRIER_PROVIDER, card_payments.PAYMENT_PROVIDER, kyc_checks.KYC_PROVIDER,
                 shipments.LOGISTICS_PROVIDER, notifications.MESSAGING_PROVIDER, direct_debit.BANK_PROVIDER):
    outbox.register_provider(provider)

reconciliation.register_subject("line_id", carrier_sync.LINE_HOOKS)
provisioning.register_carrier_outcome(customer_requests.MNP_OPERATION, customer_requests.apply_mnp_outcome)

webhooks.register_handler("carrier", lines.carrier_event)
webhooks.register_handler("kyc", kyc_checks.kyc_event)
webhooks.register_handler("logistics", shipments.logistics_event)
webhooks.register_handler("payment", card_payments.payment_event)
webhooks.register_handler("bank", bank_transfers.bank_event)
webhooks.register_handler("monitoring", incidents.monitoring_event)

allocation.register_after_allocation(dunning.on_allocation)
approvals.register_outcome_listener(request_notices.tell_requester)  # the customer who asked hears the outcome

for source in (carrier_report.SOURCE, payment_settlement.SOURCE, bank_transfers.SOURCE):
    daily_reconciliation.register_source(source)
