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

import difflib
import os
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

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

from bridgeline import yaml12
from bridgeline.errors import ConfigError

ENV_PREFIX = "BRIDGELINE_"
# Variables with these names are not settings: the configuration file's path, `bridgeline gate`'s
# URL and token, and the test suite's
# own (BRIDGELINE_TEST_DATABASE_URL), which a daemon started by the tests inherits.
NOT_SETTINGS = ("CONFIG", "URL", "PIPELINE_TOKEN")
RESERVED_PREFIXES = ("TEST_",)
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def http_url(value: str) -> str:
    """A base URL with http(s) and a host, without its trailing slash; else a message saying so."""
    text = value.strip()
    parts = urlsplit(text)
    if "://" not in text:
        raise ValueError(f"{text!r} has no scheme: write https://{text} (or http:// for a test system)")
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{text!r} is not an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError(f"{text!r} names no host: write https://host.example.com")
    return text.rstrip("/")


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
            if not v.lstrip().startswith("["):
                return [p.strip() for p in v.split(",") if p.strip()]
            try:
                return yaml12.safe_load(v)
            except yaml.YAMLError:
                raise ValueError(f"{v!r} is not a list: write PAY,WEB or [PAY, WEB]") from None
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

    proxy: str | None = Field(
        None, description="HTTP(S) proxy for this system; default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY"
    )

    @field_validator("url", "proxy")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else http_url(v)

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
    look_before_create: Literal["after_interruption", "always"] = Field(
        "after_interruption",
        description="When a record without a link is looked up by correlation id before it is created: "
        "after_interruption (only when an earlier attempt was cut short around its create, or its link "
        "was lost) or always (a new database against an instance bridgeline already wrote to)",
    )
    batch: bool = Field(
        True,
        description="Send a change's task creates and updates together through the Batch API "
        "(/api/now/v1/batch); an instance that does not answer it gets one call each",
    )
    batch_size: int = Field(100, ge=1, le=1000, description="Writes sent in one Batch API call at most")
    timeout: float = Field(30.0, gt=0)
    max_concurrency: int = Field(8, ge=1)
    requests_per_second: float = Field(0.0, ge=0, description="client-side pacing; 0 = none")
    verify: bool | str = True

    proxy: str | None = Field(
        None, description="HTTP(S) proxy for this system; default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY"
    )
    blackout_schedules: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Names of the blackout schedules (cmn_schedule of type blackout) the deployment gate "
        'honours; ["*"]: every blackout schedule of the instance; empty: none',
    )

    @field_validator("blackout_schedules", mode="before")
    @classmethod
    def _schedule_list(cls, v: Any) -> Any:
        if isinstance(v, str):  # from the environment: comma separated
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("url", "proxy")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else http_url(v)

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
    look_before_create: Literal["after_interruption", "always"] = Field(
        "after_interruption",
        description="When a record without a link is looked up by correlation id before it is created: "
        "after_interruption (only when an earlier attempt was cut short around its create, or its link "
        "was lost) or always (a new database against an instance bridgeline already wrote to)",
    )
    timeout: float = Field(30.0, gt=0)
    max_concurrency: int = Field(8, ge=1)
    requests_per_second: float = Field(0.0, ge=0, description="client-side pacing; 0 = none")
    verify: bool | str = True
    proxy: str | None = Field(
        None, description="HTTP(S) proxy for this system; default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY"
    )

    @field_validator("url", "web_url", "proxy")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else http_url(v)


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
    """bridgeline's own HTTP server: where it listens, who may read and act, how much it accepts."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    public_url: str | None = Field(
        None,
        description="The URL people and systems reach bridgeline at (e.g. https://bridgeline.example.com): "
        "its host is the only name requests may carry besides localhost and addresses; unset: the bind host",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1"],
        description="Addresses of reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed "
        '(["*"]: any)',
    )
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body accepted, in bytes")
    body_timeout: float = Field(
        30.0, gt=0, description="Seconds a request body may take to arrive; a slower one is refused (408)"
    )
    admin_token: SecretStr | None = Field(
        None, description="Opens the status page, the API and replay/drop (Bearer, or the page's sign-in)"
    )
    metrics_token: SecretStr | None = Field(None, description="A Bearer token that reads /metrics only")
    metrics_open: bool = Field(False, description="Serve /metrics without authentication (for scrapers)")
    session_seconds: float = Field(8 * 3600.0, gt=0, description="A status page sign-in lasts this long")
    session_idle_seconds: float = Field(
        1800.0, gt=0, description="A sign-in unused for this long ends earlier"
    )
    sign_in_attempts: int = Field(
        5, ge=1, description="Failed sign-ins one client address may make per sign_in_window_seconds"
    )
    sign_in_window_seconds: float = Field(300.0, gt=0)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, v: Any) -> Any:
        if isinstance(v, str):  # from the environment: comma separated, or a YAML/JSON list
            if not v.lstrip().startswith("["):
                return [p.strip() for p in v.split(",") if p.strip()]
            try:
                return yaml12.safe_load(v)
            except yaml.YAMLError:
                raise ValueError(
                    f"{v!r} is not a list: write 10.0.0.1,10.0.0.2 or [10.0.0.1, 10.0.0.2]"
                ) from None
        return v

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, v: str | None) -> str | None:
        return http_url(v) if v is not None and v.strip() else None


PIPELINE_NAME = r"^[a-z0-9][a-z0-9_]{0,62}$"


class PipelineSettings(_Section):
    """A CI/CD pipeline that may ask the deployment gate and report deployments."""

    token: SecretStr = Field(
        description="The pipeline's Bearer token (at least 16 characters); "
        "BRIDGELINE_PIPELINES__<NAME>__TOKEN or ..._TOKEN_FILE"
    )
    projects: Annotated[list[str], NoDecode] = Field(
        min_length=1, description="Jira project keys whose releases this pipeline may ask about and report"
    )

    @field_validator("projects", mode="before")
    @classmethod
    def _comma_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v

    @field_validator("token")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value().strip()) < 16:
            raise ValueError("a pipeline token needs at least 16 characters (e.g. openssl rand -hex 24)")
        return v


class DeploymentSettings(_Section):
    """Deployment events from CI/CD: who may send them, and which repository is which Jira project."""

    github_secret: SecretStr | None = Field(
        None, description="Secret of the GitHub webhook (deployment_status), checked as X-Hub-Signature-256"
    )
    gitlab_token: SecretStr | None = Field(
        None, description="Secret token of the GitLab webhook (Deployment events), sent as X-Gitlab-Token"
    )
    repositories: dict[str, str] = Field(
        default_factory=dict,
        description="GitHub owner/name or GitLab group/project -> the Jira project key its deployments "
        "belong to; the deployed ref (a tag such as 1.4.0 or v1.4.0) names the release",
        examples=[{"acme/payments": "PAY"}],
    )


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
    pipelines: dict[str, PipelineSettings] = Field(
        default_factory=dict,
        description="Pipeline name (lower case, digits, _) -> its token and the projects it may ask about",
    )
    deployments: DeploymentSettings = Field(default_factory=DeploymentSettings)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    migrate_on_start: bool = True

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, v: Any) -> Any:
        return v.strip().lower() if isinstance(v, str) else v

    @field_validator("pipelines", mode="before")
    @classmethod
    def _pipeline_names(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for name in v:
                if not re.match(PIPELINE_NAME, str(name)):
                    raise ValueError(
                        f"pipeline name {name!r}: use lower case letters, digits and _ (it is part of "
                        "BRIDGELINE_PIPELINES__<NAME>__TOKEN)"
                    )
        return v

    @model_validator(mode="after")
    def _pipeline_tokens_apart(self) -> Settings:
        admin = self.server.admin_token.get_secret_value() if self.server.admin_token else None
        seen: dict[str, str] = {}
        for name, pipeline in self.pipelines.items():
            token = pipeline.token.get_secret_value()
            if admin is not None and token == admin:
                raise ValueError(f"pipelines.{name}.token is the admin token: give each pipeline its own")
            if token in seen:
                raise ValueError(f"pipelines.{name}.token is also pipelines.{seen[token]}.token: one each")
            seen[token] = name
        return self

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

    Raises :class:`ConfigError` listing every problem as ``file:line:column: section.key: message``
    (or the environment variable it came from).
    """
    if path is None and os.environ.get(f"{ENV_PREFIX}CONFIG"):
        path = Path(os.environ[f"{ENV_PREFIX}CONFIG"])
    data: dict[str, Any] = {}
    where = "configuration"
    document: yaml12.Document | None = None
    if path is not None:
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: configuration file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read: {exc}") from None
        try:
            document = yaml12.load(text, str(path))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{path}{at}: not valid YAML: {problem}") from None
        loaded = {} if document.data is None else document.data
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of settings")
        data = loaded
        if "mappings" in data:
            # relative mapping paths are relative to the config file
            raw = data["mappings"] if isinstance(data["mappings"], list) else [data["mappings"]]
            data["mappings"] = [str(p if Path(p).is_absolute() else (path.parent / p)) for p in raw]
    unknown = unknown_environment(os.environ)
    if unknown:
        raise ConfigError(f"environment: {len(unknown)} problem(s):\n  " + "\n  ".join(unknown))
    data.update(overrides)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(where, exc, document)) from None
    except SettingsError as exc:
        raise ConfigError(
            f"environment: {exc} (lists and sections in BRIDGELINE_* variables are JSON)"
        ) from None


