"""Schemathesis over /schema, in-process: every operation, no 5xx, every answer as documented.

The fuzzed app is a fresh `create_app(settings)` that only schemathesis' ASGI client drives:
that client runs the app, lifespan included, on its own thread and event loop, so the app's
database pool lives there. Rows the run needs are seeded beforehand on this test's loop through
an engine of their own, closed before the app starts.

Schemathesis' pytest integration (`schema.parametrize()`) does not run under pytest 9.2 (it
renames `request.node._nodeid`), so the test builds each operation's Hypothesis test with the
builder that integration uses: coverage cases (boundaries, wrong types, unsupported methods)
and then `EXAMPLES` fuzzed cases, positive and negative.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from litestar import Litestar
from litestar.routes import HTTPRoute
from schemathesis import checks
from schemathesis.core.result import Err
from schemathesis.generation.hypothesis.builder import (
    HypothesisTestConfig,
    HypothesisTestMode,
    create_test,
)
from schemathesis.python import asgi as schemathesis_asgi

from register import audit
from register.access import PUBLIC, SCIM, action_of
from register.actor import Actor
from register.asgi import create_app
from register.auth import issue_token
from register.db import bind_engine, make_engine
from register.enums import Role
from register.extensions import extensions
from register.keys import load_secrets
from register.services import create_user
from register.settings import Settings
from register.staff.services import create_employee
from tests.accounts.posts.photos import jpeg_with_gps
from tests.helpers import assert_problem, employee_body

# Per operation and database. The two databases' runs draw different examples (see
# `example_seed`), so together they try 60 per operation in about the time 50 on both took.
EXAMPLES = 30
PASSWORD = "correct horse battery"
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]
FUZZ_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
)
# One request per operation that random data rarely builds (a real e-mail, a CSV file, the right
# password), so every success answer is checked against its schema too.
KNOWN_GOOD: dict[str, dict[str, Any]] = {
    "POST /api/v1/auth/login": {"body": {"email": "seed0@example.com", "password": PASSWORD}},
    "POST /api/v1/auth/password": {
        "body": {"current_password": PASSWORD, "new_password": "a new horse battery"}
    },
    "POST /api/v1/users": {
        "body": {"email": "known-good@example.com", "role": "it", "name": "Known Good"}
    },
    "POST /api/v1/employees": {"body": employee_body("known-good")},
    "POST /api/v1/employees/imports": {
        "body": {
            "file": b"name,work_email,start date\nImported One,imported1@example.com,2024-02-01\n"
        },
        "media_type": "multipart/form-data",
    },
}
# The accounts app's seed (fuzz_seed): accounts 1-5 held by the admin's own employee (seed0), so
# the admin may use the vault as custodian; account 1 has a credential and grant 1; accounts 4
# and 5 have pending backup transfers 1 and 2 to seed2.
KNOWN_GOOD.update(
    {
        "POST /api/v1/accounts": {
            "body": {"platform": "x", "handle": "@known_good", "custodian_id": 1}
        },
        "PATCH /api/v1/accounts/{account_id}": {
            "path_parameters": {"account_id": 2},
            "body": {"version": 1, "notes": "checked"},
        },
        "POST /api/v1/accounts/{account_id}/retire": {
            "path_parameters": {"account_id": 3},
            "body": {"version": 1, "reason": "merged"},
        },
        "POST /api/v1/accounts/{account_id}/grants": {
            "path_parameters": {"account_id": 2},
            "body": {"employee_id": 3, "level": "viewer"},
        },
        "POST /api/v1/accounts/{account_id}/grants/{grant_id}/revoke": {
            "path_parameters": {"account_id": 1, "grant_id": 1},
            "body": {"reason": "done"},
        },
        "POST /api/v1/accounts/{account_id}/transfers": {
            "path_parameters": {"account_id": 2},
            "body": {"to_employee_id": 3},
        },
        "POST /api/v1/accounts/{account_id}/transfers/{transfer_id}/accept": {
            "path_parameters": {"account_id": 4, "transfer_id": 1},
            "body": {},
        },
        "POST /api/v1/accounts/{account_id}/transfers/{transfer_id}/decline": {
            "path_parameters": {"account_id": 5, "transfer_id": 2},
            "body": {},
        },
        "PUT /api/v1/accounts/{account_id}/credential": {
            "path_parameters": {"account_id": 1},
            "body": {"password": "fuzz-password"},
        },
        "POST /api/v1/accounts/{account_id}/credential/reveal": {
            "path_parameters": {"account_id": 1},
            "body": {"reason": "fuzz check"},
        },
        "GET /api/v1/accounts/{account_id}/credential/totp": {"path_parameters": {"account_id": 1}},
        "POST /api/v1/accounts/{account_id}/recertify": {
            "path_parameters": {"account_id": 5},
            "body": {"keep_grant_ids": [], "revoke_grant_ids": []},
        },
        "POST /api/v1/accounts/imports": {
            "body": {"file": b"platform,handle,custodian\nx,@imported_one,seed0@example.com\n"},
            "media_type": "multipart/form-data",
        },
    }
)
# The incidents app's seed (seed_incidents): incident 1 has its triage done (version 2); 2 is
# unacknowledged; 3 has open tasks (14: acknowledge; 21 and 22 added by hand) and platform report 1;
# 4 is contained with a full review; 5 is contained without one (version 3); 6 is untouched. Evidence 1 is a
# link and 2 a file, both on incident 1.
KNOWN_GOOD.update(
    {
        "POST /api/v1/incidents": {
            "body": {"title": "Known good", "category": "erroneous_post", "severity": "SEV3"}
        },
        "PATCH /api/v1/incidents/{incident_id}": {
            "path_parameters": {"incident_id": 6},
            "body": {"version": 1, "title": "Renamed"},
        },
        "PUT /api/v1/incidents/{incident_id}/reporter": {
            "path_parameters": {"incident_id": 5},
            "body": {"version": 3, "reporter_name": "Named Reporter"},
        },
        "POST /api/v1/incidents/{incident_id}/acknowledge": {"path_parameters": {"incident_id": 2}},
        "POST /api/v1/incidents/{incident_id}/status": {
            "path_parameters": {"incident_id": 1},
            "body": {"status": "triaged", "version": 2},
        },
        "POST /api/v1/incidents/{incident_id}/tasks": {
            "path_parameters": {"incident_id": 3},
            "body": {"title": "Known good task"},
        },
        "POST /api/v1/incidents/{incident_id}/tasks/{task_id}/complete": {
            "path_parameters": {"incident_id": 3, "task_id": 14},
            "body": {"note": "done"},
        },
        "POST /api/v1/incidents/{incident_id}/tasks/{task_id}/skip": {
            "path_parameters": {"incident_id": 3, "task_id": 21},
            "body": {"reason": "not needed"},
        },
        "POST /api/v1/incidents/{incident_id}/tasks/{task_id}/assign": {
            "path_parameters": {"incident_id": 3, "task_id": 22},
            "body": {"version": 1, "assignee_id": 1},
        },
        "POST /api/v1/incidents/{incident_id}/notes": {
            "path_parameters": {"incident_id": 3},
            "body": {"text": "checked"},
        },
        "POST /api/v1/incidents/{incident_id}/evidence": {
            "path_parameters": {"incident_id": 3},
            "body": {"url": "https://example.com/post/1"},
        },
        "POST /api/v1/incidents/{incident_id}/evidence/files": {
            "path_parameters": {"incident_id": 3},
            "body": {"file": b"screenshot bytes"},
            "media_type": "multipart/form-data",
        },
        "GET /api/v1/incidents/{incident_id}/evidence/{evidence_id}": {
            "path_parameters": {"incident_id": 1, "evidence_id": 1}
        },
        "GET /api/v1/incidents/{incident_id}/evidence/{evidence_id}/content": {
            "path_parameters": {"incident_id": 1, "evidence_id": 2}
        },
        "POST /api/v1/incidents/{incident_id}/platform-reports": {
            "path_parameters": {"incident_id": 3},
            "body": {"platform": "x", "report_ref": "X-1"},
        },
        "PATCH /api/v1/incidents/{incident_id}/platform-reports/{report_id}": {
            "path_parameters": {"incident_id": 3, "report_id": 1},
            "body": {"version": 1, "outcome": "removed"},
        },
        "GET /api/v1/incidents/{incident_id}/review": {"path_parameters": {"incident_id": 4}},
        "PUT /api/v1/incidents/{incident_id}/review": {
            "path_parameters": {"incident_id": 5},
            "body": {"version": 0, "summary": "first draft"},
        },
        "POST /api/v1/incidents/{incident_id}/review/actions": {
            "path_parameters": {"incident_id": 4},
            "body": {"title": "Train the team", "due_at": "2030-01-01T00:00:00Z"},
        },
        "POST /api/v1/incidents/{incident_id}/review/sign-off": {
            "path_parameters": {"incident_id": 4},
            "body": {"version": 1},
        },
        "POST /api/v1/incidents/intake": {
            "body": {"category": "harassment", "title": "Abusive replies"}
        },
        "GET /api/v1/playbooks/{category}": {"path_parameters": {"category": "harassment"}},
        "PUT /api/v1/playbooks/{category}": {
            "path_parameters": {"category": "spam_unauthorised"},
            "body": {
                "version": 1,
                "title": "Spam",
                "steps": [{"key": "a", "title": "A", "owner": "comms", "phase": "triage"}],
            },
        },
    }
)
# The connections' seed (seed_connections): employee 2 (seed1) started in 2020 and holds three
# imported connections, one of them with the e-mail known@example.org.
CONNECTIONS_CSV = (
    b"Notes:\n\nFirst Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    b"Kim,Known,https://www.linkedin.com/in/kim-known,known@example.org,Acme,CFO,07 Dec 2023\n"
)
KNOWN_GOOD.update(
    {
        "GET /api/v1/employees/{employee_id}/connections": {"path_parameters": {"employee_id": 2}},
        "POST /api/v1/employees/{employee_id}/connections/imports": {
            "path_parameters": {"employee_id": 2},
            "body": {"file": CONNECTIONS_CSV},
            "media_type": "multipart/form-data",
        },
        "GET /api/v1/employees/{employee_id}/connections/imports": {
            "path_parameters": {"employee_id": 2}
        },
        "GET /api/v1/employees/{employee_id}/connections/export.csv": {
            "path_parameters": {"employee_id": 2}
        },
        "POST /api/v1/employees/{employee_id}/connections/state": {
            "path_parameters": {"employee_id": 2},
            "body": {"state": "exported_to_successor"},
        },
        "POST /api/v1/connections/subject-access": {"body": {"email": "known@example.org"}},
        "POST /api/v1/connections/erasure": {"body": {"email": "seeded@example.org"}},
    }
)
# Notifications (seed_notifications): subscriptions 1-3 take only "test" events and point at a
# closed local port; outbox message 1 (subscription 1) is a dead letter, 2 (subscription 2) pending.
KNOWN_GOOD.update(
    {
        "POST /api/v1/subscriptions": {
            "body": {
                "name": "known good",
                "url": "http://127.0.0.1:9/known-good",
                "format": "teams",
                "event_types": ["incident.filed"],
                "roles": ["it"],
            }
        },
        "PATCH /api/v1/subscriptions/{subscription_id}": {
            "path_parameters": {"subscription_id": 1},
            "body": {"version": 1, "name": "renamed"},
        },
        "POST /api/v1/subscriptions/{subscription_id}/rotate-secret": {
            "path_parameters": {"subscription_id": 2},
            "body": {"version": 1},
        },
        "POST /api/v1/subscriptions/{subscription_id}/test": {
            "path_parameters": {"subscription_id": 2}
        },
        "DELETE /api/v1/subscriptions/{subscription_id}": {
            "path_parameters": {"subscription_id": 3}
        },
        "GET /api/v1/outbox/{message_id}": {"path_parameters": {"message_id": 2}},
        "POST /api/v1/outbox/{message_id}/retry": {"path_parameters": {"message_id": 1}},
    }
)
# Handovers (seed_handovers): handover 1 of seed3 (employee 4) is open: items 1-3 transfer custody
# of its own accounts (item 3's transfer is pending), 4 rotates a credential, 5 revokes a grant,
# 6 exports its connection, 7 is the attestation, 8 is template 1. Handover 2 (seed4) awaits
# sign-off; 3 (seed5) is a draft; 4 (seed6) is open; 5 (seed7) is completed, its attestation with
# document 1; 6 (seed10) is open with attestation link 1; seed8 and seed9 (employee 10, who
# starts one) have none. Accounts 1-5 and their seed
# are not touched; seed3 holds account 6, the first of its own.
KNOWN_GOOD.update(
    {
        "GET /api/v1/employees/{employee_id}/footprint": {"path_parameters": {"employee_id": 2}},
        "POST /api/v1/handovers": {
            # Not seed2 (3), the successor of handover 1: starting one records the leaving date,
            # and custody no longer moves to someone leaving.
            "body": {"employee_id": 10, "successor_id": 1, "leaving_date": "2030-01-31"}
        },
        "POST /api/v1/handovers/bulk": {
            "body": {
                "file": b"work_email,leaving_date,successor_email\n"
                b"seed8@example.com,2030-02-28,seed0@example.com\n"
            },
            "media_type": "multipart/form-data",
        },
        "GET /api/v1/handovers/{handover_id}": {"path_parameters": {"handover_id": 1}},
        "POST /api/v1/handovers/{handover_id}/open": {
            "path_parameters": {"handover_id": 3},
            "body": {"version": 1},
        },
        "POST /api/v1/handovers/{handover_id}/cancel": {
            "path_parameters": {"handover_id": 4},
            "body": {"version": 2, "reason": "stays"},
        },
        "POST /api/v1/handovers/{handover_id}/sign-off": {
            "path_parameters": {"handover_id": 2},
            "body": {"team": "hr"},
        },
        "POST /api/v1/handovers/{handover_id}/exceptions": {
            "path_parameters": {"handover_id": 1},
            "body": {"holding": "custodian", "account_id": 6, "reason": "seed keeps it"},
        },
        "GET /api/v1/handovers/{handover_id}/certificate": {"path_parameters": {"handover_id": 5}},
        "GET /api/v1/handovers/{handover_id}/certificate.html": {
            "path_parameters": {"handover_id": 5}
        },
        "GET /api/v1/handovers/{handover_id}/documents/{document_id}": {
            "path_parameters": {"handover_id": 5, "document_id": 1}
        },
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/attest": {
            "path_parameters": {"handover_id": 1, "item_id": 7},
            "body": {"typed_name": "Seed 3", "signed_on": "2024-01-31"},
        },
        "GET /api/v1/handovers/{handover_id}/items/{item_id}": {
            "path_parameters": {"handover_id": 1, "item_id": 1}
        },
        "GET /api/v1/handovers/{handover_id}/attestation-links": {
            "path_parameters": {"handover_id": 6}
        },
        "POST /api/v1/handovers/{handover_id}/attestation-links": {
            "path_parameters": {"handover_id": 6},
            "body": {"days": 3},
        },
        "POST /api/v1/handovers/{handover_id}/attestation-links/{link_id}/revoke": {
            "path_parameters": {"handover_id": 6, "link_id": 1}
        },
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/complete": {
            "path_parameters": {"handover_id": 1, "item_id": 8},
            "body": {"note": "done"},
        },
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/waive": {
            "path_parameters": {"handover_id": 1, "item_id": 4},
            "body": {"reason": "platform closed"},
        },
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/reassign": {
            "path_parameters": {"handover_id": 1, "item_id": 1},
            "body": {"version": 1, "assignee_id": 1},
        },
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/transfer": {
            "path_parameters": {"handover_id": 1, "item_id": 2},
            "body": {},
        },
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/answer": {
            "path_parameters": {"handover_id": 1, "item_id": 3},
            "body": {"accept": True},
        },
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/revoke": {
            "path_parameters": {"handover_id": 1, "item_id": 5},
            "body": {},
        },
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/export": {
            "path_parameters": {"handover_id": 1, "item_id": 6}
        },
        "POST /api/v1/handovers/templates": {"body": {"title": "Known good template"}},
        "PATCH /api/v1/handovers/templates/{template_id}": {
            "path_parameters": {"template_id": 1},
            "body": {"version": 1, "day_offset": -2},
        },
    }
)
# Post approval's seed (seed_posts): account 1 needs approval with the admin as approver, and
# the admin (seed0) and Eve (staff, seed1) hold grants on it. Post requests 1 and 2 are Eve's,
# waiting; 3-7 the admin's: 3 waiting, 4 sent back, 5 waiting, 6 and 7 with photo 1 and 2; 8 on
# account 2, which needs no approval, approved at once.
KNOWN_GOOD.update(
    {
        "POST /api/v1/post-requests": {"body": {"account_id": 1, "text": "Known good post"}},
        "POST /api/v1/post-requests/{post_request_id}/approve": {
            "path_parameters": {"post_request_id": 1},
            "body": {"version": 1},
        },
        "POST /api/v1/post-requests/{post_request_id}/send-back": {
            "path_parameters": {"post_request_id": 2},
            "body": {"version": 1, "reason": "Say which office."},
        },
        "PATCH /api/v1/post-requests/{post_request_id}": {
            "path_parameters": {"post_request_id": 3},
            "body": {"version": 1, "text": "Edited before approval"},
        },
        "POST /api/v1/post-requests/{post_request_id}/resubmit": {
            "path_parameters": {"post_request_id": 4},
            "body": {"version": 2, "text": "Changed as asked"},
        },
        "POST /api/v1/post-requests/{post_request_id}/media": {
            "path_parameters": {"post_request_id": 5},
            "body": {"file": jpeg_with_gps(), "version": "1"},
            "media_type": "multipart/form-data",
        },
        "DELETE /api/v1/post-requests/{post_request_id}/media/{media_id}": {
            "path_parameters": {"post_request_id": 6, "media_id": 1},
            "query": {"version": 1},
        },
        "GET /api/v1/post-requests/{post_request_id}/media/{media_id}": {
            "path_parameters": {"post_request_id": 7, "media_id": 2}
        },
        "POST /api/v1/post-requests/{post_request_id}/posted": {
            "path_parameters": {"post_request_id": 8},
            "body": {"version": 2, "url": "https://x.com/seed_account2/status/1"},
        },
        "PUT /api/v1/accounts/{account_id}/post-approval": {
            "path_parameters": {"account_id": 3},
            "body": {"requires_approval": False, "approver_ids": [], "version": 0},
        },
    }
)
PROBLEM_REF = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
SCIM_ERROR_REF = {"application/scim+json": {"schema": {"$ref": "#/components/schemas/ScimError"}}}


async def seed_accounts(settings: Settings, actor: Actor, employees: list[int]) -> None:
    """Accounts 1-5 with a credential, a grant and two pending transfers (see KNOWN_GOOD)."""
    from accounts.flows import transfer_custody
    from accounts.services import add_grant, create_account, set_credential
    from register.keys import load_secrets

    keyring = load_secrets(settings, announce=False).keyring
    for n in range(1, 6):
        await create_account(
            actor=actor,
            settings=settings,
            data={
                "platform": "x",
                "handle": f"seed_account{n}",
                "custodian_id": employees[0],
                "backup_custodian_id": employees[1],
            },
        )
    await set_credential(
        actor=actor,
        keyring=keyring,
        settings=settings,
        account_id=1,
        password="seed-password",
        totp_seed="JBSWY3DPEHPK3PXPJBSWY3DP",
    )
    await add_grant(actor=actor, account_id=1, employee_id=employees[1], level="editor")
    for account_id in (4, 5):
        await transfer_custody(
            actor=actor, account_id=account_id, role="backup", to_employee_id=employees[2]
        )


async def seed_posts(
    settings: Settings, actor: Actor, employees: list[int], admin: dict[str, Any]
) -> None:
    """Post requests 1-8 and photos 1-2 (see KNOWN_GOOD), after seed_accounts."""
    from accounts.posts import flows
    from accounts.posts.services import set_approval
    from accounts.services import add_grant
    from register.keys import load_secrets

    keyring = load_secrets(settings, announce=False).keyring
    for account_id in (1, 2):
        await add_grant(
            actor=actor, account_id=account_id, employee_id=employees[0], level="editor"
        )
    eve, _ = await create_user(
        actor=actor,
        email="fuzz-eve@example.com",
        role=Role.staff,
        password=PASSWORD,
        must_change_password=False,
        employee_id=employees[1],
    )
    await set_approval(
        actor=actor,
        account_id=1,
        requires_approval=True,
        approvers=[admin["id"], eve["id"]],
        version=0,
    )
    as_eve = Actor(user_id=eve["id"], email=eve["email"], role=Role.staff, employee_id=employees[1])
    as_admin = Actor(
        user_id=admin["id"], email=admin["email"], role=Role.admin, employee_id=employees[0]
    )
    photo = jpeg_with_gps()
    for who, text, photos, account_id in (
        (as_eve, "Seed post one", [], 1),
        (as_eve, "Seed post two", [], 1),
        (as_admin, "Seed post three", [], 1),
        (as_admin, "Seed post four", [], 1),
        (as_admin, "Seed post five", [], 1),
        (as_admin, "Seed post six", [("six.jpg", photo)], 1),
        (as_admin, "Seed post seven", [("seven.jpg", photo)], 1),
        (as_admin, "Seed post eight", [], 2),
    ):
        await flows.submit(
            actor=who, keyring=keyring, account_id=account_id, text=text, files=photos
        )
    await flows.send_back(actor=as_eve, post_request_id=4, version=1, reason="Shorter, please.")


async def seed_handovers(settings: Settings, actor: Actor, employees: list[int]) -> None:
    """Employees seed3-seed10, accounts of seed3, handovers 1-6, template 1, document 1, attestation
    link 1 (KNOWN_GOOD)."""
    import base64
    import datetime as dt

    from accounts.connections.tables import Connection, ConnectionImport
    from accounts.handovers import flows, services
    from accounts.services import add_grant, create_account, set_credential
    from register.keys import load_secrets

    secrets = load_secrets(settings, announce=False)
    signers = [
        Actor(user_id=900001 + n, email=f"signer{n}@example.com", role=Role.admin) for n in range(2)
    ]
    more = [
        (
            await create_employee(
                actor=actor, data={"name": f"Seed {n}", "work_email": f"seed{n}@example.com"}
            )
        )["id"]
        for n in range(3, 11)
    ]
    leaver, successor = more[0], employees[2]
    held = []
    for n, (custodian, backup) in enumerate(
        ((leaver, None), (employees[0], leaver), (employees[0], leaver)), start=1
    ):
        account = await create_account(
            actor=actor,
            settings=settings,
            data={
                "platform": "instagram",
                "handle": f"handover_seed{n}",
                "custodian_id": custodian,
                "backup_custodian_id": backup,
            },
        )
        held.append(account["id"])
    await set_credential(
        actor=actor,
        keyring=secrets.keyring,
        settings=settings,
        account_id=held[0],
        password="seed-password",
    )
    await add_grant(actor=actor, account_id=held[1], employee_id=leaver, level="editor")
    stamp = dt.datetime.now(dt.UTC)
    for owner in (leaver, more[4], more[7]):
        imported = await ConnectionImport.insert(
            ConnectionImport(employee=owner, sha256="1" * 64, rows=1, imported_at=stamp)
        )
        await Connection.insert(
            Connection(
                owner=owner,
                first_name="Dee",
                last_name="Seed",
                profile_url=f"https://www.linkedin.com/in/dee-seed-{owner}",
                connected_on=dt.date(2024, 1, 5),
                source_import=imported[0]["id"],
            )
        )
    await services.create_template(actor=actor, data={"title": "Return the laptop"})

    async def start(employee: int, open_now: bool = True) -> dict[str, Any]:
        return await flows.start_handover(
            actor=actor,
            settings=settings,
            employee_id=employee,
            successor_id=successor,
            leaving_date=dt.date(2030, 6, 30),
            open_now=open_now,
        )

    one = await start(leaver)
    kinds = [(i["id"], i["kind"]) for i in one["items"]]
    assert kinds == list(
        enumerate(
            ["transfer_custody"] * 3
            + [
                "rotate_credential",
                "revoke_grant",
                "export_connections",
                "attest_deletion",
                "template",
            ],
            start=1,
        )
    ), kinds
    await flows.transfer_item(actor=actor, handover_id=1, item_id=3)

    async def close_all(handover: dict[str, Any]) -> None:
        for item in (await flows.get_handover(handover_id=handover["id"]))["items"]:
            if item["state"] != "open":
                continue
            await flows.waive_item(
                actor=actor,
                settings=settings,
                handover_id=handover["id"],
                item_id=item["id"],
                reason="seed",
            )

    await close_all(await start(more[1]))
    await start(more[2], open_now=False)
    await start(more[3])
    five = await start(more[4])
    attest = next(i for i in five["items"] if i["kind"] == "attest_deletion")
    await flows.attest_item(
        actor=actor,
        handover_id=five["id"],
        item_id=attest["id"],
        typed_name="Seed 7",
        signed_on=dt.date.today(),
        pdf_base64=base64.b64encode(b"%PDF-1.4 seed").decode(),
    )
    await close_all(five)
    for signer, team in zip(signers, ("hr", "it"), strict=True):
        await flows.sign_off(
            actor=signer, signing_key=secrets.signing_key, handover_id=five["id"], team=team
        )
    assert five["id"] == 5
    # Handover 6 (seed10) is open with its attestation open: link 1 is made for it.
    six = await start(more[7])
    assert six["id"] == 6
    await flows.create_attestation_link(
        actor=actor, secret=secrets.secret_key, handover_id=six["id"], days=7
    )


async def seed_incidents(settings: Settings, actor: Actor) -> None:
    """Incidents 1-6, tasks, evidence 1-2, platform report 1 and a review (see KNOWN_GOOD)."""
    from incidents import flows, services
    from incidents.enums import EvidenceKind, Status, TaskState
    from register.keys import load_secrets

    keyring = load_secrets(settings, announce=False).keyring

    async def finish(incident_id: int, keys: tuple[str, ...]) -> None:
        for task in await services.list_tasks(incident_id=incident_id):
            if task["step_key"] in keys:
                await services.finish_task(
                    actor=actor,
                    incident_id=incident_id,
                    task_id=task["id"],
                    state=TaskState.done,
                    note="",
                )

    def body(category: str) -> dict[str, Any]:
        return {"title": f"Seed {category}", "category": category, "severity": "SEV3"}

    one = await services.file_incident(actor=actor, data=body("location_reveal"))
    await finish(one["id"], ("acknowledge", "capture", "person_at_risk"))
    await services.file_incident(actor=actor, data=body("erroneous_post"))
    three = await services.file_incident(actor=actor, data=body("impersonation"))
    for title in ("Seed skippable", "Seed assignable"):
        await services.add_task(actor=actor, incident_id=three["id"], data={"title": title})
    await services.add_report(actor=actor, incident_id=three["id"], data={"platform": "x"})
    for n in (4, 5):
        made = await services.file_incident(actor=actor, data=body("erroneous_post"))
        assert made["id"] == n
        await finish(n, ("acknowledge", "capture", "decide", "correction"))
        row = await services.incident_row(n)
        await flows.change_status(
            actor=actor, incident_id=n, status=Status.contained, version=row["version"]
        )
    fields = ("summary", "impact", "root_cause", "went_well", "to_improve")
    await services.save_review(
        actor=actor, incident_id=4, version=0, data=dict.fromkeys(fields, "x")
    )
    await services.file_incident(actor=actor, data=body("spam_unauthorised"))
    await services.add_evidence(
        actor=actor,
        keyring=keyring,
        incident_id=1,
        kind=EvidenceKind.url,
        url="https://example.com/a",
    )
    await services.add_evidence(
        actor=actor,
        keyring=keyring,
        incident_id=1,
        kind=EvidenceKind.file,
        content=b"png",
        filename="a.png",
    )
    assert (await services.list_tasks(incident_id=3))[0]["id"] == 14
    assert [t["id"] for t in await services.list_tasks(incident_id=3)][-2:] == [21, 22]


async def seed_connections(actor: Actor, employee_id: int) -> None:
    """Employee 2 gets a start date and an import of three connections (see KNOWN_GOOD)."""
    import datetime as dt

    from accounts.connections.files import import_connections
    from register.staff.services import update_employee

    await update_employee(
        actor=actor, employee_id=employee_id, version=1, changes={"start_date": dt.date(2020, 1, 6)}
    )
    await import_connections(
        actor=actor,
        employee_id=employee_id,
        content=b"First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
        b"Ana,Seed,https://www.linkedin.com/in/ana-seed,seeded@example.org,Acme,CFO,07 Dec 2023\n"
        b"Bo,Seed,https://www.linkedin.com/in/bo-seed,,Initech,Recruiter,08 Dec 2023\n"
        b"Cy,Seed,https://www.linkedin.com/in/cy-seed,,Hooli,Buyer,09 Dec 2023\n",
    )


async def seed_notifications(settings: Settings, actor: Actor) -> None:
    """Subscriptions 1-3 and outbox messages 1 (dead) and 2 (pending) (see KNOWN_GOOD)."""
    from register.keys import load_secrets
    from register.notifications.enums import OutboxState
    from register.notifications.flows import queue_test
    from register.notifications.services import create_subscription
    from register.notifications.tables import OutboxMessage

    keyring = load_secrets(settings, announce=False).keyring
    for n in (1, 2, 3):
        await create_subscription(
            actor=actor,
            keyring=keyring,
            settings=settings,
            data={
                "name": f"seed {n}",
                "url": f"http://127.0.0.1:9/seed{n}",
                "format": "json",
                "event_types": ["test"],
            },
        )
    dead = await queue_test(actor=actor, subscription_id=1)
    pending = await queue_test(actor=actor, subscription_id=2)
    assert (dead["id"], pending["id"]) == (1, 2)
    await OutboxMessage.update(
        {OutboxMessage.state: OutboxState.dead.value, OutboxMessage.due_at: None}
    ).where(OutboxMessage.id == 1)


@pytest.fixture
async def fuzz_seed(settings: Settings) -> dict[str, Any]:
    """An admin with a bearer token plus a few rows, written before the fuzzed app starts."""
    engine: Any = make_engine(settings.database_url)
    bind_engine(engine)
    # The seed is written before any app has started: the parts plugged in, and the audit trail
    # signed with the keys the app will load.
    extensions.load()
    secrets = load_secrets(settings, announce=False)
    audit.configure(secrets.signing_key, secrets.audit_mac_key, settings.audit_witness_file)
    await engine.start_connection_pool()
    system = Actor.system("fuzz")
    try:
        # Low ids exist, so hypothesis' favourite small integers reach the 200 and 204 answers.
        employees = [
            (
                await create_employee(
                    actor=system, data={"name": f"Seed {n}", "work_email": f"seed{n}@example.com"}
                )
            )["id"]
            for n in range(3)
        ]
        admin, _ = await create_user(
            actor=system,
            email="fuzz-admin@example.com",
            role=Role.admin,
            password=PASSWORD,
            must_change_password=False,
            employee_id=employees[0],
        )
        await seed_accounts(settings, system, employees)
        await seed_posts(settings, system, employees, admin)
        await seed_incidents(settings, system)
        await seed_connections(system, employees[1])
        await seed_notifications(settings, system)
        await seed_handovers(settings, system, employees)
        for n in range(3):
            other, _ = await create_user(
                actor=system,
                email=f"seed{n}@example.com",
                role=Role.hr,
                password=PASSWORD,
                must_change_password=False,
            )
            await issue_token(actor=system, user_id=other["id"], name="decoy", expires_in_days=30)
        token = await issue_token(actor=system, user_id=admin["id"], name="fuzz", expires_in_days=1)
        scim = await seed_scim(settings, system)
        policies = await seed_policies(system, admin["id"])
        approver = await seed_approver_handover(settings, system, admin)
    finally:
        await engine.close_connection_pool()
    return {
        "admin_id": admin["id"],
        "token_id": token.id,
        "headers": {"Authorization": f"Bearer {token.token}"},
        "scim": scim,
        "policies": policies,
        "approver": approver,
    }


async def seed_approver_handover(
    settings: Settings, actor: Actor, admin: dict[str, Any]
) -> dict[str, Any]:
    """A leaver who approves an account's posts and has one open there, their handover open: the
    ids of its replace_post_approver and withdraw_post_requests items (last, so no id moves)."""
    from accounts.handovers import flows as handovers
    from accounts.posts import flows as posts
    from accounts.posts.services import set_approval
    from accounts.services import add_grant, create_account
    from register.keys import load_secrets

    leaver = await create_employee(
        actor=actor, data={"name": "Seed approver", "work_email": "seed-approver@example.com"}
    )
    user, _ = await create_user(
        actor=actor,
        email="seed-approver@example.com",
        role=Role.comms,
        password=PASSWORD,
        must_change_password=False,
        employee_id=leaver["id"],
    )
    account = await create_account(
        actor=actor,
        settings=settings,
        data={"platform": "instagram", "handle": "approver_seed", "custodian_id": 1},
    )
    await add_grant(actor=actor, account_id=account["id"], employee_id=leaver["id"], level="editor")
    # Two approvers: the leaver leaves without a replacement named (null), the admin carries on.
    await set_approval(
        actor=actor,
        account_id=account["id"],
        requires_approval=True,
        approvers=[user["id"], admin["id"]],
        version=0,
    )
    await posts.submit(
        actor=Actor(
            user_id=user["id"], email=user["email"], role=Role.comms, employee_id=leaver["id"]
        ),
        keyring=load_secrets(settings, announce=False).keyring,
        account_id=account["id"],
        text="The approver's own post",
    )
    handover = await handovers.start_handover(
        actor=actor,
        settings=settings,
        employee_id=leaver["id"],
        successor_id=1,
        leaving_date=dt.date(2030, 6, 30),
        open_now=True,
    )
    items = {i["kind"]: i["id"] for i in handover["items"]}
    return {
        "handover_id": handover["id"],
        "approver_item": items["replace_post_approver"],
        "withdraw_item": items["withdraw_post_requests"],
    }


def approver_known_good(seed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The leaver's post approval and open post, each handed over through its own item."""
    return {
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/approver": {
            "path_parameters": {
                "handover_id": seed["handover_id"],
                "item_id": seed["approver_item"],
            },
            "body": {"replacement_user_id": None, "note": "the admin carries on"},
        },
        "POST /api/v1/handovers/{handover_id}/items/{item_id}/withdraw-posts": {
            "path_parameters": {
                "handover_id": seed["handover_id"],
                "item_id": seed["withdraw_item"],
            },
            "body": {"reason": "leaving"},
        },
    }


