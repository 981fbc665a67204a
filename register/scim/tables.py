"""Tables of SCIM provisioning: its tokens, the provider's users and groups, and group members."""

from __future__ import annotations

from piccolo.columns import JSON, Boolean, ForeignKey, Integer, Serial, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.reference import LazyTableReference
from piccolo.table import Table


class ScimToken(Table, tablename="scim_token"):
    """A bearer token of the identity provider; reaches /scim/v2 only. Only its SHA-256 is kept."""

    id = Serial(primary_key=True)
    name = Varchar(
        length=120, unique=True, help_text="Which provider holds it; the actor in the audit trail."
    )
    token_hash = Varchar(
        length=64,
        unique=True,
        secret=True,
        help_text="SHA-256 hex of the token; the token itself is shown once.",
    )
    prefix = Varchar(length=16, help_text="First characters of the token, to tell tokens apart.")
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class ScimUser(Table, tablename="scim_user"):
    """A user as the identity provider provisioned it, linked to the person and register user."""

    id = Serial(primary_key=True)
    scim_id = Varchar(length=36, unique=True, help_text="The resource's id in SCIM (a UUID).")
    user_name_key = Varchar(
        length=320,
        unique=True,
        help_text="userName case-folded: unique, compared without regard to case (RFC 7643).",
    )
    external_id = Varchar(
        length=320, null=True, default=None, index=True, help_text="The provider's own id."
    )
    employee = ForeignKey(
        LazyTableReference("Employee", module_path="register.staff.tables"),
        null=True,
        default=None,
        on_delete=OnDelete.set_null,
        help_text="The person in the staff directory; none until a work e-mail is known.",
    )
    user = ForeignKey(
        LazyTableReference("User", module_path="register.tables"),
        null=True,
        default=None,
        on_delete=OnDelete.set_null,
        help_text="The register user made for a mapped group; none while no group maps to a role.",
    )
    active = Boolean(default=True, help_text="False: deprovisioned (an offboarding was started).")
    attributes = JSON(
        default="{}", help_text="The resource as the provider last sent it (without id and meta)."
    )
    version = Integer(default=1, help_text="Bumped on every change; meta.version and the ETag.")
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ScimGroup(Table, tablename="scim_group"):
    """A group of the identity provider; its members get the role REGISTER_GROUP_ROLES gives it."""

    id = Serial(primary_key=True)
    scim_id = Varchar(length=36, unique=True, help_text="The resource's id in SCIM (a UUID).")
    display_name = Varchar(length=200, help_text="The group's name, matched by the role mapping.")
    display_key = Varchar(length=200, unique=True, help_text="displayName case-folded: unique.")
    external_id = Varchar(length=320, null=True, default=None, help_text="The provider's own id.")
    version = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class ScimGroupMember(Table, tablename="scim_group_member"):
    """One user in one group (once: memberships are written as a difference, under the audit lock)."""

    id = Serial(primary_key=True)
    group = ForeignKey(ScimGroup, null=False, on_delete=OnDelete.cascade)
    member = ForeignKey(ScimUser, null=False, on_delete=OnDelete.cascade, index=True)
