"""Settings: a YAML file plus ``BRIDGELINE_*`` environment variables.

Precedence, highest first: environment variables (nested with ``__``, e.g.
``BRIDGELINE_JIRA__URL``), secret files named by ``*_FILE`` variables (e.g.
``BRIDGELINE_JIRA__API_TOKEN_FILE=/run/secrets/jira-token``), the YAML file
(``--config`` or ``BRIDGELINE_CONFIG``), then defaults. Secrets are :class:`SecretStr`: they never
print, log or appear in errors.

::

    settings = load_settings(Path("config/bridgeline.yaml"))
    settings.jira.projects  # ['PAY', 'WEB']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bridgeline.errors import ConfigError

ENV_PREFIX = "BRIDGELINE_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JiraSettings(_Section):
    """Where Jira is and how bridgeline logs in and watches it."""

    url: str = Field(description="Base URL, e.g. https://example.atlassian.net")
    deployment: Literal["auto", "cloud", "datacenter"] = Field(
        "auto",
        description="cloud: API v3 and /search/jql; datacenter: API v2 and /search; auto: ask serverInfo",
    )
    email: str | None = Field(None, description="Cloud: the account's email (Basic auth with api_token)")
    api_token: SecretStr | None = Field(None, description="Cloud: API token")
    token: SecretStr | None = Field(None, description="Data Center: personal access token (Bearer)")
    username: str | None = Field(None, description="Server: user name (Basic auth with password)")
    password: SecretStr | None = None
    projects: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Project keys whose releases are synced"
    )

    @field_validator("projects", mode="before")
    @classmethod
    def _comma_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            return (
                yaml.safe_load(v)
                if v.lstrip().startswith("[")
                else [p.strip() for p in v.split(",") if p.strip()]
            )
        return v

    poll_interval: float = Field(60.0, gt=0, description="Seconds between polls")
    poll_overlap: float = Field(120.0, ge=0, description="Seconds the issue cursor re-reads behind itself")
    page_size: int = Field(100, ge=1, le=5000)
    webhook_secret: SecretStr | None = Field(None, description="HMAC secret of the Jira webhook")
    integration_account: str | None = Field(
        None, description="accountId or name of bridgeline's own Jira account (its changes are not echoed)"
    )
    timeout: float = Field(30.0, gt=0)
    max_concurrency: int = Field(8, ge=1)
    verify: bool | str = Field(True, description="TLS verification: true, false or a CA bundle path")

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @model_validator(mode="after")
    def _one_auth(self) -> JiraSettings:
        if not (self.api_token or self.token or self.password):
            raise ValueError(
                "set jira.api_token (Cloud, with jira.email), jira.token (Data Center PAT) or jira.password"
            )
        if self.api_token and not self.email:
            raise ValueError("jira.api_token needs jira.email (Cloud logs in with email + API token)")
        if self.password and not self.username:
            raise ValueError("jira.password needs jira.username")
        return self


class OAuthSettings(_Section):
    """OAuth 2 for ServiceNow: an application registry entry's client id and secret."""

    grant: Literal["password", "client_credentials"] = Field(
        "password",
        description="password: as servicenow.username (with a refresh token); "
        "client_credentials: as the OAuth application's own user",
    )
    client_id: str
    client_secret: SecretStr
    token_path: str = Field("/oauth_token.do", description="The instance's token endpoint")
    refresh_margin: float = Field(
        60.0, ge=0, description="Seconds before an access token expires that a new one is fetched"
    )


class ServiceNowSettings(_Section):
    """Where ServiceNow is, which API bridgeline writes through, and how it logs in."""

    url: str = Field(description="Instance URL, e.g. https://example.service-now.com")
    api: Literal["table", "change"] = Field(
        "table",
        description="Table API or Change Management API; a mapping's target.api overrides it",
    )
    username: str | None = None
    password: SecretStr | None = None
    oauth: OAuthSettings | None = None
    poll_interval: float = Field(60.0, gt=0)
    poll_overlap: float = Field(120.0, ge=0, description="Seconds the sys_updated_on cursor re-reads")
    poll_page_size: int = Field(200, ge=1, le=10000)
    webhook_secret: SecretStr | None = Field(None, description="HMAC secret of the Business Rule's calls")
    webhook_token: SecretStr | None = Field(None, description="or a shared bearer token")
    integration_user: str | None = Field(
        None, description="bridgeline's own user_name (defaults to username); its changes are not echoed"
    )
    transaction_limit: float = Field(
        60.0,
        ge=0,
        description="Seconds after which the instance has surely ended a request (its REST transaction "
        "limit); a create whose outcome is unknown is not repeated before then",
    )
    timeout: float = Field(30.0, gt=0)
    max_concurrency: int = Field(8, ge=1)
    requests_per_second: float = Field(0.0, ge=0, description="client-side pacing; 0 = none")
    verify: bool | str = True

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")

    @model_validator(mode="after")
    def _auth(self) -> ServiceNowSettings:
        if self.oauth is not None and self.oauth.grant == "client_credentials":
            return self
        if not (self.username and self.password):
            how = "the OAuth password grant" if self.oauth is not None else "Basic auth"
            raise ValueError(
                f"set servicenow.username and servicenow.password ({how}), "
                "or servicenow.oauth with grant: client_credentials"
            )
        return self

    @property
    def own_user(self) -> str | None:
        """The user_name bridgeline's writes carry (``sys_updated_by``)."""
        return self.integration_user or self.username


