"""The registry's error tree; the CLI maps each family to an exit code and one line on stderr."""

from __future__ import annotations


class RegistryError(Exception):
    """Root of every error the registry raises."""


class SchemaOutOfDate(RegistryError):
    """The database is not at the migration head: run `masreg db upgrade`."""


class IntegrityProblem(RegistryError):
    """The registry's content contradicts itself (e.g. a run left in an impossible state)."""


class ProtocolError(RegistryError):
    """A study protocol file is invalid (overlapping windows, unknown names, bad values)."""
