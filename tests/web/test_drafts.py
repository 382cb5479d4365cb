"""A mediation record written over weeks: a task form saved as a draft (unvalidated, for the one
working the task only), shown again on reopening, deleted by the submission; releasing the task
asks first; a text over its field's limit is refused with the text kept, never cut."""
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from engine.persistence.models import AuditEvent, TaskDraft
from tests.engine.helpers import MEDIATION_SUCCESS
from tests.web.support import case_row, events_of, location_path, page, reading, task_row, text, user_id

MEDIATOR_NAME = "李调解（县人民调解委员会）"
# Half a record: no outcome chosen yet (required), a date still being typed.
HALF = {"sessions-0-held_on": "2026-09", "sessions-0-place": "东关村调解室",
        "sessions-0-notes": "第一次调解：双方陈述意见，约定下周再谈。", "save_draft": "1"}


@pytest.fixture
def drafted(client, login_as, filed_case):
    """A filed case whose mediation step the county mediator saved half done: (case id, task id)."""
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    assert client.post(f"/tasks/{task_id}", data=HALF).status_code == 302
    return case_id, task_id


def drafts(factory, task_id=None):
    with reading(factory) as s:
        query = sa.select(TaskDraft)
        if task_id is not None:
            query = query.where(TaskDraft.task_id == task_id)
        return s.scalars(query).all()


def field_value(response, name):
    found = page(response).xpath(f'//*[@name="{name}"]')
    assert found, f"no field {name}"
    return found[0].text if found[0].tag == "textarea" else found[0].get("value")


def test_a_draft_is_saved_unvalidated_and_shown_again(client, login_as, session_factory, filed_case):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    events = [e.kind for e in events_of(session_factory, case_id)]
    lock_version = case_row(session_factory, case_id).lock_version
    saved = client.post(f"/tasks/{task_id}", data=HALF)
    # Saved although "outcome" is required and the date is half typed: back to the form.
    assert saved.status_code == 302 and location_path(saved) == f"/tasks/{task_id}"
    [draft] = drafts(session_factory, task_id)
    assert draft.user_id == user_id(session_factory, "mediator")
    assert draft.data["sessions"] == [{"held_on": "2026-09", "place": "东关村调解室",
                                       "notes": "第一次调解：双方陈述意见，约定下周再谈。"}]
    # The workflow saw nothing: the task is open, the step not done. Saving from the pool claimed it,
    # and that claim is the only audit entry; what was typed is nowhere in the chain.
    task = task_row(session_factory, task_id)
    assert (task.state, task.assignee_id) == ("ready", user_id(session_factory, "mediator"))
    assert [e.kind for e in events_of(session_factory, case_id)] == events + ["task_claimed"]
    with reading(session_factory) as s:
        details = " ".join(str(d) for d in s.scalars(sa.select(AuditEvent.detail).where(AuditEvent.case_id == case_id)))
    assert "东关村调解室" not in details
    assert case_row(session_factory, case_id).lock_version == lock_version + 1  # the claim, nothing more

    reopened = client.get(f"/tasks/{task_id}")
    assert reopened.status_code == 200
    assert "草稿已保存（尚未提交）" in text(reopened)
    in_china = draft.saved_at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert f"草稿保存于 {in_china:%Y-%m-%d %H:%M}（{MEDIATOR_NAME}），尚未提交。" in " ".join(text(reopened).split())
    assert field_value(reopened, "sessions-0-place") == "东关村调解室"
    assert field_value(reopened, "sessions-0-held_on") == "2026-09"
    assert "第一次调解" in field_value(reopened, "sessions-0-notes")

    # Saving again replaces the draft: still one per task.
    assert client.post(f"/tasks/{task_id}", data={**HALF, "sessions-0-place": "村委会"}).status_code == 302
    [again] = drafts(session_factory, task_id)
    assert again.data["sessions"][0]["place"] == "村委会"


def test_nobody_else_sees_or_saves_the_draft(make_client, second_mediator, session_factory, drafted):
    _case_id, task_id = drafted
    # A colleague of the same unit sees the form, not the draft, and cannot save over it.
    colleague = make_client(second_mediator)
    view = colleague.get(f"/tasks/{task_id}")
    assert view.status_code == 200
    assert "东关村调解室" not in view.get_data(as_text=True) and "草稿保存于" not in text(view)
    refused = colleague.post(f"/tasks/{task_id}", data={**HALF, "sessions-0-place": "别处"})
    assert refused.status_code == 409 and f"该任务已由 {MEDIATOR_NAME} 认领" in text(refused)
    # A town mediator does not even see the county's task.
    town = make_client("mediator_cg")
    assert town.get(f"/tasks/{task_id}").status_code == 403
    assert town.post(f"/tasks/{task_id}", data=HALF).status_code == 403
    [draft] = drafts(session_factory, task_id)
    assert draft.data["sessions"][0]["place"] == "东关村调解室"


