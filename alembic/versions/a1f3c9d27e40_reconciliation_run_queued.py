"""reconciliation runs can wait for a worker (queued, 待機中); bank transfers keep their 照会番号;
network incidents (障害・メンテナンス) from the monitoring provider; a line's speed limit (速度制限)

Revision ID: a1f3c9d27e40
Revises: 5c81bb484bcc
Create Date: 2026-11-26 17:20:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


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
    with op.batch_alter_table('line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('throttled', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table('service_incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_ref', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('services', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('areas', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('starts_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('ends_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('outage', 'maintenance')", name='ck_service_incident_kind'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_ref')
    )
    with op.batch_alter_table('service_incident', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_incident_status'), ['status'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('service_incident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_incident_status'))
    op.drop_table('service_incident')
    with op.batch_alter_table('line', schema=None) as batch_op:
        batch_op.drop_column('throttled')
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_column('bank_inquiry_number')
    op.execute("UPDATE reconciliation_run SET status = 'failed' WHERE status = 'queued'")
    with op.batch_alter_table('reconciliation_run', schema=None) as batch_op:
        batch_op.drop_constraint('ck_reconciliation_run_status', type_='check')
        batch_op.create_check_constraint('ck_reconciliation_run_status',
                                         "status IN ('running', 'completed', 'failed')")
