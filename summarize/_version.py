"""The version of the package (read by pyproject.toml, the CLI and stats.json)."""

__version__ = "0.2.0"