class RemedySettings(_Section):
    """Where BMC Remedy / Helix ITSM (AR System REST) is and how bridgeline logs in."""

    url: str = Field(description="AR REST base URL, e.g. https://remedy.example.com:8443")
    username: str
    password: SecretStr
    poll_interval: float = Field(60.0, gt=0)
    poll_overlap: float = Field(120.0, ge=0, description="Seconds the Last Modified Date cursor re-reads")
    poll_page_size: int = Field(200, ge=1, le=2000)
    web_url: str | None = Field(None, description="Mid-tier URL for links people open (defaults to url)")
    ar_server: str = Field("remedy", description="AR server name in mid-tier links (/arsys/forms/<server>)")
    task_correlation_field: str = Field(
        "Character 01", description="TMS:Task field that carries a change task's correlation id"
    )
    create_settle_seconds: float = Field(
        60.0,
        ge=0,
        description="A create whose outcome is unknown is not repeated before this many seconds passed",
    )
    timeout: float = Field(30.0, gt=0)
    max_concurrency: int = Field(8, ge=1)
    requests_per_second: float = Field(0.0, ge=0, description="client-side pacing; 0 = none")
    verify: bool | str = True

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class WorkerSettings(_Section):
    """How the sync engine takes work from the inbox."""

    concurrency: int = Field(4, ge=1, description="Entities processed at once by this replica")
    max_attempts: int = Field(8, ge=1, description="Attempts before an entity becomes a dead letter")
    backoff_initial: float = Field(5.0, gt=0, description="Seconds before the first retry")
    backoff_max: float = Field(900.0, gt=0, description="Cap of the exponential backoff")
    lease_seconds: float = Field(
        300.0, gt=0, description="A claim's lifetime; a dead replica's work returns after it"
    )
    poll_idle: float = Field(1.0, gt=0, description="Seconds between inbox checks when it is empty")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = Field(1_048_576, ge=1024)
    admin_token: SecretStr | None = Field(None, description="Protects replay/drop on the status page")


class Settings(BaseSettings):
    """All of bridgeline's configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", case_sensitive=False
    )

    database_url: str = Field(
        "sqlite:///bridgeline.db", description="SQLAlchemy URL: sqlite:///file or postgresql+psycopg://..."
    )
    mappings: list[Path] = Field(default_factory=lambda: [Path("mappings")])
    jira: JiraSettings | None = None
    servicenow: ServiceNowSettings | None = None
    remedy: RemedySettings | None = None
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    log_level: str = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    migrate_on_start: bool = True

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML file arrives as init values: the environment and secret files override it.
        return (_EnvWithoutFiles(settings_cls, env_settings), _SecretFileSource(settings_cls), init_settings)


class _EnvWithoutFiles(PydanticBaseSettingsSource):
    """The environment minus ``*_FILE`` variables: those name files, which the next source reads
    (nested ones would otherwise arrive as unknown settings like ``jira.api_token_file``)."""

    def __init__(self, settings_cls: type[BaseSettings], env: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self.env = env

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return _without_file_keys(self.env())


def _without_file_keys(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _without_file_keys(v) if isinstance(v, dict) else v
        for k, v in values.items()
        if not k.lower().endswith("_file")
    }


class _SecretFileSource(PydanticBaseSettingsSource):
    """``BRIDGELINE_JIRA__API_TOKEN_FILE=/run/secrets/x`` -> ``jira.api_token`` = the file's content."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, path in os.environ.items():
            upper = name.upper()
            if not (upper.startswith(ENV_PREFIX) and upper.endswith("_FILE")):
                continue
            keys = upper[len(ENV_PREFIX) : -len("_FILE")].lower().split("__")
            try:
                content = Path(path).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{name} names {path!r}, which cannot be read: {exc.strerror}") from exc
            node = values
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = content
        return values


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the YAML file (if any), overlay environment variables and secret files, validate.

    Raises :class:`ConfigError` listing every problem as ``section.key: message``.
    """
    if path is None and os.environ.get(f"{ENV_PREFIX}CONFIG"):
        path = Path(os.environ[f"{ENV_PREFIX}CONFIG"])
    data: dict[str, Any] = {}
    where = "configuration"
    if path is not None:
        where = str(path)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: configuration file not found") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of settings")
        data = loaded
        if "mappings" in data:
            # relative mapping paths are relative to the config file
            raw = data["mappings"] if isinstance(data["mappings"], list) else [data["mappings"]]
            data["mappings"] = [str(p if Path(p).is_absolute() else (path.parent / p)) for p in raw]
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(where, exc)) from None
    except SettingsError as exc:
        raise ConfigError(
            f"environment: {exc} (lists and sections in BRIDGELINE_* variables are JSON)"
        ) from None


def format_validation_error(where: str, exc: ValidationError) -> str:
    lines = [f"{where}: {exc.error_count()} problem(s):"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        elif err["type"] == "missing":
            msg = "required setting is missing"
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def settings_from_values(data: dict[str, Any]) -> Settings:
    """Settings from explicit values only, ignoring the environment (the demo, tests)."""

    class _Explicit(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    try:
        return _Explicit(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error("settings", exc)) from None