def environment_names() -> list[str]:
    """Every ``BRIDGELINE_*`` variable that names a setting (sections joined by ``__``)."""
    names: list[str] = [ENV_PREFIX + n for n in NOT_SETTINGS]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            full = f"{prefix}{name.upper()}"
            names.append(full)
            section = _section_of(info.annotation)
            if section is not None:
                walk(section, full + "__")
            else:
                names.append(full + "_FILE")

    walk(Settings, ENV_PREFIX)
    return names


def _section_of(annotation: Any) -> type[BaseModel] | None:
    """The settings section an annotation holds (``JiraSettings | None`` -> JiraSettings)."""
    candidates = [annotation]
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        candidates = list(typing.get_args(annotation))
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def unknown_environment(environ: typing.Mapping[str, str]) -> list[str]:
    """``BRIDGELINE_*`` variables that name no setting, each with the name probably meant."""
    known = environment_names()
    lookup = {n.upper() for n in known}
    problems = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in lookup or _pipeline_variable(upper):
            continue
        if upper[len(ENV_PREFIX) :].startswith(RESERVED_PREFIXES):
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problems.append(f"{name}: unknown setting{hint}; it would be ignored")
    return problems


def _pipeline_variable(upper: str) -> bool:
    """``BRIDGELINE_PIPELINES__<NAME>__TOKEN`` (or ``_FILE``, ``__PROJECTS``): a pipeline by name."""
    parts = upper[len(ENV_PREFIX) :].split("__")
    if len(parts) != 3 or parts[0] != "PIPELINES" or not re.match(PIPELINE_NAME, parts[1].lower()):
        return False
    return parts[2] in ("TOKEN", "TOKEN_FILE", "PROJECTS")


