"""The person picker every form uses to choose someone by name.

`GET /staff/picker?q=...&field=...&who=...` answers the type-ahead (`person_picker` in the core's
`_forms.html`, driven by htmx and `/static/picker.js`) with an HTML list of the people who match:
name, department and work e-mail, so that two people of the same name can be told apart, with
who is leaving or has left said in words. `person()` reads a picker's field of a submitted form
into one employee id, the same way with JavaScript (a hidden id) or without (the typed text).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import QueryParameter
from litestar.response import Template

from register.forms import FormState, resolve_person
from register.i18n import N_
from register.openapi import Text
from register.pages import page, render
from register.staff.enums import EmployeeStatus
from register.staff.services import employees_by_id, find_people

PICKER_PATH = "/staff/picker"
# Enough to find anyone by a few letters; more means "type more of the name".
PICKER_LIMIT = 10
# Who may be chosen: everyone (leavers marked), people still employed (the default), or only
# people who stay (custody goes to nobody who is leaving).
WHO = ("all", "current", "staying")
Who = Annotated[str, QueryParameter(pattern="^(all|current|staying)$")]
FieldName = Annotated[str, QueryParameter(max_length=60, pattern="^([a-z][a-z_]*)?$")]


def refusal(gettext: Callable[[str], str], who: str) -> Callable[[Mapping[str, Any]], str | None]:
    """Why a person cannot be chosen in a picker of this kind (None: they can)."""

    def refuse(person: Mapping[str, Any]) -> str | None:
        status = person.get("status")
        if status == EmployeeStatus.left.value and who != "all":
            return gettext(N_("%(name)s has left the company: choose someone who works here.")) % {
                "name": person["name"]
            }
        if status == EmployeeStatus.leaving.value and who == "staying":
            return gettext(N_("%(name)s is leaving the company: choose someone who stays.")) % {
                "name": person["name"]
            }
        return None

    return refuse


async def person(
    form: FormState,
    data: Mapping[str, Any],
    name: str,
    *,
    who: str = "current",
    required: bool = False,
) -> int | None:
    """The employee a form's person picker names, or None (with the reason on the form)."""

    async def find(typed: str) -> list[dict[str, Any]]:
        return await find_people(q=typed, limit=PICKER_LIMIT, include_left=True)

    async def one(employee_id: int) -> dict[str, Any] | None:
        return (await employees_by_id([employee_id])).get(employee_id)

    return await resolve_person(
        form,
        data,
        name,
        find=find,
        get=one,
        refuse=refusal(form.gettext, who),
        required=required,
    )


class StaffPages(Controller):
    """The person picker's answers."""

    path = "/staff"
    include_in_schema = False

    @get("/picker", opt=page("employee.read"))
    async def picker(
        self,
        request: Request[Any, Any, Any],
        q: Text(200) = None,
        field: FieldName = "",
        who: Who = "current",
    ) -> Template:
        """The people matching what was typed, as a list to choose from (an htmx fragment)."""
        typed = (q or "").strip()
        found = (
            await find_people(
                q=typed,
                limit=PICKER_LIMIT + 1,
                include_left=who == "all",
                staying_only=who == "staying",
            )
            if typed and field
            else []
        )
        return render(
            request,
            "staff/_picker.html",
            title=N_("People"),
            field=field,
            typed=typed,
            people=found[:PICKER_LIMIT],
            more=len(found) > PICKER_LIMIT,
        )
