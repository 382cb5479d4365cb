"""Joint meetings on the web: who sees and changes them, scheduling that keeps what was typed,
the agenda drawn and ticked, minutes, a decision carried out on the case, a stale save, the
printable minutes."""
from datetime import datetime, timedelta

import sqlalchemy as sa
import time_machine

from werkzeug.security import generate_password_hash

from engine.access import accounts
from engine.demo import DEMO_PASSWORD
from engine.legaltime.clock import CHINA
from engine.persistence.models import Meeting, MeetingItem, OrgUnit, User
from engine.reading.meetings import suggested_title
from tests.web.support import count, events_of, page, reading, task_row, text, user_id

# Filed long enough ago for its month of mediation to have passed; the meeting and its deadlines
# are some days ahead of today (logging in happens at the real time).
FILED = datetime.now(CHINA) - timedelta(days=60)
DAY = (datetime.now(CHINA) + timedelta(days=7)).date()
DUE = (DAY + timedelta(days=7)).isoformat()


def _schedule(client, **changes):
    data = {"kind": "weekly", "day": DAY.isoformat(), "time": "09:00", "title": "", "place": "县中心三楼会商室",
            "chair_id": ""}
    data.update(changes)
    return client.post("/meetings/new", data=data)


def _meeting(factory):
    with reading(factory) as s:
        return s.scalar(sa.select(Meeting).order_by(Meeting.id.desc()).limit(1))


def test_only_supervisors_hold_meetings_and_the_nav_says_so(client, login_as, session_factory):
    for role in ("clerk", "mediator", "auditor", "admin", "dept_court"):
        login_as(role)
        assert client.get("/meetings/").status_code == 403
        assert _schedule(client).status_code == 403
        assert "/meetings/" not in client.get("/tasks" if role != "auditor" else "/audit/cases").get_data(as_text=True)
    login_as("supervisor")
    home = client.get("/meetings/")
    assert home.status_code == 200 and "联席会议" in text(home)
    assert page(home).xpath('//nav[@class="mainnav"]/a[contains(@href, "/meetings/")]')


def test_scheduling_keeps_what_was_typed_and_prefills_the_title(client, login_as, session_factory):
    login_as("supervisor")
    form = page(client.get("/meetings/new?kind=weekly"))
    assert "周矛盾纠纷研判会" in form.xpath('//input[@name="title"]/@value')[0]
    refused = _schedule(client, day="2027-02-30", time="9点", place="三楼会商室")
    assert refused.status_code == 422
    shown = page(refused)
    assert shown.xpath('//input[@name="place"]/@value') == ["三楼会商室"]
    assert shown.xpath('//input[@name="day"]/@value') == ["2027-02-30"]
    assert "日期格式应为" in text(refused) and "时间格式应为" in text(refused)
    assert count(session_factory, Meeting) == 0
    done = _schedule(client, chair_id=str(user_id(session_factory, "supervisor")))
    assert done.status_code == 302
    meeting = _meeting(session_factory)
    assert meeting.title == suggested_title("weekly", DAY) and "周矛盾纠纷研判会" in meeting.title
    assert meeting.scheduled_at.astimezone(CHINA).hour == 9
    listed = text(client.get("/meetings/"))
    assert meeting.title in listed and "主持人: 张督办（县中心）" in listed and "已安排" in listed


