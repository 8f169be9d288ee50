"""Helpers for scripts/dev/make_demo.py (dev-only; not shipped in the extension)."""
