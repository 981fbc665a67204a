"""The staff directory's table, and the indexes its lists need."""

from __future__ import annotations

from piccolo.columns import Date, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from register.staff.enums import EmployeeStatus


class Employee(Table, tablename="employee"):
    """A person in the staff directory; may hold accounts and connections."""

    id = Serial(primary_key=True)
    name = Varchar(length=200, help_text="Full name as HR records it.")
    work_email = Varchar(
        length=320, unique=True, help_text="Lower-cased work e-mail; identifies the person."
    )
    department = Varchar(length=120, default="", index=True)
    job_title = Varchar(length=200, default="")
    manager = ForeignKey(
        "self",
        null=True,
        default=None,
        on_delete=OnDelete.set_null,
        help_text="Line manager, another employee.",
    )
    start_date = Date(
        null=True, default=None, help_text="First day of employment; opens the connections window."
    )
    leaving_date = Date(
        null=True, default=None, index=True, help_text="Last day of employment, if known."
    )
    status = Varchar(
        length=16, default=EmployeeStatus.active.value, choices=EmployeeStatus, index=True
    )
    version = Integer(default=1, help_text="Bumped on every update; a stale update gets 409.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


# Applied by the core's migration register_0002 (the directory was part of the core then).
INDEXES = [
    'CREATE INDEX IF NOT EXISTS employee_department_name ON "employee" ("department", "name", "id")',
    'CREATE INDEX IF NOT EXISTS employee_status_name ON "employee" ("status", "name", "id")',
    'CREATE INDEX IF NOT EXISTS employee_name_id ON "employee" ("name", "id")',
    'CREATE INDEX IF NOT EXISTS employee_manager ON "employee" ("manager")',
]


def statements(engine_type: str) -> list[str]:
    """The directory's indexes (the same on both engines)."""
    return list(INDEXES)
