"""KYC records kept for 3 years after the contract ends, sealed before-values of sensitive changes, the auditor role

Revision ID: 3ea588baff10
Revises: 05ed5bab9bac
Create Date: 2026-12-03 16:49:00.376577

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '3ea588baff10'
down_revision: Union[str, Sequence[str], None] = '05ed5bab9bac'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_constraint('ck_staff_user_role', type_='check')
        batch_op.create_check_constraint('ck_staff_user_role',
                                         "role IN ('sales', 'support', 'accounting', 'admin', 'auditor')")
    op.create_table('audit_sealed_value',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_entry_id', sa.Integer(), nullable=False),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('value_enc', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.ForeignKeyConstraint(['audit_entry_id'], ['audit_entry.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_sealed_value', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_sealed_value_audit_entry_id'), ['audit_entry_id'], unique=False)

    op.create_table('kyc_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('confirmed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('checked_by', sa.Integer(), nullable=True),
    sa.Column('checked_by_label', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('approved_by', sa.Integer(), nullable=True),
    sa.Column('approved_by_label', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('approval_request_id', sa.Integer(), nullable=True),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('document_type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('document_number_enc', sqlmodel.sql.sqltypes.AutoString(length=512), nullable=True),
    sa.Column('mail_tracking_number', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('provider_check_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.CheckConstraint("method IN ('ekyc', 'in_person', 'mail')", name='ck_kyc_record_method'),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('kyc_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_kyc_record_customer_id'), ['customer_id'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('kyc_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_kyc_record_customer_id'))

    op.drop_table('kyc_record')
    with op.batch_alter_table('audit_sealed_value', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_sealed_value_audit_entry_id'))

    op.drop_table('audit_sealed_value')
    op.execute("UPDATE staff_user SET is_active = false, role = 'admin' WHERE role = 'auditor'")
    with op.batch_alter_table('staff_user', schema=None) as batch_op:
        batch_op.drop_constraint('ck_staff_user_role', type_='check')
        batch_op.create_check_constraint('ck_staff_user_role', "role IN ('sales', 'support', 'accounting', 'admin')")
