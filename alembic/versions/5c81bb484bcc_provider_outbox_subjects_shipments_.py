"""provider outbox subjects, shipments, daily reconciliation runs

Revision ID: 5c81bb484bcc
Revises: ec96325cf886
Create Date: 2026-11-26 13:57:48.503418

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '5c81bb484bcc'
down_revision: Union[str, Sequence[str], None] = 'ec96325cf886'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('reconciliation_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('rows_checked', sa.Integer(), nullable=False),
    sa.Column('differences', sa.Integer(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('started_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("source IN ('carrier_lines', 'payment_settlement', 'bank_statement')", name='ck_reconciliation_run_source'),
    sa.CheckConstraint("status IN ('running', 'completed', 'failed')", name='ck_reconciliation_run_status'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'business_date', name='uq_reconciliation_run_source_date')
    )
    op.create_table('shipment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=True),
    sa.Column('sim_card_id', sa.Integer(), nullable=True),
    sa.Column('device_id', sa.Integer(), nullable=True),
    sa.Column('item_type', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('provider_shipment_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('tracking_number', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('return_reason', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('delivered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.CheckConstraint("item_type IN ('sim', 'device')", name='ck_shipment_item_type'),
    sa.CheckConstraint("status IN ('requested', 'accepted', 'picked_up', 'in_transit', 'delivered', 'return_requested', 'return_in_transit', 'returned', 'failed')", name='ck_shipment_status'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['device_id'], ['device.id'], ),
    sa.ForeignKeyConstraint(['line_id'], ['line.id'], ),
    sa.ForeignKeyConstraint(['sim_card_id'], ['sim_card.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('provider_shipment_id')
    )
    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shipment_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_shipment_line_id'), ['line_id'], unique=False)

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_user_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))

    with op.batch_alter_table('external_operation', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invoice_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('payment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('shipment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('notification_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_external_operation_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_external_operation_notification_id'), ['notification_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_external_operation_payment_id'), ['payment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_external_operation_shipment_id'), ['shipment_id'], unique=False)
        batch_op.create_foreign_key('fk_external_operation_shipment_id', 'shipment', ['shipment_id'], ['id'])
        batch_op.create_foreign_key('fk_external_operation_payment_id', 'payment', ['payment_id'], ['id'])
        batch_op.create_foreign_key('fk_external_operation_invoice_id', 'invoice', ['invoice_id'], ['id'])
        batch_op.create_foreign_key('fk_external_operation_notification_id', 'notification', ['notification_id'], ['id'])

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_ref', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.create_unique_constraint('uq_payment_external_ref', ['external_ref'])

    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch_op.alter_column('kind',
               existing_type=sa.VARCHAR(length=32),
               type_=sqlmodel.sql.sqltypes.AutoString(length=64),
               existing_nullable=False)
        batch_op.create_index(batch_op.f('ix_review_item_subject_key'), ['subject_key'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('review_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_item_subject_key'))
        batch_op.alter_column('kind',
               existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
               type_=sa.VARCHAR(length=32),
               existing_nullable=False)
        batch_op.drop_column('subject_key')

    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_constraint('uq_payment_external_ref', type_='unique')
        batch_op.drop_column('external_ref')

    with op.batch_alter_table('external_operation', schema=None) as batch_op:
        batch_op.drop_constraint('fk_external_operation_shipment_id', type_='foreignkey')
        batch_op.drop_constraint('fk_external_operation_payment_id', type_='foreignkey')
        batch_op.drop_constraint('fk_external_operation_invoice_id', type_='foreignkey')
        batch_op.drop_constraint('fk_external_operation_notification_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_external_operation_shipment_id'))
        batch_op.drop_index(batch_op.f('ix_external_operation_payment_id'))
        batch_op.drop_index(batch_op.f('ix_external_operation_notification_id'))
        batch_op.drop_index(batch_op.f('ix_external_operation_invoice_id'))
        batch_op.drop_column('notification_id')
        batch_op.drop_column('shipment_id')
        batch_op.drop_column('payment_id')
        batch_op.drop_column('invoice_id')

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('line_user_id')

    with op.batch_alter_table('shipment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shipment_line_id'))
        batch_op.drop_index(batch_op.f('ix_shipment_customer_id'))

    op.drop_table('shipment')
    op.drop_table('reconciliation_run')
