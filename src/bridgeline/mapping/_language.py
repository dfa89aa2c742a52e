"""The mapping language (``apiVersion: bridgeline/v1``, ``kind: Mapping``), defined once.

These pydantic models validate every mapping document and emit the JSON Schema editors use for
completion (``bridgeline mappings schema``). Templates are strings here; the compiler
(``_compile.py``) turns them into functions and checks what they read.

Conventions the whole language keeps:

* a *template* is a string with ``{{ }}`` placeholders (a string without any is taken as written);
* a *condition* (``when``, ``where``, ``resolved``) is a bare Jinja expression, never wrapped in
  ``{{ }}``: ``version.released and not version.archived``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

API_VERSION = "bridgeline/v1"

Template = Annotated[
    str,
    Field(
        description="A Jinja2 template rendered in the sandbox; a string without {{ }} is used as written.",
        examples=["jira:{{ project.key }}:version:{{ version.id }}"],
    ),
]
Condition = Annotated[
    str | bool,
    Field(
        description="A bare Jinja2 expression (no {{ }}) that is true or false.",
        examples=["version.released and not version.archived"],
    ),
]
Scalar = str | int | float | bool | None
FieldType = Literal["string", "int", "float", "bool", "datetime", "date"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Metadata(Strict):
    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9._-]*$",
        max_length=100,
        description="Unique name of the mapping in the set (lowercase, digits, '.', '_', '-').",
        examples=["servicenow-release"],
    )
    description: str = Field("", description="What the mapping is for, for the people who review it.")


class Source(Strict):
    """What the mapping reads: a Jira release (version) or a Jira issue, and which of them."""

    system: Literal["jira"] = "jira"
    entity: Literal["version", "issue", "train"] = Field(
        description="version = a release (fix-version); issue = one issue; train = the versions of "
        "several projects that share a train key (see `key`), as one release."
    )
    projects: list[str] | None = Field(
        None, description="Project keys the mapping applies to (all when absent).", examples=[["PAY", "WEB"]]
    )
    issue_types: list[str] | None = Field(
        None,
        description="Issue type names. For issue sources: which issues apply. For version sources: "
        "which issues of the release the mapping sees in `issues`.",
        examples=[["Story", "Bug", "Task"]],
    )
    labels: list[str] | None = Field(
        None,
        description="Labels, any of which must be present (issue sources: on the issue; version sources: "
        "narrows `issues`).",
    )
    when: Condition | None = Field(
        None,
        description="Condition on the source context; the mapping is skipped when it is false.",
        examples=["not version.archived"],
    )
    key: Template | None = Field(
        None,
        description="Train mappings only: the train key, rendered from each version of the member "
        "projects (`version`, `project`; its issues are not read for it). Versions with the same key "
        "are one train; an empty key leaves the version out of every train. Default: the version name.",
        examples=[
            "{{ version.name }}",
            "{{ version.name[6:] if version.name.startswith('train-') else '' }}",
        ],
    )

    @model_validator(mode="after")
    def _train(self) -> Source:
        if self.entity == "train" and not self.projects:
            raise ValueError("a train mapping names its member projects (source.projects)")
        if self.key is not None and self.entity != "train":
            raise ValueError("'key' is the train key: only train mappings (entity: train) have one")
        return self


class ServiceNowTarget(Strict):
    """A ServiceNow change request or change task."""

    system: Literal["servicenow"]
    record: Literal["change_request", "change_task"] = "change_request"
    api: Literal["table", "change"] | None = Field(
        None,
        description="table = /api/now/table; change = the Change Management API (sn_chg_rest). Absent: "
        "a change_task follows its change_request, a change_request the servicenow.api setting.",
    )
    type: Literal["normal", "emergency", "standard"] | None = Field(
        None, description="Change model of a change_request (normal when absent)."
    )
    template: str | None = Field(
        None, description="Standard change template (sys_id or name); only with type: standard."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ServiceNowTarget:
        if self.record == "change_task" and self.type is not None:
            raise ValueError("a change_task has no type; type belongs to the change_request")
        if self.type == "standard" and not self.template:
            raise ValueError("a standard change needs 'template' (the standard change template)")
        if self.template and self.type != "standard":
            raise ValueError("'template' is only used with type: standard")
        return self


class RemedyTarget(Strict):
    """A BMC Remedy / Helix infrastructure change, or a task (TMS:Task) of one."""

    system: Literal["remedy"]
    record: Literal["change", "task"] = "change"


Target = Annotated[
    ServiceNowTarget | RemedyTarget,
    Field(discriminator="system", description="Where the record is written."),
]


ConflictPolicy = Literal["source_wins", "target_wins", "newest_wins"]
WritePolicy = Literal["always", "once", "until_approved"]


class FieldSpec(Strict):
    """A target field with a value map, default, requirement, type coercion or length limit."""

    value: Scalar = Field(description="A template or a constant.", examples=["{{ issues | max_priority }}"])
    map: dict[str, Scalar] | str | None = Field(
        None,
        description="Value map applied to the rendered value (keys compared as text), or the name of "
        "a map in `vars`.",
        examples=[{"Highest": "2", "High": "3", "Medium": "3", "Low": "4", "Lowest": "4"}],
    )
    default: Scalar = Field(None, description="Used when the value is empty or has no entry in `map`.")
    required: bool = Field(False, description="Fail the render (RenderError) when the final value is empty.")
    type: FieldType | None = Field(
        None,
        description="Coerce the value; datetime/date are written in the target's format "
        "(ServiceNow YYYY-MM-DD HH:MM:SS UTC, Remedy 2019-01-28T11:19:29.000+0000).",
    )
    tz: str | None = Field(
        None, description="Time zone for reading a datetime without one (a Jira date), e.g. Europe/Berlin."
    )
    max_length: int | None = Field(None, ge=1, description="Cut longer text, ending with an ellipsis (…).")
    conflict: ConflictPolicy | None = Field(
        None,
        description="When the target's copy of this field was edited there: source_wins (bridgeline "
        "writes it back), target_wins (the edit stands and bridgeline stops writing the field), "
        "newest_wins (the edit stands until the source changes the field again). Default: the "
        "mapping's `conflict`.",
    )
    after: str | None = Field(
        None,
        description="Name of another field of the same record that this one must come after (an end "
        "after its start): a render giving a value that is not later fails, naming both fields and "
        "values. The planned windows of ServiceNow (start_date/end_date, planned_start_date/"
        "planned_end_date) and Remedy (Scheduled Start Date/Scheduled End Date) are checked without it.",
        examples=["start_date"],
    )
    write: WritePolicy = Field(
        "always",
        description="When bridgeline sends the field: always (every change), once (when it first writes "
        "a value, normally when it creates the record; later renders never change it), until_approved "
        "(every change until the CAB approves the change, then the approved value stays).",
    )


def _field_kind(value: Any) -> str | None:
    if isinstance(value, dict | FieldSpec):
        return "spec"
    if value is None or isinstance(value, str | int | float | bool):
        return "constant"
    return None


FieldValue = Annotated[
    Annotated[FieldSpec, Tag("spec")] | Annotated[Scalar, Tag("constant")],
    Discriminator(
        _field_kind,
        custom_error_type="field_value",
        custom_error_message="a field is a template string, a number, true/false, null, or a mapping "
        "with value/map/default/required/type/max_length",
    ),
]
Fields = Annotated[
    dict[str, FieldValue],
    Field(
        description="Target field name -> value.",
        examples=[{"short_description": "Release {{ version.name }}", "risk": {"value": "...", "map": {}}}],
    ),
]


class RemovePolicySpec(Strict):
    action: Literal["cancel", "close", "keep"] = Field(
        description="What happens to the child record when its source leaves "
        "(an issue removed from the release)."
    )
    fields: Fields = Field(
        default_factory=dict,
        description="Fields written to the child record when it is cancelled or closed (rendered with "
        "the parent's context: the removed issue is no longer in it).",
    )


def _remove_kind(value: Any) -> str | None:
    if isinstance(value, str):
        return "action"
    if isinstance(value, dict | RemovePolicySpec):
        return "spec"
    return None


OnRemove = Annotated[
    Annotated[Literal["cancel", "close", "keep"], Tag("action")] | Annotated[RemovePolicySpec, Tag("spec")],
    Discriminator(
        _remove_kind,
        custom_error_type="on_remove",
        custom_error_message="on_remove is cancel, close, keep, or a mapping with action and fields",
    ),
]


class Child(Strict):
    """Records made per item of a collection of the source, e.g. a change task per issue."""

    for_each: str = Field(description="Expression giving the collection.", examples=["issues"])
    as_: str = Field(
        "issue", alias="as", pattern=r"^[a-z_][a-z0-9_]*$", description="Name of the item in templates."
    )
    where: Condition | None = Field(None, description="Condition on each item; false skips it.")
    identity: Template = Field(
        description="Correlation id of each child record.",
        examples=["jira:{{ project.key }}:issue:{{ issue.id }}:task"],
    )
    source_key: Template | None = Field(
        None,
        description="Entity reference of the item, used to link the child record to its source. "
        "Default: the item's `ref` when it has one (a train's members and services), else "
        "jira:issue:{{ <as>.id }}.",
    )
    target: Target
    fields: Fields = Field(default_factory=dict)
    on_remove: OnRemove = Field(
        "keep", description="What happens to the child record when its item disappears from the source."
    )


class TransitionParams(Strict):
    to: Template = Field(description="Target Jira status name.", examples=["Ready for Release"])
    comment: Template | None = Field(None, description="Comment added with the transition.")


class RemoteLinkParams(Strict):
    # a default given as Field(...), never bare: older pydantic writes a bare default into the
    # shared Template annotation, and every later Template field would inherit it
    url: Template = Field("{{ link.url }}")
    title: Template = Field("{{ link.number }}")
    summary: Template | None = None
    global_id: Template = Field(
        "bridgeline:{{ link.system }}:{{ link.number }}",
        description="Jira updates the link with the same global id instead of adding another.",
    )
    resolved: Condition | None = Field(
        None, description="Condition: show the link as resolved (struck through) in Jira."
    )
    relationship: Template | None = None
    icon_url: Template | None = None


class LabelParams(Strict):
    add: list[Template] = Field(default_factory=list)
    remove: list[Template] = Field(default_factory=list)


class ReleaseParams(Strict):
    release_date: Template = Field("{{ now | jira_date }}", description="YYYY-MM-DD.")


class PropertyParams(Strict):
    key: Template = Field(description="Property key.", examples=["bridgeline.change"])
    value: Any = Field(description="JSON value; strings inside are templates.")


class _Action(Strict):
    where: Condition | None = Field(
        None, description="Condition on each issue (issue-scoped actions); overrides the rule's where."
    )
    issues: Condition | None = Field(
        None,
        description="Expression giving the issues the action writes to (default `issues`). In a train "
        "mapping, `train.issues` reaches every member project's issues from a child's rule.",
        examples=["train.issues"],
    )


class TransitionAction(_Action):
    transition: Template | TransitionParams = Field(description="Jira status name, or {to, comment}.")


class CommentAction(_Action):
    comment: Template = Field(description="Comment body (plain text; Jira v3 receives it as ADF).")


class RemoteLinkAction(_Action):
    remote_link: RemoteLinkParams | bool = Field(
        description="Link the issue to the target record (true = defaults)."
    )


class LabelAction(_Action):
    label: LabelParams


class FieldAction(_Action):
    field: Fields = Field(description="Jira field id -> value.")


class IssuePropertyAction(_Action):
    issue_property: PropertyParams


class ReleaseVersionAction(Strict):
    release_version: ReleaseParams | bool = Field(description="Mark the release (version) released.")


class VersionDescriptionAction(Strict):
    version_description: Template


class VersionPropertyAction(Strict):
    version_property: PropertyParams


ACTION_KINDS = (
    "transition", "comment", "remote_link", "label", "field", "issue_property",
    "release_version", "version_description", "version_property",
)  # fmt: skip
VERSION_SCOPED = frozenset({"release_version", "version_description", "version_property"})


def _action_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        value = type(value).model_fields
    if not isinstance(value, dict):
        return None
    kinds = [k for k in ACTION_KINDS if k in value]
    return kinds[0] if len(kinds) == 1 else None


Action = Annotated[
    Annotated[TransitionAction, Tag("transition")]
    | Annotated[CommentAction, Tag("comment")]
    | Annotated[RemoteLinkAction, Tag("remote_link")]
    | Annotated[LabelAction, Tag("label")]
    | Annotated[FieldAction, Tag("field")]
    | Annotated[IssuePropertyAction, Tag("issue_property")]
    | Annotated[ReleaseVersionAction, Tag("release_version")]
    | Annotated[VersionDescriptionAction, Tag("version_description")]
    | Annotated[VersionPropertyAction, Tag("version_property")],
    Discriminator(
        _action_kind,
        custom_error_type="action",
        custom_error_message="an action is a mapping with exactly one of: " + ", ".join(ACTION_KINDS),
    ),
]


class ReverseRule(Strict):
    """Target record -> Jira: when the condition holds, the actions run once per distinct trigger."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Unique within the mapping.")
    when: Condition = Field(examples=["target.approval == 'approved'"])
    trigger: Template | None = Field(
        None,
        description="What makes the rule fire again. Default: the target keys its `when` reads "
        "(e.g. approval=approved), so a rule fires once per distinct answer.",
    )
    where: Condition | None = Field(None, description="Condition on each issue for issue-scoped actions.")
    actions: list[Action] = Field(min_length=1)


