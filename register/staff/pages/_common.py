"""What the staff directory's pages share: the words for a person's status, the menu entry, forms."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from litestar import Request

from register.forms import FormState, text
from register.i18n import N_
from register.pages import NavLink, reader_of
from register.staff.enums import EmployeeStatus

PAGE_SIZE = 50
# "Leaving soon" on the list: a leaving date within this many days from today.
LEAVING_SOON_DAYS = 30
STATUSES = {
    EmployeeStatus.active: N_("Works here"),
    EmployeeStatus.leaving: N_("Leaving"),
    EmployeeStatus.left: N_("Has left"),
}
NAV = NavLink(N_("Staff"), "/staff", "employee.read", order=20)
# A person's fields as the pages name them (the import's preview and errors too).
FIELD_LABELS = {
    "name": N_("Name"),
    "first_name": N_("First name"),
    "last_name": N_("Last name"),
    "work_email": N_("Work e-mail"),
    "department": N_("Department"),
    "job_title": N_("Job title"),
    "manager_email": N_("Manager's e-mail"),
    "manager_id": N_("Manager"),
    "start_date": N_("Start date"),
    "leaving_date": N_("Leaving date"),
    "status": N_("Status"),
    "file": N_("The file"),
    "date_order": N_("How dates are written"),
}


def form_of(request: Request[Any, Any, Any]) -> FormState:
    """An empty form for this reader (errors in their language)."""
    return FormState(gettext=reader_of(request).gettext)


def date_field(
    form: FormState, data: Mapping[str, Any], name: str, *, required: bool = False
) -> dt.date | None:
    """A date field (a browser's date input sends YYYY-MM-DD); an error next to it otherwise."""
    value = text(form, data, name, max_length=40)
    if name in form.errors:
        return None
    if not value:
        if required:
            form.errors[name] = form.gettext(N_("Give the date."))
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        form.errors[name] = form.gettext(N_("Write the date as year-month-day, like 2025-04-30."))
        return None