def test_draw_the_agenda_decide_and_print(client, login_as, filed_case, session_factory):
    with time_machine.travel(FILED, tick=False):
        case_id, task_id, _v = filed_case()
    login_as("supervisor")
    if True:
        _schedule(client)
        meeting = _meeting(session_factory)
        shown = page(client.get(f"/meetings/{meeting.id}"))
        ticked = shown.xpath('//details[@id="draw"]//input[@name="case"]')
        assert [box.get("value") for box in ticked] == [str(case_id)] and ticked[0].get("checked") is not None
        assert "环节超期" in shown.text_content()
        client.post(f"/meetings/{meeting.id}/agenda", data={"case": [str(case_id)], "version": meeting.lock_version})
        item = _items(session_factory, meeting.id)[0]
        assert item.reason == "overdue"
        # A decision without its instruction keeps the form as typed.
        mediator = user_id(session_factory, "mediator")
        refused = client.post(f"/meetings/{meeting.id}/items/{item.id}/decide", data={
            "decision": "assign", "assignee": f"{task_id}:{mediator}", "due": DUE, "note": ""})
        assert refused.status_code == 409 and "请填写会议要求" in text(refused)
        assert page(refused).xpath(f'//input[@id="due-{item.id}"]/@value') == [DUE]
        decided = client.post(f"/meetings/{meeting.id}/items/{item.id}/decide", data={
            "decision": "assign", "assignee": f"{task_id}:{mediator}", "due": DUE, "note": "再次组织调解"})
        assert decided.status_code == 302
        assert task_row(session_factory, task_id).assignee_id == mediator
        assert events_of(session_factory, case_id, "meeting_decided")[-1].detail["meeting"] == meeting.title
        on_case = text(client.get(f"/cases/{case_id}"))
        assert meeting.title in on_case and "再次组织调解" in on_case
        login_as("auditor")
        trace = text(client.get(f"/audit/cases/{case_id}"))
        assert "联席会议决定" in trace and "落实结果" in trace and DUE in trace
        login_as("supervisor")
        # Minutes: a stale save is a message, and what was typed stays.
        meeting = _meeting(session_factory)
        client.post(f"/meetings/{meeting.id}/record", data={"minutes": "甲的纪要", "version": meeting.lock_version,
                                                            "attendee_user": [str(user_id(session_factory, "supervisor"))]})
        stale = client.post(f"/meetings/{meeting.id}/record", data={"minutes": "乙的纪要", "version": meeting.lock_version})
        assert stale.status_code == 409 and "其他人" in text(stale)
        assert page(stale).xpath('//textarea[@name="minutes"]/text()') == ["乙的纪要"]
        assert _meeting(session_factory).minutes == "甲的纪要"
        held = client.post(f"/meetings/{meeting.id}/record", data={
            "minutes": "会议要求限期化解。", "held": "1", "version": _meeting(session_factory).lock_version,
            "attendee_user": [str(user_id(session_factory, "supervisor"))], f"discussion-{item.id}": "调解员再次约谈双方"})
        assert held.status_code == 302 and _meeting(session_factory).state == "held"
        printed = client.get(f"/meetings/{meeting.id}/print")
        words = text(printed)
        for expected in (meeting.title, "县中心三楼会商室", "张督办（县中心）", "环节超期", "调解员再次约谈双方",
                         "交办", "再次组织调解", "会议要求限期化解。"):
            assert expected in words, expected


def _items(factory, meeting_id):
    with reading(factory) as s:
        return s.scalars(sa.select(MeetingItem).where(MeetingItem.meeting_id == meeting_id)
                         .order_by(MeetingItem.position)).all()


def test_a_unit_above_reads_and_a_unit_below_does_not_see(client, login_as, session_factory, make_client):
    login_as("supervisor")
    _schedule(client)
    meeting = _meeting(session_factory)
    # A township supervisor: the county's meeting is not theirs to see.
    with reading(session_factory) as s:
        township = s.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01-Q-CG"))
        city = s.scalar(sa.select(OrgUnit).where(OrgUnit.code == "C01"))
    s = session_factory()
    try:
        for username, unit in (("sup_cg_meet", township), ("sup_city_meet", city)):
            if s.scalar(sa.select(User.id).where(User.username == username)) is None:
                accounts.create_user(s, username, generate_password_hash(DEMO_PASSWORD, method="pbkdf2:sha256:1000"),
                                     username, unit.id, ["supervisor"])
        s.commit()
    finally:
        s.close()
    below = make_client("sup_cg_meet")
    assert below.get(f"/meetings/{meeting.id}").status_code == 404
    assert below.post(f"/meetings/{meeting.id}/record", data={"minutes": "x", "version": meeting.lock_version}).status_code == 404
    above = make_client("sup_city_meet")
    read = above.get(f"/meetings/{meeting.id}")
    assert read.status_code == 200 and "只读" in text(read)
    assert not page(read).xpath('//form[contains(@action, "/record")]')
    assert "下级单位的会议" in text(above.get("/meetings/"))
    assert above.post(f"/meetings/{meeting.id}/record", data={"minutes": "x", "version": meeting.lock_version}).status_code == 403
    assert _meeting(session_factory).minutes == ""


def test_the_meeting_page_reads_as_many_statements_for_six_cases_as_for_two(app, client, login_as, filed_case,
                                                                             session_factory):
    from webui.extensions import db
    login_as("supervisor")

    def statements_for(n):
        with time_machine.travel(FILED, tick=False):
            for i in range(n):
                filed_case(**{"parties-0-id_type": "other", "parties-0-id_number": f"N{n}{i}",
                              "parties-0-phone": f"1350000{n}{i:03d}", "parties-1-id_type": "other",
                              "parties-1-id_number": f"M{n}{i}", "parties-1-phone": f"1340000{n}{i:03d}"})
        meeting = _meeting(session_factory)
        found = page(client.get(f"/meetings/{meeting.id}")).xpath('//details[@id="draw"]//input[@name="case"]/@value')
        client.post(f"/meetings/{meeting.id}/agenda", data={"case": found, "version": _meeting(session_factory).lock_version})
        seen = []
        with app.app_context():
            engine = db.engine
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            assert client.get(f"/meetings/{meeting.id}").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        return len(_items(session_factory, meeting.id)), len(seen)

    _schedule(client)
    two = statements_for(2)
    six = statements_for(4)
    assert two[0] == 2 and six[0] == 6
    assert six[1] == two[1]
