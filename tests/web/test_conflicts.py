"""Two people on one task: the second submission is refused with 409 naming who did it, and a
task claimed by one mediator cannot be submitted or claimed by another."""
import threading

from tests.engine.helpers import MEDIATION_FAILURE, MEDIATION_SUCCESS
from tests.web.support import (
    case_id_from, case_row, events_of, location_path, page, task_row, tasks_of, text, user_id,
)

MEDIATOR_NAME = "李调解（县人民调解委员会）"
SECOND_NAME = "陈调解（县人民调解委员会）"


def _only_one_mediation(factory, case_id, by):
    mediation = tasks_of(factory, case_id, "Task_mediate")
    assert [(t.state, t.completed_by) for t in mediation] == [("completed", user_id(factory, by))]
    completed = events_of(factory, case_id, kind="task_completed", task_spec="Task_mediate")
    assert len(completed) == 1
    assert completed[0].actor_id == user_id(factory, by)
    # The case moved on once: one judicial-confirmation step, open.
    assert [(t.spec_id, t.state) for t in tasks_of(factory, case_id, "Task_confirm_window")] == [
        ("Task_confirm_window", "ready")]
    return completed[0]


def test_second_submission_gets_409_naming_who_completed_it(
        make_client, second_mediator, session_factory, filed_case):
    case_id, task_id, _version = filed_case()
    first, second = make_client("mediator"), make_client(second_mediator)
    # Both open the same form.
    assert first.get(f"/tasks/{task_id}").status_code == 200
    assert second.get(f"/tasks/{task_id}").status_code == 200

    done = first.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS)
    assert done.status_code == 302 and case_id_from(done) == case_id
    lock_version = case_row(session_factory, case_id).lock_version
    events = len(events_of(session_factory, case_id))

    late = second.post(f"/tasks/{task_id}", data=MEDIATION_FAILURE)
    assert late.status_code == 409
    message = text(late)
    assert f"该任务已由 {MEDIATOR_NAME} 办理" in message
    assert "This task was already completed" not in message  # the reader's language alone

    event = _only_one_mediation(session_factory, case_id, "mediator")
    assert event.detail["data"]["outcome"] == "success"
    assert case_row(session_factory, case_id).lock_version == lock_version
    assert len(events_of(session_factory, case_id)) == events
    assert case_row(session_factory, case_id).outcome == "success"


def test_same_mediator_submitting_twice_gets_409(make_client, session_factory, filed_case):
    """The same person in two browser tabs."""
    case_id, task_id, _version = filed_case()
    tab1, tab2 = make_client("mediator"), make_client("mediator")
    assert tab1.get(f"/tasks/{task_id}").status_code == 200
    assert tab2.get(f"/tasks/{task_id}").status_code == 200
    assert tab1.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS).status_code == 302
    again = tab2.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS)
    assert again.status_code == 409
    assert MEDIATOR_NAME in text(again)
    _only_one_mediation(session_factory, case_id, "mediator")


def test_simultaneous_submissions_one_wins(make_client, second_mediator, session_factory, filed_case):
    """Both submissions in flight at the same moment: exactly one succeeds, the other is a 409."""
    case_id, task_id, _version = filed_case()
    clients = {"mediator": make_client("mediator"), second_mediator: make_client(second_mediator)}
    barrier = threading.Barrier(len(clients))
    results = {}

    def submit(name, client):
        barrier.wait()
        results[name] = client.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS)

    threads = [threading.Thread(target=submit, args=item) for item in clients.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    codes = sorted(r.status_code for r in results.values())
    assert codes == [302, 409], {k: (r.status_code, text(r)[:300]) for k, r in results.items()}
    winner = next(name for name, r in results.items() if r.status_code == 302)
    _only_one_mediation(session_factory, case_id, winner)


def test_claimed_task_cannot_be_submitted_by_another_mediator(
        client, login_as, make_client, second_mediator, session_factory, filed_case):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    claimed = client.post(f"/tasks/{task_id}/claim")
    assert claimed.status_code == 302 and location_path(claimed) == f"/tasks/{task_id}"
    mediator_id = user_id(session_factory, "mediator")
    assert task_row(session_factory, task_id).assignee_id == mediator_id
    lock_version = case_row(session_factory, case_id).lock_version
    events = [(e.seq, e.kind) for e in events_of(session_factory, case_id)]
    assert events[-1][1] == "task_claimed"

    other = make_client(second_mediator)
    # The other mediator sees who holds it, and is refused with 409 (a conflict with a colleague,
    # not a missing right) when submitting it; claiming or releasing it brings them back to the
    # case page with the same message.
    view = other.get(f"/tasks/{task_id}")
    assert view.status_code == 200 and f"承办人：{MEDIATOR_NAME}" in text(view)
    refused = other.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS)
    assert refused.status_code == 409
    assert f"该任务已由 {MEDIATOR_NAME} 认领" in text(refused)
    for verb in ("claim", "release"):
        refused = other.post(f"/tasks/{task_id}/{verb}", follow_redirects=True)
        assert refused.request.path == f"/cases/{case_id}" and f"该任务已由 {MEDIATOR_NAME} 认领" in text(refused)
    # Nor is it in the other mediator's pool any more.
    assert str(case_row(session_factory, case_id).code) not in text(other.get("/tasks"))

    task = task_row(session_factory, task_id)
    assert (task.state, task.assignee_id, task.completed_by) == ("ready", mediator_id, None)
    assert case_row(session_factory, case_id).lock_version == lock_version
    assert [(e.seq, e.kind) for e in events_of(session_factory, case_id)] == events

    # The holder can still do it.
    login_as("mediator")
    inbox = page(client.get("/tasks"))
    mine = inbox.xpath('//section[h2[contains(., "由我承办")]]')[0].text_content()
    assert case_row(session_factory, case_id).code in mine
    assert client.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS).status_code == 302
    _only_one_mediation(session_factory, case_id, "mediator")


def test_released_task_can_be_taken_by_another(client, login_as, make_client, second_mediator,
                                               session_factory, filed_case):
    case_id, task_id, _version = filed_case()
    login_as("mediator")
    assert client.post(f"/tasks/{task_id}/claim").status_code == 302
    released = client.post(f"/tasks/{task_id}/release")
    assert released.status_code == 302 and location_path(released) == "/tasks"
    assert task_row(session_factory, task_id).assignee_id is None
    other = make_client(second_mediator)
    assert other.post(f"/tasks/{task_id}", data=MEDIATION_SUCCESS).status_code == 302
    _only_one_mediation(session_factory, case_id, second_mediator)
    kinds = [e.kind for e in events_of(session_factory, case_id) if e.kind.startswith("task_")]
    # The one who did the step, not the one who released it, keeps the next (task_assigned).
    assert kinds == ["task_completed", "task_claimed", "task_released", "task_completed", "task_assigned"]
    assert events_of(session_factory, case_id, "task_assigned")[0].detail["to"] == "陈调解（县人民调解委员会）"
