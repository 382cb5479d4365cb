"""Joint meetings (联席会议): the agenda drawn from the cases that need the meeting, each with its
reasons; decisions that become actions on the cases, in their history naming the meeting; a
stale save refused; who may change a meeting."""
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from engine.access.policy import Actor
from engine.cases import meetings, supervision
from engine.errors import Conflict, FormInvalid, NotAllowed, NotFound
from engine.legaltime.clock import CHINA
from engine.persistence.models import AuditEvent, Case, CaseTransfer, Meeting, MeetingItem, OrgUnit, Reminder, Task, User
from engine.persistence.states import EventKind
from engine.reading import meetings as reading

from .helpers import WHISTLE, actor, complete, file_matter, open_task

START = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in China
LATER = datetime(2027, 1, 11, 9, 0, tzinfo=CHINA)  # past the month of mediation


def _county(session):
    return session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q"))


def _schedule(session, who="supervisor", **changes):
    data = {"kind": "weekly", "day": "2027-01-11", "time": "09:00", "title": "", "place": "县中心三楼会商室",
            "chair_id": str(actor(session, "supervisor").user_id)}
    data.update(changes)
    return meetings.schedule(session, actor(session, who), _county(session).id, data)


def _file(session, n, **changes):
    """A matter of its own parties (the same parties again would be repeat visits, which raise
    the risk colour)."""
    return file_matter(session, **{"parties-0-id_type": "other", "parties-0-id_number": f"A{n:06d}",
                                   "parties-0-phone": f"1370000{n:04d}", "parties-1-id_type": "other",
                                   "parties-1-id_number": f"B{n:06d}", "parties-1-phone": f"1360000{n:04d}",
                                   **changes})


def _events(session, case_id, kind):
    return session.scalars(sa.select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)
                           .order_by(AuditEvent.seq)).all()


@pytest.fixture()
def four_cases(session):
    """Filed on 23 November 2026: one that will be overdue (mediation, a month), one red (60
    people), one listed for supervision, one whistled (complex: the departments are summoned);
    and a plain one filed on the day of the meeting, which needs nothing."""
    with time_machine.travel(START, tick=False):
        overdue = _file(session, 1)
        red = _file(session, 2, people_count="60")
        flagged = _file(session, 3, category="marriage_family")
        supervision.flag_case(session, actor(session, "supervisor"), flagged.id, "群众多次来电反映")
        whistled = _file(session, 4, complex="on")
        complete(session, "supervisor", whistled.id, "Task_whistle", WHISTLE)
    with time_machine.travel(LATER, tick=False):
        plain = _file(session, 5, category="contract")
    return {"overdue": overdue.id, "red": red.id, "flagged": flagged.id, "whistle": whistled.id, "plain": plain.id}


def test_the_title_is_prefilled_as_centers_name_them():
    assert reading.suggested_title("weekly", date(2026, 11, 23)) == "2026年第48周矛盾纠纷研判会"
    assert reading.suggested_title("daily", date(2026, 11, 23)) == "2026年11月23日矛盾纠纷日会商"
    assert reading.suggested_title("monthly", date(2026, 12, 1)) == "2026年12月矛盾纠纷月分析会"
    assert reading.suggested_day("weekly", date(2026, 11, 25)) == date(2026, 11, 30)
    assert reading.suggested_day("monthly", date(2026, 12, 25)) == date(2027, 1, 1)


def test_the_agenda_is_drawn_from_the_cases_that_need_it_with_their_reasons(session, four_cases):
    with time_machine.travel(LATER, tick=False):
        found, total = reading.needs(session, _county(session))
    assert four_cases["plain"] not in found
    reasons = {case_id: need.reasons for case_id, need in found.items()}
    # Every case filed in November is past its month of mediation or the departments' report-by
    # days by January; each also has its own reason.
    assert reasons[four_cases["overdue"]] == ["overdue"]
    assert "red" in reasons[four_cases["red"]]
    assert "flagged" in reasons[four_cases["flagged"]]
    assert "whistle" in reasons[four_cases["whistle"]]
    assert total == 4
    overdue = found[four_cases["overdue"]]
    assert overdue.overdue_steps[0][0].startswith("人民调解")
    assert found[four_cases["whistle"]].whistle_at is not None
    # Cases needing more are taken first.
    assert list(found)[-1] == four_cases["overdue"]


