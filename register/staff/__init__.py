"""The staff directory: people, their start and leaving dates, and HR's CSV import.

Every other part refers to people here; the leaver sweep tells them who has left.
"""
