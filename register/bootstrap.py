"""First start: create the first admin with a one-time password on an empty database."""

from __future__ import annotations

from register.actor import Actor
from register.enums import Role
from register.services import create_user
from register.settings import Settings
from register.tables import User


async def ensure_first_admin(settings: Settings) -> tuple[str, str] | None:
    """Create the first admin if there is no admin yet; returns (e-mail, one-time password) once."""
    if await User.exists().where(User.role == Role.admin.value):
        return None
    user, password = await create_user(
        actor=Actor.system("first-start"),
        email=settings.admin_email,
        role=Role.admin,
        name="Administrator",
    )
    assert password is not None
    return user["email"], password


def first_start_message(email: str, password: str, url: str) -> str:
    """What the person starting the register for the first time reads."""
    line = "=" * 72
    return (
        f"\n{line}\n  First start: an administrator was created.\n\n"
        f"  Sign in at {url}/api/v1/auth/login with\n"
        f"      e-mail:   {email}\n      password: {password}   (one-time: shown only now)\n\n"
        f"  You must change it at first sign-in (POST /api/v1/auth/password).\n"
        f"  For scripts: register token create --email {email} --name cli\n{line}\n"
    )
