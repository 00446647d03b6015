"""CX research workspace helpers."""
