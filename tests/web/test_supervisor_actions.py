"""A supervisor's actions from the case page, and the reminders a handler sees at the top of
the task list."""
from engine.persistence.models import Reminder
from tests.web.support import case_row, count, events_of, page, task_row, text, user_id


def test_supervisor_flags_reminds_and_gives_a_step_to_a_mediator(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    login_as("supervisor")
    case_page = page(client.get(f"/cases/{case_id}"))
    assert case_page.xpath('//section[@id="supervise"]//form[contains(@action, "/flag")]')
    # Only the step's own unit's mediators are offered (the county's, not the township's).
    offered = case_page.xpath('//section[@id="supervise"]//form[contains(@action, "/assign")]//option[@value!=""]/text()')
    assert "李调解（县人民调解委员会）" in offered and "吴调解（城关镇）" not in offered

    flagged = client.post(f"/supervision/cases/{case_id}/flag", data={"note": "重点矛盾，挂牌督办"})
    assert flagged.status_code == 302 and flagged.headers["Location"].endswith(f"/cases/{case_id}#supervise")
    shown = client.get(f"/cases/{case_id}")
    assert "挂牌督办" in text(shown) and "重点矛盾，挂牌督办" in text(shown)

    # A note is needed: the refusal is a message on the case page, and nothing is recorded.
    refused = client.post(f"/supervision/tasks/{task_id}/remind", data={"note": " "}, follow_redirects=True)
    assert "请填写督办说明" in text(refused)
    assert count(session_factory, Reminder) == 0
    client.post(f"/supervision/tasks/{task_id}/remind", data={"note": "请于三日内组织调解"})
    mediator = user_id(session_factory, "mediator")
    client.post(f"/supervision/tasks/{task_id}/assign", data={"user_id": mediator, "note": "由李调解承办"})
    assert task_row(session_factory, task_id).assignee_id == mediator
    kinds = [e.kind for e in events_of(session_factory, case_id)]
    assert {"case_flagged", "reminder_sent", "task_claimed_on_behalf"} <= set(kinds)

    login_as("mediator")
    inbox = client.get("/tasks")
    reminders = page(inbox).xpath('//section[contains(@class, "reminders")]//li')
    assert len(reminders) == 2
    assert "请于三日内组织调解" in text(inbox) and "交办" in text(inbox)
    first = page(inbox).xpath('//section[contains(@class, "reminders")]//form/@action')[0]
    assert client.post(first).status_code == 302
    assert len(page(client.get("/tasks")).xpath('//section[contains(@class, "reminders")]//li')) == 1


def test_only_supervisors_act(client, login_as, filed_case, session_factory):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    assert client.post(f"/supervision/cases/{case_id}/flag", data={"note": "x"}).status_code == 403
    assert client.post(f"/supervision/tasks/{task_id}/remind", data={"note": "x"}).status_code == 403
    assert not page(client.get(f"/cases/{case_id}")).xpath('//section[@id="supervise"]')
    assert case_row(session_factory, case_id).flagged_at is None
