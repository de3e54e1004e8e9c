"""a notice may be about one line (notification.line_id): a 利用者 sees only the notices of their lines

Revision ID: 9d4b6e1f3a72
Revises: 7c1e5d2a9b30
Create Date: 2026-12-04 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '9d4b6e1f3a72'
down_revision: Union[str, Sequence[str], None] = '7c1e5d2a9b30'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('line_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_notification_line_id'), ['line_id'], unique=False)
        batch_op.create_foreign_key('fk_notification_line_id_line', 'line', ['line_id'], ['id'])


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_constraint('fk_notification_line_id_line', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_notification_line_id'))
        batch_op.drop_column('line_id')
