"""Experts of the registry summoned by a step (the whistle): a field of its form marked
`"x-options": "experts"` and `"x-summon": true` names them. When the step is submitted, the case's
history names each one with their assignment (EventKind.EXPERTS_SUMMONED), and those who work with
a login are told by text message (the outbox), in the same transaction."""
from sqlalchemy import select

from engine.cases import outbox
from engine.messages import Msg, in_chinese
from engine.persistence.models import Resolver
from engine.persistence.states import EventKind
from engine.reading.expert_options import SOURCE
from engine.reading.registry import KINDS


def _summoned(form, data):
    """[(expert id, assignment)] the submitted data names in the form's summoning fields."""
    found = []
    for name, prop in form.schema.get("properties", {}).items():
        items = prop.get("items", {}).get("properties", {}) if prop.get("type") == "array" else {}
        keys = [sub for sub, subprop in items.items() if subprop.get("x-options") == SOURCE and subprop.get("x-summon")]
        if not keys or not isinstance(data.get(name), list):
            continue
        for item in data[name]:
            for key in keys:
                if isinstance(item, dict) and str(item.get(key, "")).isdigit():
                    found.append((int(item[key]), str(item.get("assignment", ""))))
    return found


def summon(session, act, form, data):
    """Record and tell the experts the submitted step summoned (nothing when it summoned none)."""
    summoned = _summoned(form, data)
    if not summoned:
        return []
    people = {p.id: p for p in session.scalars(select(Resolver).where(Resolver.id.in_([i for i, _a in summoned])))}
    task, case = act.task, act.case
    named = []
    for expert_id, assignment in summoned:
        person = people.get(expert_id)
        if person is None:
            continue
        named.append({"resolver_id": person.id, "name": person.name, "kind": person.kind, "assignment": assignment,
                      "told": person.user_id is not None})
        if person.user_id is not None:
            outbox.enqueue(session, in_chinese(Msg(
                "[Yizhan] %(code)s: you are summoned as %(kind)s to “%(step)s”: %(assignment)s", code=case.code,
                kind=Msg(KINDS[person.kind]), step=task.title, assignment=assignment)),
                user_id=person.user_id, topic="notice", case_id=case.id)
    if named:
        act.log.add(act.actor, EventKind.EXPERTS_SUMMONED, task.spec_id, task.title, {"experts": named})
    return named