def test_drawing_reads_a_fixed_number_of_queries_whatever_the_number_of_cases(session, four_cases):
    statements = []
    engine = session.get_bind()
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        with time_machine.travel(LATER, tick=False):
            reading.needs(session, _county(session))
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert len(statements) <= 5


def test_a_village_meeting_sees_only_its_own_cases(session, four_cases):
    village = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q-CG-DG"))
    with time_machine.travel(LATER, tick=False):
        assert reading.needs(session, village) == ({}, 0)


def test_decisions_become_actions_on_the_cases_named_in_their_history(session, four_cases):
    boss = actor(session, "supervisor")
    with time_machine.travel(LATER, tick=False):
        meeting = _schedule(session)
        assert meeting.title == "2027年第2周矛盾纠纷研判会"
        added = meetings.add_to_agenda(session, boss, meeting.id, meeting.lock_version, list(four_cases.values()))
        assert added == 4  # the plain case needs nothing and is not put on by a ticked box
        items = {item.case_id: item for item in reading.items_of(session, meeting)}
        assert items[four_cases["red"]].reason.split(",")[-1] == "red" or "red" in items[four_cases["red"]].reason

        # Give the overdue step to a named mediator, with the meeting's deadline.
        task = open_task(session, four_cases["overdue"], "Task_mediate")
        mediator = actor(session, "mediator")
        item = meetings.decide(session, boss, meeting.id, items[four_cases["overdue"]].id, "assign",
                               target=f"{task.id}:{mediator.user_id}", due="2027-01-15", note="三日内再次组织调解")
        session.refresh(task)
        assert task.assignee_id == mediator.user_id
        assert item.result_ref == f"task:{task.id}" and item.decided_by == boss.user_id
        given = _events(session, four_cases["overdue"], EventKind.TASK_CLAIMED_ON_BEHALF)[-1]
        assert "2027年第2周矛盾纠纷研判会" in given.detail["note"] and "2027-01-15" in given.detail["note"]
        decided = _events(session, four_cases["overdue"], EventKind.MEETING_DECIDED)[-1]
        assert decided.detail == {"meeting_id": meeting.id, "meeting": meeting.title, "decision": "assign",
                                  "note": "三日内再次组织调解", "due": "2027-01-15", "result": f"task:{task.id}"}
        reminder = session.scalar(sa.select(Reminder).where(Reminder.task_id == task.id, Reminder.kind == "assigned"))
        assert reminder.user_id == mediator.user_id and "三日内再次组织调解" in reminder.note

        # List the red case for supervision.
        meetings.decide(session, boss, meeting.id, items[four_cases["red"]].id, "flag", note="县中心挂牌督办")
        assert session.get(Case, four_cases["red"]).flagged_at is not None
        assert _events(session, four_cases["red"], EventKind.CASE_FLAGGED)

        # Remind the department handling the whistled case.
        report = open_task(session, four_cases["whistle"], "Task_report")
        item = meetings.decide(session, boss, meeting.id, items[four_cases["whistle"]].id, "remind",
                               target=str(report.id), note="请住建局本周内报到")
        assert item.result_ref == f"task:{report.id}"
        assert "请住建局本周内报到" in _events(session, four_cases["whistle"], EventKind.REMINDER_SENT)[-1].detail["note"]

        # The case listed already goes up to the city.
        item = meetings.decide(session, boss, meeting.id, items[four_cases["flagged"]].id, "escalate",
                               note="跨县矛盾，报市中心")
        transfer = session.scalar(sa.select(CaseTransfer).where(CaseTransfer.case_id == four_cases["flagged"]))
        assert item.result_ref == f"transfer:{transfer.id}" and transfer.direction == "up"
        assert _events(session, four_cases["flagged"], EventKind.CASE_ESCALATED)

        # Decided once: a second decision on the same case is refused, naming who decided.
        with pytest.raises(Conflict, match="already recorded"):
            meetings.decide(session, boss, meeting.id, items[four_cases["red"]].id, "continue")
        assert len(_events(session, four_cases["red"], EventKind.MEETING_DECIDED)) == 1


