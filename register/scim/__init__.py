"""SCIM 2.0 provisioning (RFC 7643/7644) at /scim/v2: the identity provider's users and groups.

A SCIM user is a person in the staff directory and, where their groups map to a role, a register
user; deprovisioning one is an offboarding.
"""
