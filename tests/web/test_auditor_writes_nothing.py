"""Auditors change nothing anywhere: every route that writes answers 403 to them, and nothing
is written. The routes are read from the application itself, so a new one is covered too."""
import re

import pytest

from engine.persistence.models import AuditEvent, Case, ProcessVersion, Task
from tests.web.support import count

# Signing in and out, choosing the language and changing one's own password change the session and
# one's own login, not the records.
SESSION_ROUTES = {"auth.login", "auth.logout", "auth.set_lang", "auth.password", "public.follow", "public.rate"}
# The residents' own pages take anyone, logged in or not, as a resident: filing there makes a
# submission for a clerk to accept (no case, no step) and needs a one-time code to the phone; a
# party's confirmation of the joint application needs a code sent to a party's own phone.
PUBLIC_ROUTES = {"resident.file", "public.application_code", "public.application_confirm"}


def _write_routes(app):
    for rule in app.url_map.iter_rules():
        methods = rule.methods - {"GET", "HEAD", "OPTIONS"}
        if methods and rule.endpoint not in SESSION_ROUTES | PUBLIC_ROUTES and not rule.rule.startswith("/api/"):
            yield rule


def test_every_write_route_is_403_for_an_auditor(app, client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    routes = list(_write_routes(app))
    assert len(routes) >= 15, [r.rule for r in routes]
    before = [count(session_factory, model) for model in (Case, Task, AuditEvent, ProcessVersion)]
    login_as("auditor")
    refused = {}
    for rule in routes:
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(task_id if "task" in m.group(1) else case_id), rule.rule)
        for method in sorted(rule.methods - {"GET", "HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={"note": "x", "reason": "x", "days": "1"})
            refused[f"{method} {rule.rule}"] = response.status_code
    assert {route: code for route, code in refused.items() if code != 403} == {}
    assert [count(session_factory, model) for model in (Case, Task, AuditEvent, ProcessVersion)] == before