def test_going_on_as_it_is_is_in_the_history_too(session, four_cases):
    boss = actor(session, "supervisor")
    with time_machine.travel(LATER, tick=False):
        meeting = _schedule(session, kind="daily")
        case = session.get(Case, four_cases["plain"])
        meetings.add_by_code(session, boss, meeting.id, meeting.lock_version, case.code.lower())
        item = reading.items_of(session, meeting)[0]
        assert item.reason == "manual"
        meetings.decide(session, boss, meeting.id, item.id, "continue")
        assert item.result_ref is None
        assert _events(session, case.id, EventKind.MEETING_DECIDED)[-1].detail["decision"] == "continue"


def test_a_decision_needs_its_instruction_and_its_step(session, four_cases):
    boss = actor(session, "supervisor")
    with time_machine.travel(LATER, tick=False):
        meeting = _schedule(session)
        meetings.add_to_agenda(session, boss, meeting.id, meeting.lock_version, [four_cases["overdue"]])
        item = reading.items_of(session, meeting)[0]
        with pytest.raises(Conflict, match="instruction"):
            meetings.decide(session, boss, meeting.id, item.id, "flag", note=" ")
        with pytest.raises(Conflict, match="step"):
            meetings.decide(session, boss, meeting.id, item.id, "assign", target="", note="交办")
        with pytest.raises(Conflict, match="deadline"):
            meetings.decide(session, boss, meeting.id, item.id, "assign", target="1:1", due="2020-01-01", note="交办")
        # A step of another case is not this item's.
        other = open_task(session, four_cases["red"], "Task_mediate")
        with pytest.raises(NotFound):
            meetings.decide(session, boss, meeting.id, item.id, "remind", target=str(other.id), note="提醒")
        assert not _events(session, four_cases["red"], EventKind.REMINDER_SENT)
        assert session.get(MeetingItem, item.id).decision is None


def test_a_stale_save_is_refused_with_a_message(session, four_cases):
    boss = actor(session, "supervisor")
    with time_machine.travel(LATER, tick=False):
        meeting = _schedule(session)
        seen = meeting.lock_version
        meetings.record(session, boss, meeting.id, seen, {"minutes": "第一位记录人的纪要", "attendee_user": [str(boss.user_id)]})
        with pytest.raises(Conflict, match="Someone else saved this meeting"):
            meetings.record(session, boss, meeting.id, seen, {"minutes": "第二位记录人的纪要"})
        session.expire_all()
        assert session.get(Meeting, meeting.id).minutes == "第一位记录人的纪要"
        with pytest.raises(Conflict, match="Someone else saved this meeting"):
            meetings.add_to_agenda(session, boss, meeting.id, seen, [four_cases["red"]])


