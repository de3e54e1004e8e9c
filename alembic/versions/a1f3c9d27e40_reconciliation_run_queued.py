"""reconciliation runs can wait for a worker (queued, 待機中); bank transfers keep their 照会番号

Revision ID: a1f3c9d27e40
Revises: 5c81bb484bcc
Create Date: 2026-11-26 17:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'a1f3c9d27e40'
down_revision: Union[str, Sequence[str], None] = '5c81bb484bcc'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('reconciliation_run', schema=None) as batch_op:
        batch_op.drop_constraint('ck_reconciliation_run_status', type_='check')
        batch_op.create_check_constraint('ck_reconciliation_run_status',
                                         "status IN ('queued', 'running', 'completed', 'failed')")
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bank_inquiry_number', sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_column('bank_inquiry_number')
    op.execute("UPDATE reconciliation_run SET status = 'failed' WHERE status = 'queued'")
    with op.batch_alter_table('reconciliation_run', schema=None) as batch_op:
        batch_op.drop_constraint('ck_reconciliation_run_status', type_='check')
        batch_op.create_check_constraint('ck_reconciliation_run_status',
                                         "status IN ('running', 'completed', 'failed')")
