"""The hub's web face: the counter's rating tablet and the citizen's ticket page (docs/web.md)."""
