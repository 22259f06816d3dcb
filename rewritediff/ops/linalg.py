"""Placeholder: filled in by its table."""