async def seed_policies(actor: Actor, owner_id: int) -> dict[str, Any]:
    """Policies to publish, draft and acknowledge (each request its own), and a course."""
    from register.policies import flows
    from register.policies.services import create_course, create_policy, save_draft

    today = dt.date.today()
    text = {"body": "# Seed", "effective_on": today, "review_by": today + dt.timedelta(days=90)}
    made = [
        await create_policy(
            actor=actor,
            data={"title": f"Seed {n}", "kind": "job_use", "owner_id": owner_id, **text},
        )
        for n in range(3)
    ]
    # The first is published and has a second draft waiting; the third is published to acknowledge.
    for policy in (made[0], made[2]):
        await flows.publish_version(
            actor=actor, version_id=policy["draft"]["id"], version=policy["draft"]["version"]
        )
    waiting = await save_draft(actor=actor, policy_id=made[0]["id"], data=text)
    course = await create_course(actor=actor, data={"title": "Seed course", "renewal_months": 12})
    return {
        "owner_id": owner_id,
        "edited": made[0]["id"],
        "waiting": waiting["id"],
        "drafted": made[1]["id"],
        "to_acknowledge": made[2]["draft"]["id"],
        "course": course["id"],
    }


def policies_known_good(seed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One request per policy and training operation that answers 2xx."""
    today = dt.date.today().isoformat()
    return {
        "POST /api/v1/policies": {
            "body": {
                "title": "Known good",
                "kind": "personal_use",
                "owner_id": seed["owner_id"],
                "body": "# Known good",
                "effective_on": today,
                "review_by": today,
            }
        },
        "PATCH /api/v1/policies/{policy_id}": {
            "path_parameters": {"policy_id": seed["edited"]},
            "body": {"version": 1, "title": "Seed renamed"},
        },
        "POST /api/v1/policies/{policy_id}/draft": {
            "path_parameters": {"policy_id": seed["drafted"]},
            "body": {"body": "# Redrafted", "effective_on": today, "review_by": today},
        },
        "POST /api/v1/policies/versions/{version_id}/publish": {
            "path_parameters": {"version_id": seed["waiting"]},
            "body": {"version": 1},
        },
        "POST /api/v1/policies/versions/{version_id}/acknowledge": {
            "path_parameters": {"version_id": seed["to_acknowledge"]},
        },
        "POST /api/v1/training/courses": {"body": {"title": "Known good course"}},
        "PATCH /api/v1/training/courses/{course_id}": {
            "path_parameters": {"course_id": seed["course"]},
            "body": {"version": 1, "renewal_months": 6},
        },
        "POST /api/v1/training/completions": {
            "body": {"course_id": seed["course"], "employee_id": 1, "completed_on": today}
        },
        "POST /api/v1/training/completions/imports": {
            "body": {
                "file": f"email,course,completed_on\nseed1@example.com,Seed course,{today}\n".encode()
            },
            "media_type": "multipart/form-data",
        },
    }


async def seed_scim(settings: Settings, actor: Actor) -> dict[str, Any]:
    """A SCIM token, and a user and a group to read, change and delete (see scim_known_good)."""
    from register.scim import flows
    from register.scim.services import create_token

    _, token = await create_token(actor=actor, name="fuzz provider")
    made: dict[str, Any] = {"headers": {"Authorization": f"Bearer {token}"}}
    for name in ("kept", "deleted"):
        user = await flows.create_user(
            actor=actor, settings=settings, body={"userName": f"{name}@example.com"}, base=""
        )
        group = await flows.create_group(
            actor=actor, settings=settings, body={"displayName": f"Group {name}"}, base=""
        )
        made[name] = {"user": user["id"], "group": group["id"]}
    return made


def scim_known_good(seed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One request per SCIM operation that answers 2xx: random bodies are rarely SCIM resources."""
    kept, deleted = seed["kept"], seed["deleted"]
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "externalId", "value": "x1"}],
    }
    known: dict[str, dict[str, Any]] = {
        "POST /scim/v2/Users": {"body": {"userName": "known-good@example.com"}},
        "POST /scim/v2/Groups": {"body": {"displayName": "Known good"}},
        "GET /scim/v2/Schemas/{urn}": {
            "path_parameters": {"urn": "urn:ietf:params:scim:schemas:core:2.0:User"}
        },
        "GET /scim/v2/ResourceTypes/{name}": {"path_parameters": {"name": "User"}},
    }
    for kind, single in (("Users", "user"), ("Groups", "group")):
        body = (
            {"userName": "kept@example.com"} if single == "user" else {"displayName": "Group kept"}
        )
        known[f"GET /scim/v2/{kind}/{{scim_id}}"] = {"path_parameters": {"scim_id": kept[single]}}
        known[f"PUT /scim/v2/{kind}/{{scim_id}}"] = {
            "path_parameters": {"scim_id": kept[single]},
            "body": body,
        }
        known[f"PATCH /scim/v2/{kind}/{{scim_id}}"] = {
            "path_parameters": {"scim_id": kept[single]},
            "body": patch,
        }
        known[f"DELETE /scim/v2/{kind}/{{scim_id}}"] = {
            "path_parameters": {"scim_id": deleted[single]}
        }
        known[f"POST /scim/v2/{kind}/.search"] = {"body": {"filter": "id pr"}}
    known["POST /scim/v2/.search"] = {"body": {"count": 1}}
    return known


