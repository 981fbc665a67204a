"""The demo company's people, and the users who sign in for HR, IT, comms, legal and audit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from register.actor import Actor
from register.enums import Role
from register.errors import Conflict
from register.i18n import N_
from register.services import create_user
from register.staff.services import create_employee
from register.staff.tables import Employee

COMPANY_DOMAIN = "northwind-outdoor.example"


# name, department, job title, manager (index into this list), start (years ago), leaving in days
PEOPLE = [
    ("Helen Okafor", "Executive", "Chief Executive Officer", None, 9.0, None),
    ("Marcus Lindqvist", "Communications", "Head of Communications", 0, 6.5, None),
    ("Priya Raman", "Communications", "Social Media Manager", 1, 3.2, None),
    ("Tom Ellery", "Communications", "Content Producer", 2, 1.4, 21),
    ("Aoife Brennan", "Communications", "Press Officer", 1, 2.1, None),
    ("Daniel Kowalski", "Marketing", "Head of Marketing", 0, 5.0, None),
    ("Sofia Marchetti", "Marketing", "Brand Manager", 5, 2.7, None),
    ("Kwame Mensah", "Marketing", "Community Manager", 6, 0.8, None),
    ("Grace Liu", "Sales", "Sales Director", 0, 7.3, None),
    ("Oliver Hughes", "Sales", "Senior Recruiter", 8, 4.1, 10),
    ("Fatima Zahra Alaoui", "Sales", "Account Executive", 8, 1.9, None),
    ("Jonas Becker", "Sales", "Account Executive", 8, 0.5, None),
    ("Rachel Adeyemi", "People", "HR Director", 0, 8.0, None),
    ("Ben Carter", "People", "HR Business Partner", 12, 2.3, None),
    ("Nadia Petrova", "IT", "IT Manager", 0, 6.0, None),
    ("Sam O'Neill", "IT", "Systems Administrator", 14, 3.6, None),
    ("Leila Haddad", "Legal", "General Counsel", 0, 4.4, None),
    ("Ethan Brooks", "Legal", "Paralegal", 16, 1.1, -30),
    ("Mei Tanaka", "Engineering", "Engineering Manager", 0, 5.5, None),
    ("Lucas Ferreira", "Engineering", "Developer Advocate", 18, 2.0, None),
    ("Chloe Dubois", "Engineering", "Software Engineer", 18, 1.3, None),
    ("Arjun Mehta", "Finance", "Finance Director", 0, 6.8, None),
]


USERS = [
    ("it@" + COMPANY_DOMAIN, Role.it, "Nadia Petrova"),
    ("hr@" + COMPANY_DOMAIN, Role.hr, "Rachel Adeyemi"),
    ("comms@" + COMPANY_DOMAIN, Role.comms, "Marcus Lindqvist"),
    ("legal@" + COMPANY_DOMAIN, Role.legal, "Leila Haddad"),
    ("auditor@" + COMPANY_DOMAIN, Role.auditor, ""),
]


def email_of(name: str) -> str:
    """first.last@ the demo company's domain."""
    parts = name.lower().replace("'", "").split()
    return f"{parts[0]}.{parts[-1]}@{COMPANY_DOMAIN}"


async def demo_staff(actor: Actor, context: dict[str, Any]) -> list[str]:
    """The people of Northwind Outdoor and five users; refuses a directory that has anyone."""
    if await Employee.count() > 0:
        raise Conflict(N_("the database already has employees; demo fills only an empty directory"))
    today = context["today"]
    ids: list[int] = []
    for name, department, title, manager, years, leaving_in in PEOPLE:
        start = today - dt.timedelta(days=int(years * 365))
        employee = await create_employee(
            actor=actor,
            data={
                "name": name,
                "work_email": email_of(name),
                "department": department,
                "job_title": title,
                "manager_id": ids[manager] if manager is not None else None,
                "start_date": start,
                "leaving_date": today + dt.timedelta(days=leaving_in)
                if leaving_in is not None
                else None,
            },
        )
        ids.append(employee["id"])
    by_name = {p[0]: ids[i] for i, p in enumerate(PEOPLE)}
    lines = [
        f"demo: {len(ids)} employees of Northwind Outdoor ({COMPANY_DOMAIN})",
        "demo users (one-time passwords, shown once):",
    ]
    for email, role, person in USERS:
        user, password = await create_user(
            actor=actor,
            email=email,
            role=role,
            name=person or "Auditor",
            employee_id=by_name.get(person),
        )
        lines.append(f"  {role.value:<8} {user['email']:<40} {password}")
    context.update({"employee_ids": by_name, "domain": COMPANY_DOMAIN})
    return lines
