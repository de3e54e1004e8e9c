"""Read models of the customer self-service app (/my): every query is filtered by the signed-in person's scope
(services.ledger.customer_users.customer_scope) — their company, their lines, their rights. An id outside it
is NotFound, the same answer as an id that does not exist."""
