"""Who is acting: the signed-in user (or the system) with the request's id and address."""

from __future__ import annotations

from dataclasses import dataclass

from register.enums import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller of a service, carried into the audit trail."""

    user_id: int | None
    email: str
    role: Role | None
    employee_id: int | None = None
    request_id: str = ""
    client_address: str = ""
    must_change_password: bool = False
    via: str = "system"

    @classmethod
    def system(cls, label: str = "system", request_id: str = "") -> Actor:
        """The register itself, or a CLI operator."""
        return cls(user_id=None, email=label, role=Role.admin, request_id=request_id, via="cli")

    @classmethod
    def anonymous(cls, request_id: str = "", client_address: str = "") -> Actor:
        """A caller who has not signed in."""
        return cls(
            user_id=None,
            email="anonymous",
            role=None,
            request_id=request_id,
            client_address=client_address,
            via="anonymous",
        )
