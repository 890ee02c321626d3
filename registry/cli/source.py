"""`masreg source`: a source resource version as the registry stored it, for an audit."""

from __future__ import annotations

import sys

import click

from adapter.jsontext import dump_json, parse_json
from registry.audit import AuditedVersion, find_versions
from registry.cli import db_option, handled, main, open_engine
from registry.errors import RegistryError


@main.command("source")
@db_option
@click.argument("reference")
@click.option("--site", default=None, help="Only this site's resource (a pooled registry).")
@click.option(
    "--hash",
    "hash_prefix",
    default=None,
    help="Only the version whose content hash starts so (for sources without a versionId).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: lineage and resource.")
@click.option(
    "--raw",
    is_flag=True,
    help="Only the stored bytes of the one version named (their SHA-256 is the content hash).",
)
def source_command(
    db_url: str,
    reference: str,
    site: str | None,
    hash_prefix: str | None,
    as_json: bool,
    raw: bool,
) -> None:
    """Show a source resource version (Type/id[/_history/version]) with its lineage.

    Every version stored is shown, current first, then the archived ones (superseded, or older
    versions that arrived late); `_history/version` picks one, as the report's sources cite it.
    The content hash is recomputed from the stored bytes: exit 1 if it no longer matches.
    """
    with handled(), open_engine(db_url) as engine, engine.connect() as conn:
        versions = find_versions(conn, reference, site=site)
        if hash_prefix:
            wanted = hash_prefix.strip().lower()
            versions = [v for v in versions if v.content_hash.startswith(wanted)]
        if not versions:
            where = (f" at site {site}" if site else "") + (
                f" with content hash {hash_prefix}..." if hash_prefix else ""
            )
            raise RegistryError(f"the registry holds no version of {reference}{where}")
        if raw:
            if len(versions) > 1:
                raise RegistryError(
                    f"{reference} names {len(versions)} stored versions; --raw needs one: "
                    "give Type/id/_history/version, --hash, or --site in a pooled registry"
                )
            if versions[0].raw is None:
                raise RegistryError(f"{versions[0].reference} was a deletion: no content stored")
            sys.stdout.buffer.write(versions[0].raw)
            sys.stdout.buffer.flush()
        elif as_json:
            entries = [v.lineage() | {"resource": _resource(v)} for v in versions]
            payload = entries if len(entries) > 1 else entries[0]
            click.echo(dump_json(payload, indent=True).decode("utf-8"))
        else:
            click.echo("\n\n".join(_text(version) for version in versions))
    damaged = [v.reference for v in versions if v.hash_verified is False]
    if damaged:
        click.echo(
            f"error: the stored bytes of {', '.join(damaged)} no longer have the content hash "
            "recorded when they were imported",
            err=True,
        )
        sys.exit(1)


def _resource(version: AuditedVersion) -> object:
    """The stored resource, parsed with exact decimals (written back as they were received)."""
    return None if version.raw is None else parse_json(version.raw)


def _text(version: AuditedVersion) -> str:
    """A version's lineage as lines, then its resource indented."""
    info = version.lineage()
    verified = {True: "verified", False: "MISMATCH", None: "no content"}[version.hash_verified]
    where = f"{version.origin}, {version.locator}"
    lines = [
        f"{info['reference']}  (site {version.site}, {version.state})",
        f"  last updated   {info['last_updated'] or '-'}",
        f"  content hash   {version.content_hash} ({verified})",
        f"  FHIR version   {version.fhir_version}",
        f"  read from      {where}",
        f"  stored by run  {version.ingest_run_id}"
        + (f", archived by run {version.archived_run_id}" if version.archived_run_id else ""),
    ]
    if version.raw is not None:
        lines.append(dump_json(parse_json(version.raw), indent=True).decode("utf-8"))
    return "\n".join(lines)
