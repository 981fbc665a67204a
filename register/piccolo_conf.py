"""Piccolo configuration: the engine from settings and the register's apps."""

from __future__ import annotations

from piccolo.conf.apps import AppRegistry

from register.db import make_engine
from register.settings import get_settings

DB = make_engine(get_settings().database_url, sqlite_pool_size=get_settings().sqlite_pool_size)

# Listed by name so the core does not import the domain packages.
APP_NAMES = ["register.piccolo_app", "accounts.piccolo_app", "incidents.piccolo_app"]

APP_REGISTRY = AppRegistry(apps=APP_NAMES)
