"""Pull settings from flags, environment and a site TOML file (STYLE 6.4 precedence).

A flag wins over an environment variable, which wins over the TOML file, which wins over the
default. The library never reads `os.environ`: the CLI passes the environment in as a mapping.
Every setting ``name`` has the environment variable ``MASREG_<NAME>`` (``url`` is
``MASREG_SERVER``) and lives in the TOML file's ``[server]`` or ``[pull]`` table.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapter.config import ServerConfig
from adapter.errors import ConfigError
from registry.load import DEFAULT_BATCH
from registry.pull.resources import DEFAULT_TYPES

OBSERVATION_MODES = ("all", "codes")
EXPORT_LEVELS = ("auto", "system", "patient", "group")


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(item) for item in value)
    return tuple(part.strip() for part in str(value).split(",") if part.strip())


def _queries(value: Any) -> tuple[str, ...]:
    """Search queries: a list, or one text with the queries apart by whitespace.

    Not commas: a query holds commas (code lists), so a comma-separated text would cut them.
    """
    if isinstance(value, list | tuple):
        return tuple(str(item).strip() for item in value if str(item).strip())
    return tuple(str(value).split())


def _path(value: Any) -> Path:
    return Path(str(value)).expanduser()


# name -> (TOML table, converter). ServerConfig fields keep their names, except url and key.
_SERVER: dict[str, Callable[[Any], Any]] = {
    "url": str,
    "auth": str,
    "client_id": str,
    "key": _path,
    "key_id": str,
    "token_url": str,
    "token": str,
    "token_file": _path,
    "basic_user": str,
    "basic_password": str,
    "basic_password_file": _path,
    "scopes": _list,
    "connect_timeout": float,
    "read_timeout": float,
    "max_retries": int,
    "backoff_base": float,
    "max_delay": float,
    "concurrency": int,
    "max_pages": int,
    "allow_insecure_http": _bool,
}
_PULL: dict[str, Callable[[Any], Any]] = {
    "site": str,
    "cohort": str,
    "bulk": _bool,
    "since": str,
    "accept_incomplete": _bool,
    "observations": str,
    "observation_categories": _list,
    "type_filters": _queries,
    "types": _list,
    "page_size": int,
    "export_dir": _path,
    "export_level": str,
    "validate": str,
    "batch_size": int,
    "timezone": str,
}
_RENAMED = {"url": "base_url", "key": "key_path"}
SECRETS = frozenset({"token", "basic_password"})


def env_name(name: str) -> str:
    """The environment variable of a setting: ``MASREG_SERVER`` for url, else ``MASREG_<NAME>``."""
    return "MASREG_SERVER" if name == "url" else f"MASREG_{name.upper()}"


@dataclass(frozen=True)
class PullSettings:
    """Everything one `masreg pull` needs, besides the database.

    Attributes:
        server: how to reach and authenticate against the FHIR server.
        site: the site name the data is stored under.
        cohort: ``conditions``, ``administrations``, ``group:ID`` or ``ids:FILE``.
        bulk: use Bulk Data ``$export`` instead of REST searches.
        since: None, ``auto`` or a FHIR instant/date: only what changed since then.
        accept_incomplete: exit 0 even when the pull is incomplete.
        observations: ``all`` Observations of each patient, or only ``codes`` of the code lists.
        observation_categories: search Observations once per category (servers that require it).
        types: the resource types pulled per patient.
        type_filters: Bulk Data ``_typeFilter`` queries (``Type?param=value``) added to those
            the observation options imply.
        page_size: ``_count`` asked for each search page.
        export_dir: where Bulk Data files and the export state go (None: a default per site).
        export_level: ``auto`` (group for a Group cohort, else patient), or a fixed level.
        validate: FHIR validation mode of the import.
        batch_size: resources per committed batch.
        timezone: IANA zone for times the server writes without an offset.
    """

    server: ServerConfig
    site: str = "local"
    cohort: str = "conditions"
    bulk: bool = False
    since: str | None = None
    accept_incomplete: bool = False
    observations: str = "all"
    observation_categories: tuple[str, ...] = ()
    types: tuple[str, ...] = DEFAULT_TYPES
    type_filters: tuple[str, ...] = ()
    page_size: int = 100
    export_dir: Path | None = None
    export_level: str = "auto"
    validate: str = "sample:100"
    batch_size: int = DEFAULT_BATCH
    timezone: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        """Check the pull options that ServerConfig does not check.

        Raises:
            ConfigError: an unknown observation mode or export level, or bad sizes.
        """
        if self.observations not in OBSERVATION_MODES:
            raise ConfigError(f"observations must be one of {OBSERVATION_MODES}")
        if self.export_level not in EXPORT_LEVELS:
            raise ConfigError(f"export_level must be one of {EXPORT_LEVELS}")
        if self.page_size <= 0 or self.batch_size <= 0:
            raise ConfigError("page_size and batch_size must be positive")
        if not self.site:
            raise ConfigError("the site name must not be empty")
        for query in self.type_filters:
            kind, mark, rest = query.partition("?")
            if not (mark and rest and kind in self.types):
                raise ConfigError(
                    f"type filter {query!r}: write Type?param=value for a pulled type "
                    f"({', '.join(self.types)})"
                )


def read_toml(path: Path) -> dict[str, Any]:
    """Read a site configuration file.

    Raises:
        ConfigError: the file cannot be read or is not valid TOML, or has unknown keys.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from exc
    for table, known in (("server", _SERVER), ("pull", _PULL)):
        section = data.get(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [{table}] must be a table")
        unknown = sorted(set(section) - set(known))
        if unknown:
            raise ConfigError(f"{path}: unknown keys in [{table}]: {', '.join(unknown)}")
    extra = sorted(set(data) - {"server", "pull", "terminology"})
    if extra:
        raise ConfigError(f"{path}: unknown tables: {', '.join(extra)}")
    return data


def build_settings(
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    toml: Mapping[str, Any],
    *,
    base_dir: Path | None = None,
) -> PullSettings:
    """Merge flags, environment and TOML into `PullSettings` (first given wins).

    Args:
        flags: command-line values by setting name; None means not given.
        env: the process environment (only ``MASREG_*`` names are looked at).
        toml: the parsed site file (`read_toml`), or empty.
        base_dir: relative paths in the TOML file are taken relative to this directory.

    Raises:
        ConfigError: a value of the wrong type, no server URL, or an invalid combination.
    """
    chosen: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for table, known in (("server", _SERVER), ("pull", _PULL)):
        section = toml.get(table, {})
        for name, convert in known.items():
            value, source = _pick(name, flags, env, section)
            if value is None:
                continue
            try:
                value = convert(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"setting {name!r} (from {source}): {exc}") from exc
            if source == "config file" and isinstance(value, Path) and base_dir is not None:
                value = value if value.is_absolute() else base_dir / value
            chosen[name], sources[name] = value, source
    if "url" not in chosen:
        raise ConfigError("no FHIR server: give --server, MASREG_SERVER or [server] url")
    server = ServerConfig(**{_RENAMED.get(k, k): v for k, v in chosen.items() if k in _SERVER})
    pull = {k: v for k, v in chosen.items() if k in _PULL}
    return PullSettings(server=server, sources=sources, **pull)


def _pick(
    name: str, flags: Mapping[str, Any], env: Mapping[str, str], section: Mapping[str, Any]
) -> tuple[Any, str]:
    if flags.get(name) is not None:
        return flags[name], "command line"
    if env.get(env_name(name)):
        return env[env_name(name)], f"environment {env_name(name)}"
    if name in section:
        return section[name], "config file"
    return None, "default"
