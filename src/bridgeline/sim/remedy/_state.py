"""What the simulator knows: the entries of every form, number sequences and live AR-JWT tokens.

Tests read it through :class:`RemedyState`::

    sim.state.change("CRQ000000000106")["Change Request Status"]   # as the REST API would show it
    sim.state.tasks("CRQ000000000106"), sim.state.approvals("CRQ000000000106")
    sim.state.work_info("CRQ000000000106")                         # its CHG:WorkLog entries
    sim.state.stores["CHG:Infrastructure Change"]                  # raw: date-times as epoch seconds

Every read and write holds :attr:`RemedyState.lock` (the server thread and the test thread share it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from bridgeline.sim.remedy._forms import CHANGE, SIGNATURE, TASK, WORK_LOG, Form


@dataclass
class Entry:
    """One entry: its stored values, plus bookkeeping no client can see (e.g. the status before Pending)."""

    values: dict[str, Any]
    hidden: dict[str, Any] = field(default_factory=dict)


@dataclass
class Token:
    user: str
    issued: int
    expires: int


class RemedyState:
    """The entries of every form, the id sequences, and the tokens that are logged in."""

    def __init__(self, forms: dict[str, Form]) -> None:
        self.forms = forms
        self.lock = threading.RLock()
        self.stores: dict[str, dict[str, Entry]] = {form.store: {} for form in forms.values()}
        self.sequences: dict[str, int] = {}
        self.tokens: dict[str, Token] = {}

    # -- numbering -------------------------------------------------------------------------------

    def next_number(self, sequence: str, start: int = 1) -> int:
        with self.lock:
            number = max(self.sequences.get(sequence, start - 1) + 1, start)
            self.sequences[sequence] = number
            return number

    # -- entries ---------------------------------------------------------------------------------

    def form(self, name: str) -> Form:
        return self.forms[name]

    def store(self, form_name: str) -> dict[str, Entry]:
        return self.stores[self.forms[form_name].store]

    def add(self, form_name: str, values: dict[str, Any], hidden: dict[str, Any] | None = None) -> Entry:
        form = self.forms[form_name]
        entry = Entry(dict(values), dict(hidden or {}))
        with self.lock:
            self.stores[form.store][values[form.id_field]] = entry
        return entry

    def get(self, form_name: str, entry_id: str) -> Entry | None:
        with self.lock:
            return self.store(form_name).get(entry_id)

    def entries(self, form_name: str) -> list[dict[str, Any]]:
        """Every entry of a form, rendered as the REST API shows it."""
        form = self.forms[form_name]
        with self.lock:
            return [form.render(e.values) for _, e in sorted(self.store(form_name).items())]

    def entry(self, form_name: str, entry_id: str) -> dict[str, Any] | None:
        found = self.get(form_name, entry_id)
        return None if found is None else self.forms[form_name].render(found.values)

    # -- change requests and what hangs off them ----------------------------------------------------

    def find_change(self, ref: str) -> Entry | None:
        """A change by its CRQ number (``Infrastructure Change ID``), Request ID or InstanceId."""
        with self.lock:
            store = self.stores[CHANGE]
            if ref in store:
                return store[ref]
            for entry in store.values():
                if ref in (entry.values.get("Infrastructure Change ID"), entry.values.get("InstanceId")):
                    return entry
        return None

    def change(self, ref: str) -> dict[str, Any]:
        entry = self.find_change(ref)
        if entry is None:
            raise KeyError(f"no change request {ref!r}")
        return self.forms[CHANGE].render(entry.values)

    def tasks(self, ref: str) -> list[dict[str, Any]]:
        """The change tasks of a change, in sequence order."""
        entry = self.find_change(ref)
        if entry is None:
            raise KeyError(f"no change request {ref!r}")
        crq, instance = entry.values["Infrastructure Change ID"], entry.values["InstanceId"]
        with self.lock:
            found = [
                t.values
                for t in self.stores[TASK].values()
                if t.values.get("RootRequestInstanceID") == instance or t.values.get("RootRequestID") == crq
            ]
            found.sort(key=lambda v: (v.get("Sequence") or 0, v["Task ID"]))
            return [self.forms[TASK].render(v) for v in found]

    def approvals(self, ref: str) -> list[dict[str, Any]]:
        """The approval signatures of a change, oldest first."""
        entry = self.find_change(ref)
        if entry is None:
            raise KeyError(f"no change request {ref!r}")
        request_id = entry.values["Request ID"]
        with self.lock:
            found = sorted(
                (s.values for s in self.stores[SIGNATURE].values() if s.values.get("Request") == request_id),
                key=lambda v: v["Signature ID"],
            )
            return [self.forms[SIGNATURE].render(v) for v in found]

    def work_info(self, ref: str) -> list[dict[str, Any]]:
        """The work info entries (``CHG:WorkLog``) of a change, oldest first."""
        entry = self.find_change(ref)
        if entry is None:
            raise KeyError(f"no change request {ref!r}")
        crq = entry.values["Infrastructure Change ID"]
        with self.lock:
            found = sorted(
                (
                    w.values
                    for w in self.stores[WORK_LOG].values()
                    if w.values.get("Infrastructure Change ID") == crq
                ),
                key=lambda v: v["Work Log ID"],
            )
            return [self.forms[WORK_LOG].render(v) for v in found]

    # -- persistence -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": 1,
                "stores": {
                    store: {eid: {"values": e.values, "hidden": e.hidden} for eid, e in entries.items()}
                    for store, entries in self.stores.items()
                },
                "sequences": dict(self.sequences),
                "tokens": {t: [tok.user, tok.issued, tok.expires] for t, tok in self.tokens.items()},
            }

    def load_json(self, data: dict[str, Any]) -> None:
        if data.get("version") != 1:
            raise ValueError(f"unknown Remedy simulator state version {data.get('version')!r}")
        with self.lock:
            for store in self.stores:
                raw = data["stores"].get(store, {})
                self.stores[store] = {eid: Entry(e["values"], e.get("hidden", {})) for eid, e in raw.items()}
            self.sequences = {k: int(v) for k, v in data["sequences"].items()}
            self.tokens = {t: Token(u, int(i), int(x)) for t, (u, i, x) in data.get("tokens", {}).items()}