@pytest.fixture
def fuzz_schema(settings: Settings, fuzz_seed: dict[str, Any]) -> Iterator[Any]:
    """The document served at /schema by a fresh app that only schemathesis' client drives."""
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi(
        "/schema/openapi.json", app, headers=fuzz_seed["headers"]
    )
    yield schema
    # Runs the app's shutdown (final audit checkpoint) and closes its pool on schemathesis' loop.
    schemathesis_asgi.shutdown_lifespans()


def example_seed(label: str) -> int:
    """A fixed seed per operation and database: reruns repeat, the two databases differ."""
    backend = os.environ.get("REGISTER_TEST_DATABASE", "sqlite")
    return int.from_bytes(hashlib.sha256(f"{backend} {label}".encode()).digest()[:8], "big")


def test_every_operation_answers_as_documented(fuzz_schema: Any, fuzz_seed: dict[str, Any]) -> None:
    """Each generated request gets a documented status, content type and body, never a 5xx."""
    failures: dict[str, str] = {}
    fuzzed: collections.Counter[str] = collections.Counter()
    succeeded: collections.Counter[str] = collections.Counter()
    # A copy per request: schemathesis adds its own headers to the dict it is given. SCIM's
    # operations are the identity provider's: they are sent with its SCIM token.
    known_good = {
        **KNOWN_GOOD,
        **scim_known_good(fuzz_seed["scim"]),
        **policies_known_good(fuzz_seed["policies"]),
        **approver_known_good(fuzz_seed["approver"]),
    }

    def headers_for(label: str) -> dict[str, str]:
        scim = label.split(" ", 1)[1].startswith("/scim/")
        return dict(fuzz_seed["scim"]["headers"] if scim else fuzz_seed["headers"])

    headers = fuzz_seed["headers"]
    results = list(fuzz_schema.get_all_operations())
    assert [str(r.err()) for r in results if isinstance(r, Err)] == [], (
        "operations schemathesis cannot read"
    )
    operations = [r.ok() for r in results]
    # The core alone serves 20 operations; the domain apps add theirs.
    assert len(operations) >= 20, [op.label for op in operations]

    def fuzzer(label: str, method: str) -> Any:
        def fuzz(case: Any) -> None:
            if (
                case.path_parameters
                and case.path_parameters.get("token_id") == fuzz_seed["token_id"]
            ):
                # Revoking the token the run signs in with would turn every later case into a 401;
                # hypothesis draws another id instead, and the decoy tokens still get revoked.
                hypothesis.reject()
            response = case.call_and_validate(headers=headers_for(label), checks=CHECKS)
            if case.meta is not None and case.meta.phase.name.value == "fuzzing":
                fuzzed[label] += 1
            if 200 <= response.status_code < 300 and case.method.upper() == method:
                succeeded[label] += 1

        return fuzz

    # Every known-good request first: fuzzed changes (a new custodian, a retired account) must not
    # turn them into refusals; the sign-in also comes before the fuzzer's failures throttle it.
    for operation in operations:
        label = operation.label
        if label in known_good:
            try:
                response = operation.Case(**known_good[label]).call_and_validate(
                    headers=headers_for(label), checks=CHECKS
                )
                assert 200 <= response.status_code < 300, f"{response.status_code} {response.text}"
                succeeded[label] += 1
            except (Exception, BaseExceptionGroup) as exc:
                failures[label] = str(exc)

    for operation in operations:
        label = operation.label
        test = create_test(
            operation=operation,
            test_func=fuzzer(label, operation.method.upper()),
            config=HypothesisTestConfig(
                project=fuzz_schema.config,
                modes=[HypothesisTestMode.COVERAGE, HypothesisTestMode.FUZZING],
                settings=FUZZ_SETTINGS,
                explicit_settings=FUZZ_SETTINGS,
            ),
        )
        try:
            hypothesis.seed(example_seed(label))(test)()
        except (Exception, BaseExceptionGroup) as exc:
            failures[label] = str(exc)

    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
    # An operation without parameters, body or credentials (/health, /ready: open to all, so
    # `security: []`) can be sent one way only, and hypothesis sends it once.
    fixed = {op.label for op in operations if not len(op.body) and not list(op.iter_parameters())}
    assert {
        op.label: fuzzed[op.label]
        for op in operations
        if fuzzed[op.label] < (1 if op.label in fixed else EXAMPLES)
    } == {}
    assert [op.label for op in operations if not succeeded[op.label]] == [], (
        "operations never answered 2xx"
    )
    with schemathesis_asgi.get_client(fuzz_schema.app) as client:
        # The admin the run signs in as is still active, and its token still valid.
        assert (
            client.get("/api/v1/auth/me", headers=dict(headers)).json()["id"]
            == fuzz_seed["admin_id"]
        )


