"""Presentation: terminal tables (and, later, charts and the HTML report)."""
