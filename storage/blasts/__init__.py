"""Blasts: one message texted to every candidate on a list (see storage/blast_models.py).

blasts.py creates, edits and reads them; plan.py works out who gets what; sending.py is
the SQL of sending them and of the engagement they draw; report.py counts.
"""

from __future__ import annotations

from storage.blasts.blasts import (
    EDITABLE,
    BlastError,
    BlastRow,
    cancel_blast,
    create_blast,
    edit_blast,
    find_blast,
    get_blast,
    list_blasts,
    resume_blast,
    schedule,
)
from storage.blasts.plan import BlastRules, Plan, Planned, plan_recipients
from storage.blasts.report import REPORT_KEYS, BlastFigures, preview, report
from storage.blasts.sending import (
    BLAST_SEND,
    BLAST_SLACK,
    Due,
    SendView,
    blast_name_for,
    due_blasts,
    enqueue_slack,
    mark_sending,
    queue_due,
    record_click,
    record_delivery,
    record_failed,
    record_opt_outs,
    record_replies,
    record_sent,
    send_view,
    sending_blasts,
    set_aside,
    set_slack_ts,
    start_blast,
)

__all__ = [
    "BLAST_SEND",
    "BLAST_SLACK",
    "EDITABLE",
    "REPORT_KEYS",
    "BlastError",
    "BlastFigures",
    "BlastRow",
    "BlastRules",
    "Due",
    "Plan",
    "Planned",
    "SendView",
    "blast_name_for",
    "cancel_blast",
    "create_blast",
    "due_blasts",
    "edit_blast",
    "enqueue_slack",
    "find_blast",
    "get_blast",
    "list_blasts",
    "mark_sending",
    "plan_recipients",
    "preview",
    "queue_due",
    "record_click",
    "record_delivery",
    "record_failed",
    "record_opt_outs",
    "record_replies",
    "record_sent",
    "report",
    "resume_blast",
    "schedule",
    "send_view",
    "sending_blasts",
    "set_aside",
    "set_slack_ts",
    "start_blast",
]