GATED_ENVIRONMENTS = ("production", "prod", "live")
DEPLOYMENT_STATES = ("started", "succeeded", "failed", "rolled_back")


def _instant(value: str, where: str) -> datetime:
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{where} {value!r} is not a date (2026-12-20) or date-time (2026-12-20T18:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Freeze(Strict):
    """A period in which gated deployments are prevented (a change freeze)."""

    start: str = Field(
        alias="from",
        description="First day (2026-12-20, from midnight UTC) or instant (2026-12-20T18:00:00Z).",
    )
    until: str = Field(description="End, exclusive: a day (from its midnight UTC) or an instant.")
    reason: str = Field(min_length=1, description="What people read, e.g. Year-end freeze.")
    environments: list[str] | None = Field(
        None, description="Environments it applies to (patterns such as prod*); default: every gated one."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Freeze:
        if _instant(self.until, "until") <= _instant(self.start, "from"):
            raise ValueError(f"the freeze ends ({self.until}) before it begins ({self.start})")
        return self

    @property
    def begins(self) -> datetime:
        return _instant(self.start, "from")

    @property
    def ends(self) -> datetime:
        return _instant(self.until, "until")


class Gate(Strict):
    """What the deployment gate (``POST /api/gate``) allows for releases of this mapping."""

    environments: list[str] = Field(
        default_factory=lambda: list(GATED_ENVIRONMENTS),
        description="Gated environments (case-insensitive, patterns such as prod-*); any other is allowed.",
    )
    states: list[str] = Field(
        default_factory=lambda: ["scheduled", "implement"],
        description="Change states (target.state names) in which a deploy may go ahead.",
    )
    approvals: list[str] = Field(
        default_factory=lambda: ["approved"], description="Approvals (target.approval) that allow a deploy."
    )
    window: Literal["required", "if_set", "ignored"] = Field(
        "required",
        description="required: the change's planned window must be open (no window: awaiting); "
        "if_set: only when the change has one; ignored: deploy any time.",
    )
    blackouts: bool = Field(
        True, description="Honour the ServiceNow blackout schedules named in servicenow.blackout_schedules."
    )
    freezes: list[Freeze] = Field(default_factory=list)


DeploymentState = Literal["started", "succeeded", "failed", "rolled_back"]


class DeploymentRule(Strict):
    """A pipeline's deployment -> writes to the change and to Jira, each once per run and state."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Unique within the mapping.")
    environments: list[str] | None = Field(
        None, description="Environments (patterns) the rule reacts to; default: the gated ones."
    )
    states: list[DeploymentState] = Field(min_length=1, examples=[["succeeded"]])
    change: Fields = Field(
        default_factory=dict,
        description="Fields written to the change (state walked forward, never back), e.g. state, "
        "work_notes, close_code, close_notes; Remedy: Status, Status Reason, Work Info Notes (a work "
        "info entry). Templates read deployment, target, link, version, issues.",
        examples=[{"state": "implement", "work_notes": "Deployment started: {{ deployment.run_url }}"}],
    )
    actions: list[Action] = Field(
        default_factory=list, description="Jira actions, as in reverse rules (comment, remote_link, ...)."
    )


class TestInput(Strict):
    train: dict[str, Any] | None = Field(
        None, description="Train mappings: {key} (default: the first member's version name)."
    )
    members: list[dict[str, Any]] | None = Field(
        None, description="Train mappings: the member versions, each {version, project, issues}."
    )
    child: dict[str, Any] | None = Field(
        None,
        description="Train mappings' reverse rules: the child record that answered, {group, source_key} "
        "(absent: the parent).",
    )
    version: dict[str, Any] | None = None
    project: dict[str, Any] | None = None
    issues: list[dict[str, Any]] | None = None
    issue: dict[str, Any] | None = None
    now: str | None = Field(None, description="ISO date-time; default 2024-01-01T00:00:00Z.")
    target: dict[str, Any] | None = None
    link: dict[str, Any] | None = None
    deployment: dict[str, Any] | None = Field(
        None,
        description="A pipeline's deployment (environment, state, run_id, run_url...): enables deployments.",
    )


class TestExpect(Strict):
    skipped: bool | None = Field(None, description="true: the mapping does not apply to this input.")
    error: str | None = Field(None, description="The render fails with a message containing this text.")
    identity: str | None = None
    fields: dict[str, Any] | None = Field(None, description="A subset of the rendered fields.")
    children: list[dict[str, Any]] | None = Field(
        None, description="Each entry (a subset of a rendered child) must match a distinct child."
    )
    children_count: dict[str, int] | None = Field(None, description="Exact number of children per group.")
    reverse: list[dict[str, Any]] | None = Field(
        None, description="Each entry (a subset of a reverse action) must match a distinct action; [] = none."
    )
    no_reverse: list[dict[str, Any]] | None = Field(None, description="No reverse action may match these.")
    deployments: list[dict[str, Any]] | None = Field(
        None,
        description="Each entry (a subset of {rule, change, actions}) must match a distinct deployment "
        "rule's outcome; [] = no rule reacts.",
    )


class TestCase(Strict):
    name: str
    input: TestInput | str = Field(description="Inline input, or a JSON/YAML file relative to this file.")
    now: str | None = Field(None, description="Overrides input.now.")
    target: dict[str, Any] | None = Field(None, description="Overrides input.target (enables reverse).")
    link: dict[str, Any] | None = None
    deployment: dict[str, Any] | None = Field(None, description="Overrides input.deployment.")
    child: dict[str, Any] | None = Field(None, description="Overrides input.child (train mappings).")
    expect: TestExpect


class Override(Strict):
    """Per-project changes, deep-merged into the mapping for that project's entities."""

    vars: dict[str, Any] | None = None
    target: dict[str, Any] | None = None
    fields: dict[str, Any] | None = None
    children: dict[str, dict[str, Any]] | None = None
    reverse: list[dict[str, Any]] | None = None
    on_error: Literal["dead_letter", "skip", "fail"] | None = None
    gate: dict[str, Any] | None = Field(
        None, description="What the deployment gate allows for this project's releases (merged)."
    )
    deployments: list[dict[str, Any]] | None = Field(
        None, description="What this project's deployments write (rules merge by name, like reverse)."
    )


class MappingDocument(Strict):
    """One mapping: a Jira source entity -> a target record (+ children), and the way back."""

    api_version: Literal["bridgeline/v1"] = Field(alias="apiVersion")
    kind: Literal["Mapping"]
    metadata: Metadata
    abstract: bool = Field(False, description="Only a base for `extends`: never applied on its own.")
    extends: str | None = Field(None, description="Name of the mapping this one builds on (deep merge).")
    source: Source | None = None
    target: Target | None = None
    identity: Template | None = Field(
        None,
        description="Correlation id of the target record; unique per source entity.",
        examples=["jira:{{ project.key }}:version:{{ version.id }}"],
    )
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Constants and value maps, available as `vars` in templates."
    )
    fields: Fields = Field(default_factory=dict)
    children: dict[str, Child] = Field(default_factory=dict)
    reverse: list[ReverseRule] = Field(default_factory=list)
    gate: Gate | None = Field(None, description="What the deployment gate allows (defaults when absent).")
    deployments: list[DeploymentRule] = Field(
        default_factory=list, description="What a pipeline's deployment writes (like reverse rules)."
    )
    conflict: ConflictPolicy | None = Field(
        None,
        description="Default conflict policy of the record's fields (see fields.*.conflict). Unset: "
        "source_wins, except the fields the ITSM workflow changes (state, approval, planned window, "
        "assignment, closure), which default to newest_wins.",
    )
    on_error: Literal["dead_letter", "skip", "fail"] = Field(
        "dead_letter",
        description="When a render fails: dead_letter the entity (default), skip it silently, or "
        "fail (stop the sync).",
    )
    overrides: dict[str, Override] = Field(
        default_factory=dict,
        description="Project key -> changes for that project.",
        examples=[{"PAY": {"fields": {"assignment_group": "Payments Platform"}}}],
    )
    tests: list[TestCase] = Field(default_factory=list)


REQUIRED_UNLESS_ABSTRACT = ("source", "target", "identity")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one mapping document (docs/mapping.schema.json)."""
    schema = MappingDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://bridgeline.dev/schemas/mapping.schema.json"
    schema["title"] = "bridgeline mapping (apiVersion bridgeline/v1, kind Mapping)"
    return schema