def format_validation_error(where: str, exc: ValidationError, document: yaml12.Document | None = None) -> str:
    lines = [f"{where}: {exc.error_count()} problem(s):"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            known = _known_keys(tuple(err["loc"][:-1]))
            close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1, cutoff=0.6)
            msg = "unknown setting" + (f" (did you mean {close[0]!r}?)" if close else "")
        elif err["type"] == "missing":
            msg = "required setting is missing"
        on_key = err["type"] in ("extra_forbidden", "missing")
        lines.append(f"  {_origin(tuple(err['loc']), document, key=on_key)}{loc}: {msg}")
    return "\n".join(lines)


def _known_keys(path: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] | None = Settings
    for key in path:
        info = model.model_fields.get(str(key)) if model is not None else None
        model = _section_of(info.annotation) if info is not None else None
    return list(model.model_fields) if model is not None else []


def _origin(loc: tuple[Any, ...], document: yaml12.Document | None, *, key: bool) -> str:
    """The variable the value came from, or ``file:line:column: `` of where it was written."""
    variable = ENV_PREFIX + "__".join(str(p).upper() for p in loc)
    if variable in {n.upper() for n in os.environ}:
        return f"{variable}: "
    found = document.at(loc, key=key) if document is not None else None
    return f"{found[0]}:{found[1]}:{found[2]}: " if found else ""


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
