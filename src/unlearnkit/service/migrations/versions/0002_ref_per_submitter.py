"""External references are unique per submitter, not globally (one submitter cannot squat another's reference).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("svc_requests") as batch:
        batch.drop_constraint("uq_svc_requests_external_ref", type_="unique")
        batch.create_unique_constraint("uq_svc_requests_ref", ["submitter", "external_ref"])


def downgrade() -> None:
    with op.batch_alter_table("svc_requests") as batch:
        batch.drop_constraint("uq_svc_requests_ref", type_="unique")
        batch.create_unique_constraint("uq_svc_requests_external_ref", ["external_ref"])
