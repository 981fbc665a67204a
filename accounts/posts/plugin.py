"""How post approval plugs into the core: routes, `register posts`, pages, rewrap, the demo's post."""

from __future__ import annotations

from register.extensions import Extensions

PART = "posts"


def register(ext: Extensions) -> None:
    """Register post approval with the core."""
    from accounts.posts.api import CONTROLLERS
    from accounts.posts.commands import add_commands
    from accounts.posts.demo import demo_posts
    from accounts.posts.pages import register_pages
    from accounts.posts.services import rewrap_media

    ext.add_controllers(PART, CONTROLLERS)
    ext.add_commands(PART, add_commands)
    ext.rewrap_handlers["post_media"] = rewrap_media
    ext.demo_steps.append(demo_posts)
    register_pages(ext)
