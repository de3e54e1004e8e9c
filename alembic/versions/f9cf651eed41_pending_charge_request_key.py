"""a charge bought in the customer app (add-on data) keeps the page's request key: a double submit buys once

Revision ID: f9cf651eed41
Revises: 63ec81ba19a4
Create Date: 2026-12-04 10:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = 'f9cf651eed41'
down_revision: Union[str, Sequence[str], None] = '63ec81ba19a4'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('pending_charge', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_pending_charge_request_key'), ['request_key'], unique=True)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('pending_charge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_charge_request_key'))
        batch_op.drop_column('request_key')
