"""Changes, steps, per-target results, approvals, history, jobs, locks and the inventory
read model (machines, clusters).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("steps", "step_targets", "machines", "machine_locks", "jobs", "clusters", "cluster_locks",
          "changes", "change_history", "approvals")


def upgrade() -> None:
    op.create_table('approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.String(length=64), nullable=False),
    sa.Column('step_id', sa.String(length=64), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('by', sa.String(length=255), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('automatic', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_approvals_change_id'), 'approvals', ['change_id'], unique=False)
    op.create_table('change_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('change_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('step_id', sa.String(length=64), nullable=True),
    sa.Column('result', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_change_history_change_id'), 'change_history', ['change_id'], unique=False)
    op.create_table('changes',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('cluster', sa.String(length=128), nullable=True),
    sa.Column('targets', sa.JSON(), nullable=True),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('requested_by', sa.String(length=255), nullable=False),
    sa.Column('policy', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('closed', sa.Boolean(), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('problem', sa.String(length=64), nullable=True),
    sa.Column('problem_detail', sa.Text(), nullable=True),
    sa.Column('waiting_for', sa.Text(), nullable=True),
    sa.Column('dropped', sa.JSON(), nullable=True),
    sa.Column('blast_hosts', sa.JSON(), nullable=True),
    sa.Column('blast_components', sa.JSON(), nullable=True),
    sa.Column('config_diff', sa.Text(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=True),
    sa.Column('endpoints', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_changes_closed'), 'changes', ['closed'], unique=False)
    op.create_index(op.f('ix_changes_cluster'), 'changes', ['cluster'], unique=False)
    op.create_index(op.f('ix_changes_status'), 'changes', ['status'], unique=False)
    op.create_index(op.f('ix_changes_type'), 'changes', ['type'], unique=False)
    op.create_table('cluster_locks',
    sa.Column('cluster', sa.String(length=128), nullable=False),
    sa.Column('change_id', sa.String(length=64), nullable=False),
    sa.Column('step_id', sa.String(length=64), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('cluster')
    )
    op.create_index(op.f('ix_cluster_locks_change_id'), 'cluster_locks', ['change_id'], unique=False)
    op.create_table('clusters',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('provider', sa.String(length=16), nullable=False),
    sa.Column('api_endpoint', sa.String(length=255), nullable=True),
    sa.Column('kubeconfig_sealed', sa.Text(), nullable=True),
    sa.Column('join_token_sealed', sa.Text(), nullable=True),
    sa.Column('bastion', sa.String(length=255), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('jobs',
    sa.Column('job_id', sa.String(length=160), nullable=False),
    sa.Column('change_id', sa.String(length=64), nullable=False),
    sa.Column('step_id', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=8), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('service', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('hosts', sa.JSON(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('job_id')
    )
    op.create_index(op.f('ix_jobs_change_id'), 'jobs', ['change_id'], unique=False)
    op.create_table('machine_locks',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('change_id', sa.String(length=64), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('host')
    )
    op.create_index(op.f('ix_machine_locks_change_id'), 'machine_locks', ['change_id'], unique=False)
    op.create_table('machines',
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('cluster', sa.String(length=128), nullable=True),
    sa.Column('roles', sa.JSON(), nullable=True),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('labels', sa.JSON(), nullable=True),
    sa.Column('taints', sa.JSON(), nullable=True),
    sa.Column('k8s_components', sa.JSON(), nullable=True),
    sa.Column('ssh', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_machines_cluster'), 'machines', ['cluster'], unique=False)
    op.create_index(op.f('ix_machines_hostname'), 'machines', ['hostname'], unique=True)
    op.create_table('step_targets',
    sa.Column('change_id', sa.String(length=64), nullable=False),
    sa.Column('step_id', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('error_class', sa.String(length=32), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('undo_status', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('change_id', 'step_id', 'host')
    )
    op.create_table('steps',
    sa.Column('change_id', sa.String(length=64), nullable=False),
    sa.Column('step_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=160), nullable=True),
    sa.Column('undo_status', sa.String(length=16), nullable=True),
    sa.Column('undo_attempt', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('change_id', 'step_id')
    )


def downgrade() -> None:
    for name in TABLES:
        op.drop_table(name)