def _documented_path(path: str) -> str:
    return re.sub(r"\{(\w+):[^}]+\}", r"{\1}", path.rstrip("/") or "/")


async def test_schema_documents_every_route(app: Litestar, client: httpx.AsyncClient) -> None:
    """Every route and method is in the document, with a 2xx answer and its problem answers."""
    resp = await client.get("/schema/openapi.json")
    assert resp.status_code == 200, resp.text
    document = resp.json()
    documented = {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "put", "post", "patch", "delete", "head"}
    }
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            if not handler.resolve_include_in_schema():
                # Litestar's own documentation pages and automatic OPTIONS answers.
                continue
            for method in handler.http_methods:
                key = (method, _documented_path(route.path))
                served.add(key)
                operation = documented.get(key)
                assert operation is not None, f"{key} is served but not documented"
                codes = {int(code) for code in operation["responses"]}
                assert any(200 <= code < 300 for code in codes), key
                scim = action_of(handler) == SCIM
                wanted = {400}
                if scim:
                    # SCIM answers its own errors: 400 names the attribute, 401 without a SCIM token.
                    wanted.add(401)
                elif action_of(handler) != PUBLIC:
                    wanted |= {401, 403, 422}
                if (operation.get("parameters") or operation.get("requestBody")) and not scim:
                    wanted.add(422)
                if "{" in key[1]:
                    wanted.add(404)
                assert wanted <= codes, f"{key} lacks {sorted(wanted - codes)}"
                for code in codes - set(range(200, 300)):
                    assert operation["responses"][str(code)].get("content") == (
                        SCIM_ERROR_REF if scim else PROBLEM_REF
                    ), (key, code)
    assert set(documented) == served, f"documented but not served: {set(documented) - served}"


async def test_values_the_database_cannot_hold_are_refused(admin: httpx.AsyncClient) -> None:
    """NUL in text and integers beyond a column are the caller's error (422), on both databases."""
    body = assert_problem(await admin.get("/api/v1/audit/events", params={"actor": "a\x00b"}), 422)
    assert body["field"] == "actor"
    assert_problem(
        await admin.get("/api/v1/employees", params={"department": "a\x00"}),
        422,
        field="department",
    )
    too_big = {"email": "big@example.com", "role": "it", "employee_id": 2**70}
    assert_problem(await admin.post("/api/v1/users", json=too_big), 422, "invalid-input")
    nul = employee_body("nul", department="Comms\x00")
    resp = await admin.post("/api/v1/employees", json=nul)
    # PostgreSQL text cannot hold NUL and says so as a 422 rather than a 500; SQLite can store
    # it, so there the answer is 201 unless the schema refuses NUL first.
    if os.environ.get("REGISTER_TEST_DATABASE", "sqlite") == "postgres":
        assert_problem(resp, 422, "invalid-input")
    else:
        assert resp.status_code in (201, 422), resp.text
