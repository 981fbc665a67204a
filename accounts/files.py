"""IT's spreadsheet in and out: inventory CSV import (all or nothing, or only a preview) and export."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Any

from accounts.enums import MfaMethod, Platform
from accounts.services import (
    ACCOUNT_FIELDS,
    account_out,
    create_account,
    normalise_handle,
    update_account,
)
from accounts.tables import SocialAccount
from register import audit
from register.actor import Actor
from register.csvfiles import (
    decode,
    normalise_header,
    parse_mapping,
    refuse_repeated_columns,
    rows_with_lines,
)
from register.db import rfc3339, write_transaction
from register.errors import Conflict, InvalidInput, InvalidValue, RegisterError
from register.i18n import N_
from register.settings import Settings
from register.staff.services import employees_by_email

EXPORT_COLUMNS = [
    "platform",
    "handle",
    "profile_url",
    "display_name",
    "department",
    "status",
    "custodian_email",
    "backup_custodian_email",
    "login_identifier",
    "mfa_method",
    "mfa_holder_email",
    "recovery_email",
    "recovery_email_company_controlled",
    "recovery_phone",
    "recovery_phone_company_controlled",
    "purpose",
    "post_approvers",
    "notes",
    "last_recertified_at",
]

SYNONYMS: dict[str, tuple[str, ...]] = {
    "platform": ("platform", "network", "socialnetwork", "site", "service", "channel"),
    "handle": (
        "handle",
        "account",
        "username",
        "accountname",
        "profileurl",
        "url",
        "profile",
        "link",
        "accounturl",
    ),
    "display_name": ("displayname", "name", "accountdisplayname", "pagename"),
    "department": ("department", "team", "owningdepartment", "dept", "businessunit"),
    "status": ("status", "accountstatus", "state"),
    "custodian_email": (
        "custodianemail",
        "custodian",
        "owner",
        "owneremail",
        "managedby",
        "accountowner",
        "responsible",
    ),
    "backup_custodian_email": (
        "backupcustodianemail",
        "backupcustodian",
        "backup",
        "backupowner",
        "deputy",
        "secondowner",
    ),
    "login_identifier": ("loginidentifier", "login", "loginemail", "signinemail", "loginusername"),
    "mfa_method": ("mfamethod", "mfa", "2fa", "twofactor", "2fametho", "2famethod"),
    "mfa_holder_email": ("mfaholderemail", "mfaholder", "2faholder", "2faphoneholder", "2fadevice"),
    "recovery_email": ("recoveryemail", "recoveryemailaddress", "backupemail"),
    "recovery_email_company_controlled": ("recoveryemailcompanycontrolled",),
    "recovery_phone": ("recoveryphone", "recoveryphonenumber", "phone", "recoverynumber"),
    "recovery_phone_company_controlled": ("recoveryphonecompanycontrolled",),
    "purpose": ("purpose", "use", "description", "whatfor"),
    "post_approvers": ("postapprovers", "approvers", "approvedby", "whoapproves"),
    "notes": ("notes", "comments", "comment", "remarks"),
}
PLATFORM_WORDS = {
    "x": Platform.x,
    "twitter": Platform.x,
    "xtwitter": Platform.x,
    "twitterx": Platform.x,
    "linkedin": Platform.linkedin_page,
    "linkedinpage": Platform.linkedin_page,
    "linkedincompanypage": Platform.linkedin_page,
    "linkedinprofile": Platform.linkedin_profile,
    "facebook": Platform.facebook_page,
    "facebookpage": Platform.facebook_page,
    "fb": Platform.facebook_page,
    "instagram": Platform.instagram,
    "ig": Platform.instagram,
    "insta": Platform.instagram,
    "youtube": Platform.youtube,
    "yt": Platform.youtube,
    "tiktok": Platform.tiktok,
    "threads": Platform.threads,
    "bluesky": Platform.bluesky,
    "bsky": Platform.bluesky,
    "mastodon": Platform.mastodon,
    "pinterest": Platform.pinterest,
    "other": Platform.other,
}
MFA_WORDS = {
    "": MfaMethod.none,
    "none": MfaMethod.none,
    "no": MfaMethod.none,
    "off": MfaMethod.none,
    "disabled": MfaMethod.none,
    "sms": MfaMethod.sms,
    "text": MfaMethod.sms,
    "textmessage": MfaMethod.sms,
    "phone": MfaMethod.sms,
    "app": MfaMethod.authenticator_app,
    "authenticator": MfaMethod.authenticator_app,
    "authenticatorapp": MfaMethod.authenticator_app,
    "totp": MfaMethod.authenticator_app,
    "googleauthenticator": MfaMethod.authenticator_app,
    "microsoftauthenticator": MfaMethod.authenticator_app,
    "hardwarekey": MfaMethod.hardware_key,
    "securitykey": MfaMethod.hardware_key,
    "yubikey": MfaMethod.hardware_key,
    "passkey": MfaMethod.hardware_key,
    "platformapp": MfaMethod.platform_app,
    "approvalinapp": MfaMethod.platform_app,
    "loginapproval": MfaMethod.platform_app,
}
TRUE_WORDS = {"yes", "y", "true", "1", "company", "x"}
# The services name people by id; an error on a line names the column the file gave them in.
COLUMN_OF = {
    "custodian_id": "custodian_email",
    "backup_custodian_id": "backup_custodian_email",
    "mfa_holder_id": "mfa_holder_email",
}


# What a preview lists of each account an import creates or changes (never its id or timestamps).
CHANGE_FIELDS = ("profile_url", *ACCOUNT_FIELDS)


class _Previewed(Exception):
    """Raised inside the import's transaction to undo everything a preview did."""

    def __init__(self, summary: dict[str, Any]) -> None:
        super().__init__("preview")
        self.summary = summary


