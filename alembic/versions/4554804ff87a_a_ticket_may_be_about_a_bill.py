"""a ticket may be about a bill (ticket.invoice_id): customers ask about a line or a bill

Revision ID: 4554804ff87a
Revises: f9cf651eed41
Create Date: 2026-12-03 20:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '4554804ff87a'
down_revision: Union[str, Sequence[str], None] = 'f9cf651eed41'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invoice_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_ticket_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_foreign_key('fk_ticket_invoice_id_invoice', 'invoice', ['invoice_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_constraint('fk_ticket_invoice_id_invoice', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_ticket_invoice_id'))
        batch_op.drop_column('invoice_id')
