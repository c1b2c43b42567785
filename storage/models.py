"""Tortoise models: the database schema. Only ``storage`` imports them; everything else sees the
frozen dataclasses of ``bot.domain`` (mapped in ``storage.repository``).

Conventions:
- enums are stored as plain ``CharField``/``SmallIntField`` (not ``CharEnumField``) so that adding an
  enum member never needs a migration; the repositories convert.
- every ``DatetimeField`` is tz-aware UTC (``use_tz=True`` in ``storage.db.tortoise_config``); the
  values come from the caller's clock, never ``auto_now``, so tests can control time.
- ``dedup_key`` is "unique among incidents not yet past Mitigated" (PRODUCT.md §1). Tortoise 1.1.9's
  migrations refuse partial unique indexes on SQLite (``UniqueConstraint(condition=...)`` raises
  NotImplementedError there), so the rule is a second, nullable unique column,
  ``active_dedup_key``, that the repository keeps equal to ``dedup_key`` while the status is at most
  Mitigated and NULL afterwards (NULLs never collide, on PostgreSQL or SQLite). ``dedup_key`` itself
  is kept for history.
- model docstrings become table comments in migrations: keep models documented with ``#`` comments
  so that editing prose never needs a migration.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class Incident(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=255)
    summary = fields.TextField()
    priority = fields.SmallIntField(db_index=True)
    category = fields.CharField(max_length=100)
    environments: fields.Field[list[str]] = fields.JSONField(default=list)
    status = fields.CharField(max_length=20, db_index=True)
    response_type = fields.CharField(max_length=16)
    private = fields.BooleanField(default=False)
    custom_fields: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    created_by = fields.CharField(max_length=64)
    channel_id = fields.CharField(max_length=32, null=True, unique=True)
    channel_name = fields.CharField(max_length=80, null=True)
    dedup_key = fields.CharField(max_length=255, null=True)
    active_dedup_key = fields.CharField(max_length=255, null=True, unique=True)
    version = fields.IntField(default=1)
    started_at = fields.DatetimeField(null=True)
    detected_at = fields.DatetimeField(null=True)
    declared_at = fields.DatetimeField(null=True)
    acknowledged_at = fields.DatetimeField(null=True)
    mitigated_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True, db_index=True)
    closure_reason = fields.CharField(max_length=20, null=True)
    closure_reference = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField(db_index=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "incident"


class TimelineEntry(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="timeline", on_delete=fields.CASCADE
    )
    incident_id: int
    kind = fields.CharField(max_length=32)
    happened_at = fields.DatetimeField()
    actor_kind = fields.CharField(max_length=8)
    actor_id = fields.CharField(max_length=64)
    actor_name = fields.CharField(max_length=255, null=True)
    text = fields.TextField(default="")
    data: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    source_permalink = fields.CharField(max_length=500, null=True)
    source_channel = fields.CharField(max_length=32, null=True)
    source_ts = fields.CharField(max_length=32, null=True)
    edited = fields.BooleanField(default=False)
    struck_out = fields.BooleanField(default=False)
    created_at = fields.DatetimeField()

    class Meta:
        table = "timeline_entry"
        indexes = (("incident_id", "happened_at"), ("source_channel", "source_ts"))


class RoleAssignment(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="roles", on_delete=fields.CASCADE
    )
    incident_id: int
    role = fields.CharField(max_length=64)
    user_id = fields.CharField(max_length=32, db_index=True)
    assigned_at = fields.DatetimeField()
    assigned_by_kind = fields.CharField(max_length=8)
    assigned_by_id = fields.CharField(max_length=64)
    assigned_by_name = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "role_assignment"
        unique_together = (("incident_id", "role"),)


class Participant(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="participants", on_delete=fields.CASCADE
    )
    incident_id: int
    user_id = fields.CharField(max_length=32, db_index=True)
    joined_at = fields.DatetimeField()
    left_at = fields.DatetimeField(null=True)

    class Meta:
        table = "participant"
        unique_together = (("incident_id", "user_id"),)


# A side effect to perform after commit (Slack, Jira, PagerDuty, Confluence call).
class OutboxItem(Model):
    id = fields.BigIntField(primary_key=True)
    incident: fields.ForeignKeyNullableRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="outbox", null=True, on_delete=fields.SET_NULL
    )
    incident_id: int | None
    kind = fields.CharField(max_length=64)
    payload: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    idempotency_key = fields.CharField(max_length=255, unique=True)
    status = fields.CharField(max_length=16, default="pending")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(null=True)
    locked_by = fields.CharField(max_length=128, null=True)
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    done_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox_item"
        indexes = (("status", "next_attempt_at"),)


# A named lease: one holder at a time until ``expires_at``.
class JobLock(Model):
    name = fields.CharField(max_length=128, primary_key=True)
    owner = fields.CharField(max_length=128)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "job_lock"


# An intent already handled (Slack envelope, view submission...), with its optional result.
class IdempotencyKey(Model):
    key = fields.CharField(max_length=255, primary_key=True)
    created_at = fields.DatetimeField(db_index=True)
    result: fields.Field[object] = fields.JSONField(null=True)

    class Meta:
        table = "idempotency_key"


# A Slack message or setting the bot keeps in step with an incident: the pinned summary, the
# announcement, the deploy warning, the message it was declared from, the last topic it set.
class SlackRef(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="slack_refs", on_delete=fields.CASCADE
    )
    incident_id: int
    kind = fields.CharField(max_length=32)
    channel_id = fields.CharField(max_length=32)
    ts = fields.CharField(max_length=32, null=True)
    data: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "slack_ref"
        unique_together = (("incident_id", "kind"),)


# When each reminder of an incident is next due (one row per incident and kind: update,
# stale_mitigated, postmortem_due, role_gap). Sweeps pick the due rows; ``sent_for`` keeps the
# due time last sent so that a due time is announced exactly once.
class Reminder(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="reminders", on_delete=fields.CASCADE
    )
    incident_id: int
    kind = fields.CharField(max_length=32)
    due_at = fields.DatetimeField(null=True, db_index=True)
    snoozed_until = fields.DatetimeField(null=True)
    muted = fields.BooleanField(default=False)
    sent_for = fields.DatetimeField(null=True)
    sent_count = fields.IntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "reminder"
        unique_together = (("incident_id", "kind"),)


# A cost recorded against an incident (lost revenue, refunds, cloud spend, staff time...).
class CostEntry(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="costs", on_delete=fields.CASCADE
    )
    incident_id: int
    kind = fields.CharField(max_length=64)
    amount = fields.DecimalField(max_digits=16, decimal_places=2)
    currency = fields.CharField(max_length=3)
    note = fields.TextField(default="")
    author_id = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "cost_entry"


# The incident's Jira ticket (one per incident). ``written`` keeps, per synced field, the value the
# bot last wrote to Jira, so an echo of the bot's own write coming back through the pull is
# dropped; ``last_change_id`` is the newest changelog entry already applied (pull de-duplication).
class Ticket(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.OneToOneRelation[Incident] = fields.OneToOneField(
        "models.Incident", related_name="ticket", on_delete=fields.CASCADE
    )
    incident_id: int
    key = fields.CharField(max_length=64, unique=True)
    issue_id = fields.CharField(max_length=32)
    url = fields.CharField(max_length=500)
    project = fields.CharField(max_length=64)
    written: fields.Field[dict[str, object]] = fields.JSONField(default=dict)
    last_change_id = fields.BigIntField(default=0)
    remote_updated = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "ticket"


# A follow-up action: a Jira issue linked to the incident's ticket (`/incident followup`). Its
# status is pulled; ``done_at`` is set when Jira puts it in a done status.
class FollowUp(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="followups", on_delete=fields.CASCADE
    )
    incident_id: int
    text = fields.TextField()
    intent_key = fields.CharField(max_length=128, unique=True)
    created_by = fields.CharField(max_length=64)
    due_at = fields.DatetimeField(null=True, db_index=True)
    key = fields.CharField(max_length=64, null=True, unique=True)
    issue_id = fields.CharField(max_length=32, null=True)
    url = fields.CharField(max_length=500, null=True)
    status = fields.CharField(max_length=100, null=True)
    status_category = fields.CharField(max_length=16, null=True)
    done_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "followup"


# Where a pull job got to (the Jira pull's `updated` watermark), one row per job name.
class SyncCursor(Model):
    name = fields.CharField(max_length=64, primary_key=True)
    position = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "sync_cursor"


# A page of on-call through PagerDuty: one row per (incident, PagerDuty service, round). ``key`` is
# the PagerDuty incident_key (deterministic: a retry finds the PagerDuty incident it opened);
# ``round`` grows when a service is paged again after its previous page was resolved.
# ``responders`` holds who PagerDuty notified ({"id", "name", "email", "slack_id"}), ``invited``
# whether they were invited to the incident channel, ``channel_linked`` whether the PagerDuty
# incident carries the channel's link (a page sent before the channel existed gets it as a note).
class PagerDutyPage(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.ForeignKeyRelation[Incident] = fields.ForeignKeyField(
        "models.Incident", related_name="pages", on_delete=fields.CASCADE
    )
    incident_id: int
    service_key = fields.CharField(max_length=64)
    service_id = fields.CharField(max_length=32)
    escalation_policy_id = fields.CharField(max_length=32, null=True)
    round = fields.SmallIntField(default=1)
    key = fields.CharField(max_length=128, unique=True)
    urgency = fields.CharField(max_length=8)
    status = fields.CharField(max_length=16, db_index=True)
    automatic = fields.BooleanField(default=False)
    requested_by = fields.CharField(max_length=64)
    pd_incident_id = fields.CharField(max_length=32, null=True)
    pd_number = fields.IntField(null=True)
    url = fields.CharField(max_length=500, null=True)
    responders: fields.Field[list[dict[str, object]]] = fields.JSONField(default=list)
    invited = fields.BooleanField(default=False)
    channel_linked = fields.BooleanField(default=False)
    acknowledged_at = fields.DatetimeField(null=True)
    acknowledged_by = fields.CharField(max_length=255, null=True)
    resolved_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "pagerduty_page"
        unique_together = (("incident_id", "service_id", "round"),)


# The incident's post-mortem page in Confluence (one per incident; a page deleted in Confluence is
# replaced on the same row when someone asks for a new one). ``version`` is the page version the
# bot last wrote and ``digest`` what its generated sections said then, so an unchanged timeline
# costs no request; ``ready`` mirrors the page's ready label (or the ticket's Jira status), as the
# readiness pull last saw it.
class Postmortem(Model):
    id = fields.IntField(primary_key=True)
    incident: fields.OneToOneRelation[Incident] = fields.OneToOneField(
        "models.Incident", related_name="postmortem", on_delete=fields.CASCADE
    )
    incident_id: int
    page_id = fields.CharField(max_length=64)
    space_key = fields.CharField(max_length=255)
    title = fields.CharField(max_length=255)
    url = fields.CharField(max_length=1000)
    version = fields.IntField(default=1)
    digest = fields.CharField(max_length=64, default="")
    ready = fields.BooleanField(default=False)
    ready_at = fields.DatetimeField(null=True)
    checked_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "postmortem"
