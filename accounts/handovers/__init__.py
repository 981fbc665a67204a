"""Offboarding handovers: the leaver's footprint, the checklist it calls for, items worked with
evidence, sign-off by HR and IT, and the signed certificate.
"""
