"""SCIM provisioning's queries and single-record rules: tokens, rows, documents, discovery.

_tokens     the provider's bearer tokens: issued once, kept hashed, listed, revoked
_store      users' and groups' rows, read, written and shown as SCIM resources
_doc        SCIM documents as data: attribute names, filters, PATCH, projections
_discovery  ServiceProviderConfig, Schemas and ResourceTypes
"""

from __future__ import annotations

from register.scim.services._discovery import (
    MAX_RESULTS,
    resource_type,
    resource_types,
    schema,
    schemas,
    service_provider_config,
)
from register.scim.services._doc import (
    canonical,
    invalid,
    matches,
    parse_filter,
    patch,
    project,
    simple_equality,
)
from register.scim.services._store import (
    delete_group,
    delete_user,
    etag,
    expect_etag,
    group_row,
    group_rows,
    groups_of,
    insert_group,
    insert_user,
    link_register_user,
    members_of,
    render_group,
    render_user,
    set_members,
    update_group,
    update_user,
    user_of_employee,
    user_row,
    user_rows,
)
from register.scim.services._tokens import (
    create_token,
    get_token,
    list_tokens,
    provider_actor,
    revoke_token,
)

__all__ = [
    "MAX_RESULTS",
    "canonical",
    "create_token",
    "delete_group",
    "delete_user",
    "etag",
    "expect_etag",
    "get_token",
    "group_row",
    "group_rows",
    "groups_of",
    "insert_group",
    "insert_user",
    "invalid",
    "link_register_user",
    "list_tokens",
    "matches",
    "members_of",
    "parse_filter",
    "patch",
    "project",
    "provider_actor",
    "render_group",
    "render_user",
    "resource_type",
    "resource_types",
    "revoke_token",
    "schema",
    "schemas",
    "service_provider_config",
    "set_members",
    "simple_equality",
    "update_group",
    "update_user",
    "user_of_employee",
    "user_row",
    "user_rows",
]
