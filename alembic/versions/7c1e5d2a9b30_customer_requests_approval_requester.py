"""customer requests: an approval request may be asked by a customer user (approval_request.requested_by_customer_user_id)

Revision ID: 7c1e5d2a9b30
Revises: 4554804ff87a
Create Date: 2026-12-03 20:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '7c1e5d2a9b30'
down_revision: Union[str, Sequence[str], None] = '4554804ff87a'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_by_customer_user_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_approval_request_customer_user', 'customer_user',
                                    ['requested_by_customer_user_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('approval_request', schema=None) as batch_op:
        batch_op.drop_constraint('fk_approval_request_customer_user', type_='foreignkey')
        batch_op.drop_column('requested_by_customer_user_id')
