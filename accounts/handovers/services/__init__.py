"""Handovers' queries and rules, one module per concern, all named here.

_handovers  handovers as stored, who may work what, what is overdue, the digest
_templates  checklist items every handover of a department gets
_footprint  what a leaver holds, could get into or could recover, before anything starts
"""

from __future__ import annotations

from accounts.handovers.services._footprint import (
    clean_emails,
    clean_phones,
    footprint,
    phone_key,
)
from accounts.handovers.services._handovers import (
    ATTESTATION,
    ITEM_RULES,
    KIND_TARGETS,
    LIVE,
    as_date,
    check_successor,
    digest_source,
    get_document,
    get_item,
    handover_items,
    handover_out,
    handover_row,
    is_hr_lead,
    item_counts,
    item_out,
    item_row,
    list_handovers,
    live_for_items,
    may_work,
    offboarded,
    overdue_handovers,
    overdue_items,
    read_handover,
    refuse_the_leaver,
    sign_off_out,
    today,
)
from accounts.handovers.services._templates import (
    create_template,
    list_templates,
    template_out,
    update_template,
)

__all__ = [
    "ATTESTATION",
    "ITEM_RULES",
    "KIND_TARGETS",
    "LIVE",
    "as_date",
    "check_successor",
    "clean_emails",
    "clean_phones",
    "create_template",
    "digest_source",
    "footprint",
    "get_document",
    "get_item",
    "handover_items",
    "handover_out",
    "handover_row",
    "is_hr_lead",
    "item_counts",
    "item_out",
    "item_row",
    "list_handovers",
    "list_templates",
    "live_for_items",
    "may_work",
    "offboarded",
    "overdue_handovers",
    "overdue_items",
    "phone_key",
    "read_handover",
    "refuse_the_leaver",
    "sign_off_out",
    "template_out",
    "today",
    "update_template",
]
