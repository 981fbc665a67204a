"""The core every part stands on: app factory, settings, database, access, sign-in, users, the
audit trail, crypto, errors, HTTP conventions, the CLI entry point and the parts' extension points.
"""
