"""report indexes: covering patient values, date-only values

House rules: one logical change per migration; reversible where possible (downgrade written and
tested); no data rewrites without a note here saying what changes and why.

The study report reads every value of every patient twice (end of follow-up, per-window
selection). The (site, patient_source_id, analyte, effective_at) index becomes a covering one
(plus effective_precision, status, exclusion, value; same leading columns, so every query that
used it still can), and a partial index holds the few date-only values, which the report reads
apart. Indexes only; no data changes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 21:04:55.042988
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index(
            batch_op.f(
                "ix_observation_site_observation_patient_source_id_observation_analyte_observation_effective_at"
            )
        )
        batch_op.create_index(
            "ix_observation_date_only",
            ["site", "patient_source_id", "analyte", "effective_at"],
            unique=False,
            sqlite_where=sa.text("effective_precision IN ('year', 'month', 'day')"),
            postgresql_where=sa.text("effective_precision IN ('year', 'month', 'day')"),
        )
        batch_op.create_index(
            "ix_observation_patient_values",
            [
                "site",
                "patient_source_id",
                "analyte",
                "effective_at",
                "effective_precision",
                "status",
                "exclusion",
                "value",
            ],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index("ix_observation_patient_values")
        batch_op.drop_index(
            "ix_observation_date_only",
            sqlite_where=sa.text("effective_precision IN ('year', 'month', 'day')"),
            postgresql_where=sa.text("effective_precision IN ('year', 'month', 'day')"),
        )
        batch_op.create_index(
            batch_op.f(
                "ix_observation_site_observation_patient_source_id_observation_analyte_observation_effective_at"
            ),
            ["site", "patient_source_id", "analyte", "effective_at"],
            unique=False,
        )
