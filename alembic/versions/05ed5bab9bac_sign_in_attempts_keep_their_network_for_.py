"""sign-in attempts keep their network for throttling per network

Revision ID: 05ed5bab9bac
Revises: a1f3c9d27e40
Create Date: 2026-12-03 16:26:59.382055

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


# revision identifiers, used by Alembic.
revision: str = '05ed5bab9bac'
down_revision: Union[str, Sequence[str], None] = 'a1f3c9d27e40'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_network', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
        batch_op.create_index('ix_sign_in_attempt_network_at', ['client_network', 'attempted_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('sign_in_attempt', schema=None) as batch_op:
        batch_op.drop_index('ix_sign_in_attempt_network_at')
        batch_op.drop_column('client_network')
