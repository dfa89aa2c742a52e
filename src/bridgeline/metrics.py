"""Prometheus metrics, defined once. Served at ``/metrics`` by the daemon.

Label values are bounded: endpoints are templates (``/rest/api/3/issue/{key}``), never raw URLs.
Counters are updated where things happen (HTTP client, pollers, workers, reconciler); the gauges
that describe state (queue depth, dead letters, lag, in-flight work, connector health) are also
refreshed from the store on every scrape, so a scrape never shows a stale picture.
Failed attempts are ``bridgeline_events_processed_total{outcome=~"pending|dead"}``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

API_CALLS = Counter(
    "bridgeline_api_calls_total",
    "Calls to remote systems, by system, method, endpoint template and HTTP status (or error class).",
    ["system", "method", "endpoint", "status"],
    registry=REGISTRY,
)
API_LATENCY = Histogram(
    "bridgeline_api_call_seconds",
    "Latency of calls to remote systems, by system, endpoint template and HTTP status (or error class).",
    ["system", "endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=REGISTRY,
)
API_RETRIES = Counter(
    "bridgeline_api_retries_total",
    "Retried calls, by system and reason.",
    ["system", "reason"],
    registry=REGISTRY,
)
API_RATE_LIMITED = Counter(
    "bridgeline_api_rate_limited_total",
    "429 answers (and 503 with Retry-After) received.",
    ["system"],
    registry=REGISTRY,
)
EVENTS_RECEIVED = Counter(
    "bridgeline_events_received_total",
    "Events appended to the inbox, by system, entity kind and source (poll, webhook, replay).",
    ["system", "kind", "source"],
    registry=REGISTRY,
)
EVENTS_PROCESSED = Counter(
    "bridgeline_events_processed_total",
    "Inbox entities processed, by system, kind and outcome (done; pending: failed, will retry; dead).",
    ["system", "kind", "outcome"],
    registry=REGISTRY,
)
FAILURES = Counter(
    "bridgeline_sync_failures_total",
    "Failed attempts to process an inbox entity, by system, entity kind and error class"
    " (retryable, permanent, config, not_found, bug) - each failed attempt counts once.",
    ["system", "kind", "error"],
    registry=REGISTRY,
)
WRITES = Counter(
    "bridgeline_writes_total",
    "Writes to target systems, by system and action (create, update, adopt, retire, transition, ...).",
    ["system", "action"],
    registry=REGISTRY,
)
GATE_ANSWERS = Counter(
    "bridgeline_gate_answers_total",
    "Answers of the deployment gate, by decision (allowed, awaiting, prevented, invalid).",
    ["decision"],
    registry=REGISTRY,
)
DEPLOYMENTS = Counter(
    "bridgeline_deployments_total",
    "Deployment reports received from pipelines, by state (started, succeeded, failed, rolled_back).",
    ["state"],
    registry=REGISTRY,
)
UNAUTHORIZED_DEPLOYMENTS = Counter(
    "bridgeline_unauthorized_deployments_total",
    "Deployment runs to a gated environment the gate would not have allowed.",
    registry=REGISTRY,
)
SYNC_LAG = Gauge(
    "bridgeline_sync_lag_seconds",
    "Seconds since each connector's last successful poll.",
    ["connector"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge("bridgeline_queue_depth", "Inbox entities by state.", ["state"], registry=REGISTRY)
DEAD_LETTERS = Gauge("bridgeline_dead_letters", "Entities in the dead letters.", registry=REGISTRY)
RENDER_SECONDS = Histogram(
    "bridgeline_mapping_render_seconds",
    "Time to render one mapping for one entity.",
    ["mapping"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
    registry=REGISTRY,
)
MAPPINGS_LOADED = Gauge("bridgeline_mappings_loaded", "Mappings currently live.", registry=REGISTRY)
MAPPING_RELOAD_FAILURES = Counter(
    "bridgeline_mapping_reload_failures_total",
    "Mapping reloads refused because the new set was invalid.",
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "bridgeline_info", "Always 1; the running version as a label.", ["version"], registry=REGISTRY
)
OLDEST_PENDING = Gauge(
    "bridgeline_oldest_pending_seconds",
    "Age of the oldest pending inbox entity: how far behind the sync is (0 when nothing waits).",
    registry=REGISTRY,
)
IN_FLIGHT = Gauge("bridgeline_in_flight", "Entities this replica is processing right now.", registry=REGISTRY)
CONNECTOR_UP = Gauge(
    "bridgeline_connector_up",
    "1 when the last connectivity check of a system (credentials included) passed, else 0.",
    ["system"],
    registry=REGISTRY,
)
DEAD_LETTER_ACTIONS = Counter(
    "bridgeline_dead_letter_actions_total",
    "Dead letters replayed or dropped by an operator (status page, API).",
    ["action"],
    registry=REGISTRY,
)
