"""SCIM's documents: the schemas the register publishes, and the shapes of its answers."""

from __future__ import annotations

from typing import Any

import msgspec

SCIM_JSON = "application/scim+json"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"


def attribute(
    name: str,
    type_: str = "string",
    *,
    description: str,
    multi: bool = False,
    required: bool = False,
    mutability: str = "readWrite",
    uniqueness: str = "none",
    case_exact: bool = False,
    canonical: list[str] | None = None,
    sub: list[dict[str, Any]] | None = None,
    references: list[str] | None = None,
) -> dict[str, Any]:
    """One attribute as RFC 7643 section 7 describes it."""
    out: dict[str, Any] = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "description": description,
        "required": required,
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": uniqueness,
    }
    if canonical:
        out["canonicalValues"] = canonical
    if sub:
        out["subAttributes"] = sub
    if references:
        out["referenceTypes"] = references
    return out


# Only what the register keeps: a provider reads these from /Schemas and sends no more, and what
# it sends of them comes back as sent.
USER_ATTRIBUTES = [
    attribute(
        "userName",
        required=True,
        uniqueness="server",
        description="The provider's sign-in name; when it is an e-mail address and no work "
        "e-mail is sent, it is the person's work e-mail.",
    ),
    attribute(
        "name",
        "complex",
        description="The person's name; formatted, else given and family name, is their name "
        "in the staff directory.",
        sub=[
            attribute("formatted", description="The full name."),
            attribute("familyName", description="Family name."),
            attribute("givenName", description="Given name."),
        ],
    ),
    attribute("displayName", description="Name shown; the directory's name when name is absent."),
    attribute("title", description="Job title in the staff directory."),
    attribute(
        "emails",
        "complex",
        multi=True,
        description="E-mail addresses; the work one (else the primary, else the first) is the "
        "person's work e-mail.",
        sub=[
            attribute("value", description="The address."),
            attribute(
                "type", description="work, home or other.", canonical=["work", "home", "other"]
            ),
            attribute("primary", "boolean", description="The preferred address."),
        ],
    ),
    attribute(
        "active",
        "boolean",
        description="false deprovisions: the person leaves today, their sign-in and tokens stop, "
        "and a draft handover starts. true again brings them back.",
    ),
    attribute(
        "groups",
        "complex",
        multi=True,
        mutability="readOnly",
        description="The groups the user is in (change them through /Groups).",
        sub=[
            attribute("value", mutability="readOnly", description="The group's id."),
            attribute(
                "$ref",
                "reference",
                mutability="readOnly",
                references=["Group"],
                description="The group's URI.",
            ),
            attribute("display", mutability="readOnly", description="The group's displayName."),
        ],
    ),
]
ENTERPRISE_ATTRIBUTES = [
    attribute("department", description="Department in the staff directory."),
    attribute(
        "manager",
        "complex",
        description="The line manager: another user of this provider, by id.",
        sub=[
            attribute("value", description="The manager's id in SCIM."),
            attribute("$ref", "reference", references=["User"], description="The manager's URI."),
        ],
    ),
]
GROUP_ATTRIBUTES = [
    attribute(
        "displayName",
        required=True,
        uniqueness="server",
        description="The group's name; REGISTER_GROUP_ROLES maps it to a role of the register.",
    ),
    attribute(
        "members",
        "complex",
        multi=True,
        description="Users in the group; they take the role the group maps to.",
        sub=[
            attribute("value", mutability="immutable", description="The user's id."),
            attribute(
                "$ref",
                "reference",
                mutability="immutable",
                references=["User"],
                description="The user's URI.",
            ),
            attribute(
                "type",
                mutability="immutable",
                canonical=["User"],
                description="User (groups in groups are not kept).",
            ),
        ],
    ),
]
SCHEMAS = {
    CORE_USER: (
        "User",
        "A person in the staff directory, and a register user where a group maps.",
        USER_ATTRIBUTES,
    ),
    ENTERPRISE: ("EnterpriseUser", "Department and manager.", ENTERPRISE_ATTRIBUTES),
    CORE_GROUP: ("Group", "A group of the identity provider, mapped to a role.", GROUP_ATTRIBUTES),
}


# The shapes below document the answers in /schema; the handlers read bodies as JSON objects,
# since SCIM attribute names are case-insensitive.
class ScimError(msgspec.Struct):
    """An error as RFC 7644 section 3.12 shapes it."""

    schemas: list[str]
    status: str
    detail: str | None = None
    scimType: str | None = None


class ScimMeta(msgspec.Struct, rename="camel"):
    """Where a resource lives and which version of it this is."""

    resource_type: str | None = None
    created: str | None = None
    last_modified: str | None = None
    location: str | None = None
    version: str | None = None


class ScimResource(msgspec.Struct):
    """A User or Group (the attributes in /Schemas), with its id and meta."""

    schemas: list[str]
    id: str | None = None
    meta: ScimMeta | None = None


class ScimListResponse(msgspec.Struct):
    """A page of resources."""

    schemas: list[str]
    totalResults: int
    startIndex: int | None = None
    itemsPerPage: int | None = None
    Resources: list[dict[str, Any]] | None = None


class ScimDocument(msgspec.Struct):
    """A discovery document: ServiceProviderConfig, a Schema or a ResourceType."""

    schemas: list[str]
