"""The account register: corporate social accounts, who holds and can get into them, the vault.

Two parts build on it: connections/ (LinkedIn connections kept as the employer's) and
handovers/ (offboarding); incidents/ builds on all three.
"""
