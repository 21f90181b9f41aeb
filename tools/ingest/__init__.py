"""Turning source logs into validated events."""
