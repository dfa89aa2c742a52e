"""The declarative mapping engine: Jira releases and issues -> ITSM change records, and back.

Pure: it takes dicts (raw Jira JSON turned into contexts) and returns frozen values; the only I/O is
reading mapping files at load. ::

    from bridgeline.mapping import load_mapping_set, version_context

    mappings = load_mapping_set([Path("mappings")])        # raises MappingSetError(problems)
    ctx = version_context(version, project, issues, now)
    for mapping in mappings.for_source(system="jira", entity="version"):
        if mapping.applies(ctx):
            rendered = mapping.render(ctx)                   # raises bridgeline.errors.RenderError
    actions = mapping.reverse({**ctx, "target": target})     # Jira writes the CAB's answer asks for

The language is documented in docs/mappings.md; its JSON Schema in docs/mapping.schema.json.
"""

from __future__ import annotations

from bridgeline.mapping._context import issue_context, normalize_issue, release_page, version_context
from bridgeline.mapping._language import Gate as GateSpec
from bridgeline.mapping._language import json_schema
from bridgeline.mapping._loader import MappingTest, load_mapping_set
from bridgeline.mapping._mapping import DeploymentPlan, Mapping, environment_matches
from bridgeline.mapping._problems import MappingSetError, Problem
from bridgeline.mapping._results import (
    ChildSpec,
    RemovePolicy,
    Rendered,
    RenderedChild,
    ReverseAction,
    SourceSpec,
    TargetSpec,
)
from bridgeline.mapping._sets import MappingSet
from bridgeline.mapping._trains import split_child_key, train_context, train_level

__all__ = [
    "ChildSpec",
    "DeploymentPlan",
    "GateSpec",
    "Mapping",
    "MappingSet",
    "MappingSetError",
    "MappingTest",
    "Problem",
    "RemovePolicy",
    "Rendered",
    "RenderedChild",
    "ReverseAction",
    "SourceSpec",
    "TargetSpec",
    "environment_matches",
    "issue_context",
    "json_schema",
    "load_mapping_set",
    "normalize_issue",
    "release_page",
    "split_child_key",
    "train_context",
    "train_level",
    "version_context",
]
