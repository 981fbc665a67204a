"""What the register tells a provider about itself: its features, schemas and resource types."""

from __future__ import annotations

from typing import Any

from register.errors import NotFound
from register.i18n import N_
from register.scim.schemas import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE,
    RESOURCE_TYPE,
    SCHEMA,
    SCHEMAS,
    SPC,
)

MAX_RESULTS = 200


def service_provider_config(base: str) -> dict[str, Any]:
    """The features the register supports (RFC 7643 section 5)."""
    return {
        "schemas": [SPC],
        "documentationUri": "https://social-asset-register.dev/docs/scim",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A token from 'register scim token create', sent as "
                "'Authorization: Bearer <token>'.",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }


def schema(urn: str, base: str) -> dict[str, Any]:
    """One schema the register publishes, or NotFound."""
    if urn not in SCHEMAS:
        raise NotFound(N_("schema %(urn)s does not exist"), params={"urn": urn[:200]})
    name, description, attributes = SCHEMAS[urn]
    return {
        "schemas": [SCHEMA],
        "id": urn,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{urn}"},
    }


RESOURCE_TYPES = {
    "User": ("/Users", CORE_USER, "People in the staff directory.", [ENTERPRISE]),
    "Group": ("/Groups", CORE_GROUP, "Groups, mapped to the register's roles.", []),
}


def resource_type(name: str, base: str) -> dict[str, Any]:
    """One resource type the register serves, or NotFound."""
    if name not in RESOURCE_TYPES:
        raise NotFound(N_("resource type %(name)s does not exist"), params={"name": name[:200]})
    endpoint, urn, description, extensions = RESOURCE_TYPES[name]
    return {
        "schemas": [RESOURCE_TYPE],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": description,
        "schema": urn,
        "schemaExtensions": [{"schema": e, "required": False} for e in extensions],
        "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{name}"},
    }


def listing(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """Discovery resources as one ListResponse."""
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def schemas(base: str) -> dict[str, Any]:
    """Every schema the register publishes."""
    return listing([schema(urn, base) for urn in SCHEMAS])


def resource_types(base: str) -> dict[str, Any]:
    """Every resource type the register serves."""
    return listing([resource_type(name, base) for name in RESOURCE_TYPES])
