"""The store's frequent statements, built once per dialect and executed with parameters.

Building a statement (an upsert with ``CASE`` expressions, say) and deriving its cache key costs
more than running it on SQLite; a statement built once keeps its cache key, so each execution
goes straight to the compiled form. Parameter names that are not column names end in ``_``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bridgeline.store import tables as t


def _param(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


@dataclass(frozen=True)
class Statements:
    insert_delivery: Any  # params: delivery_id, system, received_at; returns the id when new
    upsert_event: Any  # params: every inbox column but the claim's; see Store._upsert_event
    due: Any  # params: now_, limit_
    take: Any  # params: ids_ (expanding), worker_, until_
    complete: Any  # params: id_, worker_, generation_, now_
    extend: Any  # params: id_, worker_, until_
    link_by_key: Any  # params: mapping_, key_
    link_by_target: Any  # params: system_, id_
    save_link: Any  # params: every links column but id; returns id, created_at
    insert_audit: Any  # executemany: every audit column but id
    applied_done: Any  # params: key, link_id, rule, kind, applied_at, state
    applied_started: Any  # the same params; a key recorded already is left as it is
    set_cursor: Any  # params: name, value, updated_at
    set_mark: Any  # params: entity, scope, mark, updated_at

    @classmethod
    def build(cls, dialect: str) -> Statements:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        c = t.inbox.c

        delivery = insert(t.deliveries)
        insert_delivery = delivery.on_conflict_do_nothing(index_elements=["delivery_id"]).returning(
            t.deliveries.c.delivery_id
        )

        event = insert(t.inbox)
        new = event.excluded
        was_pending = c.state == "pending"
        upsert_event = event.on_conflict_do_update(
            index_elements=["entity"],
            set_={
                "generation": c.generation + 1,
                "state": "pending",
                "source": new.source,
                "hint": new.hint,
                "updated_at": new.updated_at,
                "events": sa.case((was_pending, c.events + 1), else_=1),
                "received_at": sa.case((was_pending, c.received_at), else_=new.received_at),
                # a pending entity keeps its backoff: new events must not hammer a failing target
                "attempts": sa.case((was_pending, c.attempts), else_=0),
                "next_attempt_at": sa.case((was_pending, c.next_attempt_at), else_=new.next_attempt_at),
                "last_error": sa.case((was_pending, c.last_error), else_=None),
            },
        )

        now = _param("now_", c.next_attempt_at)
        due = (
            sa.select(t.inbox)
            .where(
                c.state == "pending",
                c.next_attempt_at <= now,
                sa.or_(c.claimed_until.is_(None), c.claimed_until < now),
            )
            .order_by(c.next_attempt_at, c.id)
            .limit(sa.bindparam("limit_", type_=sa.Integer()))
        )
        if dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        take = (
            sa.update(t.inbox)
            .where(c.id.in_(sa.bindparam("ids_", expanding=True)))
            .values(
                claimed_by=_param("worker_", c.claimed_by),
                claimed_until=_param("until_", c.claimed_until),
                claimed_generation=c.generation,
            )
        )
        held = sa.and_(c.id == _param("id_", c.id), c.claimed_by == _param("worker_", c.claimed_by))
        complete = (
            sa.update(t.inbox)
            .where(held, c.generation == _param("generation_", c.generation))
            .values(
                state="done",
                attempts=0,
                events=0,
                last_error=None,
                updated_at=_param("now_", c.updated_at),
                claimed_by=None,
                claimed_until=None,
                claimed_generation=None,
            )
        )
        extend = sa.update(t.inbox).where(held).values(claimed_until=_param("until_", c.claimed_until))

        lc = t.links.c
        link_by_key = sa.select(t.links).where(
            lc.mapping == _param("mapping_", lc.mapping), lc.key == _param("key_", lc.key)
        )
        link_by_target = sa.select(t.links).where(
            lc.target_system == _param("system_", lc.target_system),
            lc.target_id == _param("id_", lc.target_id),
        )
        link = insert(t.links)
        save_link = link.on_conflict_do_update(
            index_elements=["mapping", "key"],
            set_={
                col.name: link.excluded[col.name] for col in t.links.c if col.name not in ("id", "created_at")
            },
        ).returning(lc.id, lc.created_at)

        applied = insert(t.applied_actions)
        applied_done = applied.on_conflict_do_update(
            index_elements=["key"], set_={"state": "done", "applied_at": applied.excluded.applied_at}
        )
        applied_started = applied.on_conflict_do_nothing(index_elements=["key"])
        cursor = insert(t.cursors)
        set_cursor = cursor.on_conflict_do_update(
            index_elements=["name"],
            set_={"value": cursor.excluded.value, "updated_at": cursor.excluded.updated_at},
        )
        mark = insert(t.source_marks)
        set_mark = mark.on_conflict_do_update(
            index_elements=["entity"],
            set_={
                "mark": mark.excluded.mark,
                "scope": mark.excluded.scope,
                "updated_at": mark.excluded.updated_at,
            },
        )
        return cls(
            insert_delivery=insert_delivery,
            upsert_event=upsert_event,
            due=due,
            take=take,
            complete=complete,
            extend=extend,
            link_by_key=link_by_key,
            link_by_target=link_by_target,
            save_link=save_link,
            insert_audit=sa.insert(t.audit),
            applied_done=applied_done,
            applied_started=applied_started,
            set_cursor=set_cursor,
            set_mark=set_mark,
        )
