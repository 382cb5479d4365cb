"""A case's path through its diagrams, read from its history: which elements it went through,
where it stands now, and when each step started and finished. Drawn over the case's own version
of the diagrams on the auditor's trace page."""
from dataclasses import dataclass, field

from engine.persistence.states import EventKind

_CURRENT = ("READY", "STARTED")


@dataclass
class Path:
    taken: set = field(default_factory=set)      # elements completed at least once
    current: set = field(default_factory=set)    # open steps and running called pathways now
    waiting: set = field(default_factory=set)    # timers counting now
    flows: set = field(default_factory=set)      # sequence flows between elements the case went through
    times: dict = field(default_factory=dict)    # element -> {"start", "done", "by"}
    files: list = field(default_factory=list)    # the diagrams the case went through, main one first
    shown: str | None = None                     # the diagram to show first: where the case stands


def path_of(meta, process_key, events):
    """`events` in sequence order. Each round of a reopened case adds to the same path; the state
    of an element is its last one."""
    last, path = {}, Path()
    for event in events:
        element = event.task_spec
        if not element:
            continue
        if event.kind == "engine":
            to = (event.detail or {}).get("to")
            last[element] = to
            times = path.times.setdefault(element, {})
            if to in ("READY", "WAITING", "STARTED"):
                times.setdefault("start", event.at)
            elif to == "COMPLETED":
                times.setdefault("start", event.at)
                times["done"] = event.at
                path.taken.add(element)
        elif event.kind == EventKind.TASK_COMPLETED:
            path.times.setdefault(element, {})["by"] = event.actor_name
    path.current = {e for e, state in last.items() if state in _CURRENT}
    path.waiting = {e for e, state in last.items() if state == "WAITING"}
    reached = path.taken | path.current | path.waiting
    path.flows = {flow for flow, (source, target) in meta.get("flows", {}).items()
                  if source in path.taken and target in reached}
    elements = meta.get("elements", {})
    main = meta.get("processes", {}).get(process_key, {}).get("file")
    files = {elements[e]["file"] for e in reached if e in elements and elements[e].get("file")}
    path.files = ([main] if main else []) + sorted(files - {main})
    # Where the case stands: the deepest diagram holding an open step (not a running call).
    open_steps = [e for e in path.current if elements.get(e, {}).get("type") == "userTask"]
    path.shown = next((elements[e]["file"] for e in sorted(open_steps) if elements[e].get("file")), main)
    return path


def changes_since_last(submissions):
    """For each submission of a step the case had made before (a reopened case, a repeat visit),
    the fields whose value differs from the last time: {event id: [(field, before, after)]}.
    `submissions` are (event id, step, data) in order, data already masked for the reader."""
    last, found = {}, {}
    for event_id, step, data in submissions:
        before = last.get(step)
        if before is not None:
            found[event_id] = [(name, before.get(name), data.get(name)) for name in sorted(data.keys() | before.keys())
                               if before.get(name) != data.get(name)]
        last[step] = data
    return found
