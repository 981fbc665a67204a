"""Posts from company accounts: approval before they go out, photos stripped of location."""