def test_an_invalid_submission_keeps_the_text_and_the_draft(client, session_factory, drafted):
    _case_id, task_id = drafted
    typed = {k: v for k, v in HALF.items() if k != "save_draft"} | {"sessions-0-notes": "第二次调解：仍有分歧。"}
    refused = client.post(f"/tasks/{task_id}", data=typed)
    assert refused.status_code == 422
    assert field_value(refused, "sessions-0-notes") == "第二次调解：仍有分歧。"
    assert page(refused).xpath('//p[@id="e-outcome"]')
    # The draft is as it was saved: a refused submission neither deletes nor overwrites it.
    [draft] = drafts(session_factory, task_id)
    assert draft.data["sessions"][0]["notes"] == "第一次调解：双方陈述意见，约定下周再谈。"


def test_submitting_deletes_the_draft(client, session_factory, drafted):
    case_id, task_id = drafted
    done = client.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS)
    assert done.status_code == 302 and location_path(done) == f"/cases/{case_id}"
    assert drafts(session_factory) == []
    assert task_row(session_factory, task_id).state == "completed"
    [completed] = events_of(session_factory, case_id, kind="task_completed", task_spec="Task_mediate")
    assert completed.detail["data"]["outcome"] == "success"  # the submission, not the draft


def test_a_draft_over_a_limit_is_refused_with_the_text_kept(client, login_as, session_factory, filed_case):
    _case_id, task_id, _version = filed_case()
    login_as("mediator")
    long = "调" * 10_000
    refused = client.post(f"/tasks/{task_id}", data={**HALF, "sessions-0-notes": long})
    assert refused.status_code == 422
    assert "不能超过 4000 个字（现有 10000 个字）" in text(refused)
    assert field_value(refused, "sessions-0-notes") == long
    assert drafts(session_factory) == []


def test_ten_thousand_characters_are_refused_not_cut(client, login_as, session_factory, filed_case):
    """The field says its limit, the server refuses beyond it naming the field, and keeps every
    character typed; nothing reaches the case."""
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    form = page(client.get(f"/tasks/{task_id}"))
    notes = form.xpath('//textarea[@name="sessions-0-notes"]')[0]
    # data-maxlength, not maxlength: a browser cuts pasted text to maxlength silently.
    assert notes.get("data-maxlength") == "4000" and notes.get("maxlength") is None
    assert "最多 4000 字" in notes.getnext().text_content()
    long = "议" * 10_000
    refused = client.post(f"/tasks/{task_id}", data={**MEDIATION_SUCCESS, "sessions-0-notes": long})
    assert refused.status_code == 422
    error = page(refused).xpath('//p[@id="e-sessions-0-notes"]')[0].text_content()
    assert error == "不能超过 4000 个字（现有 10000 个字），请删减后再提交"
    assert field_value(refused, "sessions-0-notes") == long
    assert task_row(session_factory, task_id).state == "ready"
    assert case_row(session_factory, case_id).outcome is None


def test_line_breaks_count_once(client, login_as, session_factory, filed_case):
    """Browsers post a text area's line breaks as CRLF; the limit counts each as one character,
    as the counter beside the field does."""
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    notes = "\r\n".join(["议" * 99] * 40)  # 3,960 characters and 39 breaks: 3,999 as seen
    done = client.post(f"/tasks/{task_id}", data={**MEDIATION_SUCCESS, "sessions-0-notes": notes})
    assert done.status_code == 302
    [completed] = events_of(session_factory, case_id, kind="task_completed", task_spec="Task_mediate")
    assert completed.detail["data"]["sessions"][0]["notes"] == notes.replace("\r\n", "\n")


def test_release_asks_first(client, login_as, session_factory, filed_case):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    assert client.post(f"/tasks/{task_id}/claim").status_code == 302
    form = page(client.get(f"/tasks/{task_id}"))
    # On the form, releasing is a link to a question, away from the submit button; no form posts it.
    assert not form.xpath(f'//form[@action="/tasks/{task_id}/release"]')
    [link] = form.xpath(f'//a[@href="/tasks/{task_id}/release"]')
    assert "退回待领" in link.text_content() and "release" in link.get("class")
    asked = client.get(f"/tasks/{task_id}/release")
    assert asked.status_code == 200 and "退回待领？" in text(asked)
    assert task_row(session_factory, task_id).assignee_id == user_id(session_factory, "mediator")  # asking changes nothing
    [confirm] = page(asked).xpath(f'//form[@action="/tasks/{task_id}/release"][@method="post"]')
    assert "确认退回待领" in confirm.text_content()
    released = client.post(f"/tasks/{task_id}/release")
    assert released.status_code == 302 and location_path(released) == "/tasks"
    assert task_row(session_factory, task_id).assignee_id is None
    assert events_of(session_factory, case_id)[-1].kind == "task_released"
    # Nothing of theirs to release any more: the question is not asked, the form is shown.
    again = client.get(f"/tasks/{task_id}/release")
    assert again.status_code == 302 and location_path(again) == f"/tasks/{task_id}"


def test_a_released_task_keeps_its_draft_for_the_next_handler(client, make_client, second_mediator, drafted):
    _case_id, task_id = drafted
    assert "保存于" in text(client.get(f"/tasks/{task_id}/release"))
    assert client.post(f"/tasks/{task_id}/release").status_code == 302
    colleague = make_client(second_mediator)
    view = colleague.get(f"/tasks/{task_id}")
    assert "草稿保存于" in text(view) and field_value(view, "sessions-0-place") == "东关村调解室"
