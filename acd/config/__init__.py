"""Configuration: the typed model, loading and validation, and the
cross-checks with Asterisk's files."""