def test_minutes_attendance_and_holding(session, four_cases):
    boss = actor(session, "supervisor")
    court = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q-D-court"))
    with time_machine.travel(LATER, tick=False):
        meeting = _schedule(session)
        meetings.add_to_agenda(session, boss, meeting.id, meeting.lock_version, [four_cases["red"]])
        item = reading.items_of(session, meeting)[0]
        with pytest.raises(FormInvalid) as invalid:
            meetings.record(session, boss, meeting.id, meeting.lock_version, {"minutes": "纪要"}, held=True)
        assert "attendees" in invalid.value.errors
        meetings.record(session, boss, meeting.id, meeting.lock_version, {
            "minutes": "会议研究了红色风险案件。", f"discussion-{item.id}": "人数众多，需稳控。",
            "attendee_user": [str(boss.user_id), "999999"], "attendee_unit": [str(court.id)],
            "attendee_others": "县司法局 李律师\n"}, held=True)
        session.refresh(meeting)
        assert meeting.state == "held" and meeting.held_at is not None
        assert [a["name"] for a in meeting.attendees] == [boss.name, court.name, "县司法局 李律师"]
        assert session.get(MeetingItem, item.id).discussion == "人数众多，需稳控。"
        # Held: no second holding, no cancelling; minutes may still be finished.
        with pytest.raises(Conflict):
            meetings.record(session, boss, meeting.id, meeting.lock_version, {"minutes": "x"}, held=True)
        with pytest.raises(Conflict):
            meetings.cancel(session, boss, meeting.id, meeting.lock_version)
        meetings.record(session, boss, meeting.id, meeting.lock_version, {"minutes": "补充纪要"})


def test_invalid_details_are_named_field_by_field(session):
    with pytest.raises(FormInvalid) as invalid:
        _schedule(session, kind="yearly", day="2027-13-01", time="25:00", chair_id="1", place="x" * 201)
    assert set(invalid.value.errors) == {"kind", "day", "time", "chair_id", "place"}
    assert invalid.value.data["place"] == "x" * 201


def test_who_may_change_a_meeting(session, four_cases):
    with time_machine.travel(LATER, tick=False):
        meeting = _schedule(session)
        county, city = _county(session), session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01"))
        township = session.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q-CG"))
        above = Actor(None, "市督办", ("supervisor",), city.id, city.path, "city")
        below = Actor(None, "镇督办", ("supervisor",), township.id, township.path, "township")
        # A clerk does not hold meetings; a supervisor of the city reads it but changes nothing.
        with pytest.raises(NotAllowed):
            meetings.schedule(session, actor(session, "clerk"), county.id, {"kind": "weekly"})
        with pytest.raises(NotAllowed):
            meetings.schedule(session, above, county.id, {"kind": "weekly"})
        assert reading.visible_meeting(session, above, meeting.id).id == meeting.id
        with pytest.raises(NotAllowed):
            meetings.record(session, above, meeting.id, meeting.lock_version, {"minutes": "x"})
        with pytest.raises(NotFound):
            reading.visible_meeting(session, below, meeting.id)
        with pytest.raises(NotFound):
            meetings.record(session, below, meeting.id, meeting.lock_version, {"minutes": "x"})
        # Cancelled: nothing more.
        meetings.cancel(session, actor(session, "supervisor"), meeting.id, meeting.lock_version)
        with pytest.raises(Conflict, match="cancelled"):
            meetings.add_to_agenda(session, actor(session, "supervisor"), meeting.id, None, [four_cases["red"]])


def test_agenda_order_and_removal(session, four_cases):
    boss = actor(session, "supervisor")
    with time_machine.travel(LATER, tick=False):
        meeting = _schedule(session)
        meetings.add_to_agenda(session, boss, meeting.id, None, [four_cases["red"], four_cases["overdue"],
                                                                 four_cases["whistle"]])
        first, second, third = reading.items_of(session, meeting)
        meetings.move_item(session, boss, meeting.id, None, third.id, -1)
        assert [i.id for i in reading.items_of(session, meeting)] == [first.id, third.id, second.id]
        meetings.remove_item(session, boss, meeting.id, None, first.id)
        assert [i.id for i in reading.items_of(session, meeting)] == [third.id, second.id]
        with pytest.raises(Conflict, match="already on the agenda"):
            meetings.add_by_code(session, boss, meeting.id, None, session.get(Case, four_cases["overdue"]).code)
        with pytest.raises(Conflict, match="No case"):
            meetings.add_by_code(session, boss, meeting.id, None, "MT000")
