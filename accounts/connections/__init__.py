"""LinkedIn connections kept as the employer's: imports of a person's export, search, the
successor's export, retention, and subject access and erasure for the people in them.
"""