def _field_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields an import sets on a new account, or changes on an existing one: old and new."""
    if before is None:
        return [
            {"field": f, "old": None, "new": after[f]}
            for f in CHANGE_FIELDS
            if after.get(f) not in (None, "", False)
        ]
    return [
        {"field": f, "old": before.get(f), "new": after.get(f)}
        for f in CHANGE_FIELDS
        if before.get(f) != after.get(f)
    ]


def plan_digest(rows: int, unchanged: int, changes: list[dict[str, Any]]) -> str:
    """SHA-256 of what an import does: apply a preview only if it would still do exactly that."""
    # A created account's id is left out: a preview's (rolled back) insert may take another.
    plan = {
        "rows": rows,
        "unchanged": unchanged,
        "changes": [
            {**c, "account_id": c["account_id"] if c["action"] == "update" else None}
            for c in changes
        ],
    }
    text = json.dumps(plan, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _platform(raw: str, handle: str) -> Platform:
    word = normalise_header(raw)
    if word in PLATFORM_WORDS:
        platform = PLATFORM_WORDS[word]
    elif word in Platform._value2member_map_:
        platform = Platform(word)
    elif not word:
        low = handle.lower()
        guesses = [
            ("linkedin.com/in/", Platform.linkedin_profile),
            ("linkedin.com", Platform.linkedin_page),
            ("twitter.com", Platform.x),
            ("x.com", Platform.x),
            ("instagram.com", Platform.instagram),
            ("facebook.com", Platform.facebook_page),
            ("youtube.com", Platform.youtube),
            ("tiktok.com", Platform.tiktok),
            ("threads.net", Platform.threads),
            ("bsky.app", Platform.bluesky),
            ("pinterest.", Platform.pinterest),
        ]
        platform = next((p for marker, p in guesses if marker in low), None)  # type: ignore[assignment]
        if platform is None:
            raise InvalidValue(N_("platform is blank and cannot be told from the handle"))
    else:
        raise InvalidValue(N_("unknown platform '%(platform)s'"), params={"platform": raw})
    if platform == Platform.linkedin_page and "/in/" in handle:
        platform = Platform.linkedin_profile
    return platform


async def export_csv() -> str:
    """Every account as CSV in the inventory layout (custodians by e-mail; no secrets)."""
    emails = {r["id"]: email for email, r in (await employees_by_email()).items()}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in await SocialAccount.select().order_by(SocialAccount.id):
        writer.writerow(
            [
                row["platform"],
                row["handle"],
                row["profile_url"],
                row["display_name"],
                row["department"],
                row["status"],
                emails.get(row["custodian"], ""),
                emails.get(row["backup_custodian"], ""),
                row["login_identifier"],
                row["mfa_method"],
                emails.get(row["mfa_holder"], ""),
                row["recovery_email"],
                "yes" if row["recovery_email_company_controlled"] else "no",
                row["recovery_phone"],
                "yes" if row["recovery_phone_company_controlled"] else "no",
                row["purpose"],
                row["post_approvers"],
                row["notes"],
                rfc3339(row["last_recertified_at"]) if row["last_recertified_at"] else "",
            ]
        )
    return out.getvalue()


def _parse_mapping(mapping: Any) -> dict[str, str]:
    value = parse_mapping(mapping)
    unknown = [v for v in value.values() if v not in SYNONYMS]
    if unknown:
        raise InvalidInput(
            N_("mapping names unknown fields %(unknown)s; fields are: %(value)s"),
            field="mapping",
            params={"unknown": unknown, "value": ", ".join(SYNONYMS)},
        )
    return value


def _columns(headers: list[str], explicit: dict[str, str]) -> dict[int, str]:
    norm = [normalise_header(h) for h in headers]
    explicit_norm = {normalise_header(k): v for k, v in explicit.items()}
    result = {i: explicit_norm[h] for i, h in enumerate(norm) if h in explicit_norm}
    taken = set(result.values())
    for field, names in SYNONYMS.items():
        if field in taken:
            continue
        for i, h in enumerate(norm):
            if i not in result and h in names:
                result[i] = field
                taken.add(field)
                break
    refuse_repeated_columns(headers, result)
    if "handle" not in taken:
        raise InvalidInput(
            N_("no handle or URL column found among the headers %(headers)s; pass a mapping"),
            field="file",
            params={"headers": headers},
        )
    if "custodian_email" not in taken:
        raise InvalidInput(
            N_("no custodian column found among the headers %(headers)s; pass a mapping"),
            field="file",
            params={"headers": headers},
        )
    return result


def _same_custody(before: dict[str, Any], values: dict[str, Any], people: dict[str, int]) -> None:
    """Refuse a row that would move a registered account's custody (that is a transfer's job)."""
    # A transfer is accepted by the new holder; an older copy of the sheet would otherwise
    # quietly undo a handover.
    emails = {v: k for k, v in people.items()}
    for target, column, field in (
        ("custodian_id", "custodian", "custodian_email"),
        ("backup_custodian_id", "backup_custodian", "backup_custodian_email"),
    ):
        if target in values and values[target] != before[column]:
            current = emails.get(before[column], "nobody") if before[column] else "nobody"
            raise InvalidInput(
                N_(
                    "the register has %(current)s as %(value)s of this account; custody of a registered account moves by transfer (POST /api/v1/accounts/%(id)s/transfers), not by import"
                ),
                field=field,
                params={"current": current, "value": column.replace("_", " "), "id": before["id"]},
            )


async def import_csv(
    *,
    actor: Actor,
    settings: Settings,
    content: bytes | str | None,
    mapping: Any = None,
    dry_run: bool = False,
    expect_plan: str | None = None,
) -> dict[str, Any]:
    """Create or update accounts from IT's spreadsheet, keyed on platform and handle; all or nothing.

    `dry_run` does everything the import would, says what (`changes`, `plan`) and undoes it, so a
    preview is judged by the very rules of the import. `expect_plan` (a preview's `plan`) applies
    the file only if it still does exactly what that preview said.
    """
    try:
        return await _import(
            actor=actor,
            settings=settings,
            content=content,
            mapping=mapping,
            dry_run=dry_run,
            expect_plan=expect_plan,
        )
    except _Previewed as previewed:
        return previewed.summary


async def _import(
    *,
    actor: Actor,
    settings: Settings,
    content: bytes | str | None,
    mapping: Any,
    dry_run: bool,
    expect_plan: str | None,
) -> dict[str, Any]:
    if content is None:
        raise InvalidInput(
            N_("attach the CSV as the 'file' field of a multipart form"), field="file"
        )
    data = content.encode() if isinstance(content, str) else content
    records = rows_with_lines(decode(data))
    _, headers = next(((n, r) for n, r in records if any(c.strip() for c in r)), (0, []))
    if not headers:
        raise InvalidInput(N_("the file has no header row"), field="file")
    columns = _columns(headers, _parse_mapping(mapping))
    people = {email: r["id"] for email, r in (await employees_by_email()).items()}
    existing = {(r["platform"], r["handle"]): r for r in await SocialAccount.select()}
    errors: list[dict[str, Any]] = []
    parts: dict[int, RegisterError] = {}
    changes: list[dict[str, Any]] = []
    created = updated = unchanged = total = 0
    seen: dict[tuple[str, str], int] = {}

    def person(value: str, field: str) -> int | None:
        email = value.strip().lower()
        if not email:
            return None
        if email not in people:
            raise InvalidInput(
                N_("no employee with work e-mail %(email)s"), field=field, params={"email": email}
            )
        return people[email]

    async with write_transaction():
        await audit.lock_chain()
        for line, record in records:
            if not any(c.strip() for c in record):
                continue
            total += 1
            raw = {f: (record[i].strip() if i < len(record) else "") for i, f in columns.items()}
            try:
                try:
                    platform = _platform(raw.get("platform", ""), raw.get("handle", ""))
                except InvalidValue as exc:
                    raise exc.refusal("platform") from exc
                handle = normalise_handle(platform, raw.get("handle", ""))
                key = (platform.value, handle.handle)
                if key in seen:
                    raise InvalidInput(
                        N_("%(platform)s '%(handle)s' appears again (first on line %(first)s)"),
                        field="handle",
                        params={
                            "platform": platform.value,
                            "handle": handle.handle,
                            "first": seen[key],
                        },
                    )
                seen[key] = line
                values: dict[str, Any] = {"platform": platform, "handle": handle.handle}
                for field in (
                    "display_name",
                    "department",
                    "login_identifier",
                    "recovery_email",
                    "recovery_phone",
                    "purpose",
                    "post_approvers",
                    "notes",
                    "status",
                ):
                    if field in raw and (raw[field] or field != "status"):
                        values[field] = raw[field].lower() if field == "status" else raw[field]
                if "mfa_method" in raw:
                    word = normalise_header(raw["mfa_method"])
                    if word not in MFA_WORDS and word not in MfaMethod._value2member_map_:
                        raise InvalidInput(
                            N_("unknown MFA method '%(mfa_method)s'"),
                            field="mfa_method",
                            params={"mfa_method": raw["mfa_method"]},
                        )
                    values["mfa_method"] = MFA_WORDS.get(word) or MfaMethod(word)
                for field in (
                    "recovery_email_company_controlled",
                    "recovery_phone_company_controlled",
                ):
                    if raw.get(field):
                        values[field] = raw[field].strip().lower() in TRUE_WORDS
                for field, target in (
                    ("custodian_email", "custodian_id"),
                    ("backup_custodian_email", "backup_custodian_id"),
                    ("mfa_holder_email", "mfa_holder_id"),
                ):
                    if field in raw:
                        values[target] = person(raw[field], field)
                if "status" in values and values["status"] == "retired":
                    raise InvalidInput(
                        N_("retire accounts through the API, not by import"), field="status"
                    )
                before = existing.get(key)
                if before is None:
                    after = await create_account(actor=actor, settings=settings, data=values)
                    created += 1
                    old = None
                else:
                    values.pop("platform")
                    values.pop("handle")
                    _same_custody(before, values, people)
                    after = await update_account(
                        actor=actor,
                        settings=settings,
                        account_id=before["id"],
                        version=before["version"],
                        changes=values,
                    )
                    if after["version"] == before["version"]:
                        unchanged += 1
                        continue
                    updated += 1
                    old = account_out(before)
                changes.append(
                    {
                        "line": line,
                        "action": "create" if old is None else "update",
                        "account_id": after["id"],
                        "platform": after["platform"],
                        "handle": after["handle"],
                        "fields": _field_changes(old, after),
                    }
                )
            except RegisterError as exc:
                if len(errors) < 1000:
                    field = exc.extra.get("field")
                    parts[len(errors)] = exc
                    errors.append(
                        {"line": line, "field": COLUMN_OF.get(field, field), "message": exc.detail}
                    )
        if not total:
            raise InvalidInput(N_("the file has a header but no rows"), field="file")
        if errors:
            raise InvalidInput(
                N_("%(errors)s problem(s) in the file; nothing was imported"),
                field="file",
                errors=errors,
                parts=parts,
                params={"errors": len(errors)},
            )
        plan = plan_digest(total, unchanged, changes)
        summary = {
            "rows": total,
            "created": created,
            "updated": updated,
            "unchanged": unchanged,
            "mapping": {headers[i]: f for i, f in sorted(columns.items())},
            "dry_run": dry_run,
            "plan": plan,
            "changes": changes,
        }
        if dry_run:
            # Out of the transaction by an exception, so every row written above is undone.
            raise _Previewed(
                {**summary, "changes": [{**c, "account_id": _kept_id(c)} for c in changes]}
            )
        if expect_plan is not None and expect_plan != plan:
            raise Conflict(
                N_("the register or the file changed since the preview; preview the file again"),
                field="file",
            )
        await audit.record(
            actor,
            "account.import",
            "file",
            hashlib.sha256(data).hexdigest(),
            {
                k: [None, v]
                for k, v in summary.items()
                if k in ("rows", "created", "updated", "unchanged")
            },
        )
    return summary


def _kept_id(change: dict[str, Any]) -> int | None:
    """A previewed change's account id: an existing account's; a new one has none yet."""
    return change["account_id"] if change["action"] == "update" else None
