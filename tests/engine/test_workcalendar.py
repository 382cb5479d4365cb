"""Legal periods over the Chinese holiday calendar, including a year not yet published."""
from datetime import date

from engine.legaltime import workcalendar
from engine.legaltime.workcalendar import add_days, add_working_days, is_workday


def test_five_working_days_across_national_day_2026():
    # Accepted on Wed 30 Sep 2026: 1-7 Oct is the National Day holiday; Sat 10 Oct is a make-up
    # working day. Counting starts the next day: Oct 8, 9, 10, 12, 13.
    assert add_working_days(date(2026, 9, 30), 5) == workcalendar.Deadline(date(2026, 10, 13), False)


def test_five_working_days_across_spring_festival_2026():
    # Spring Festival 2026: 15-23 Feb off, Sat 14 Feb and Sat 28 Feb worked. From Thu 12 Feb:
    # Feb 13, 14 (make-up Saturday), then 24, 25, 26.
    assert is_workday(date(2026, 2, 14)) == (True, False)
    assert add_working_days(date(2026, 2, 12), 5) == workcalendar.Deadline(date(2026, 2, 26), False)


def test_start_day_is_not_counted():
    assert add_working_days(date(2026, 11, 23), 1).day == date(2026, 11, 24)  # Monday -> Tuesday
    assert add_days(date(2026, 11, 23), 1).day == date(2026, 11, 24)


def test_natural_days_ending_on_a_holiday_move_to_the_next_working_day():
    # 15 days after 16 Sep 2026 is 1 Oct, National Day: the deadline is 8 Oct.
    assert add_days(date(2026, 9, 16), 15) == workcalendar.Deadline(date(2026, 10, 8), False)


def test_a_period_into_an_unpublished_year_is_computed_and_marked_provisional():
    # Sixty days from today ends in January 2027, a year chinese-calendar 1.11 does not know.
    deadline = add_days(date(2026, 11, 23), 60)
    assert deadline.day == date(2027, 1, 22) and deadline.provisional is True
    # Spring Festival 2027 by rule (5-10 Feb, eve and observed days included) is skipped,
    # provisionally: from Thu 4 Feb the two working days are Thu 11 and Fri 12 Feb.
    assert is_workday(date(2027, 2, 8)) == (False, True)
    assert add_working_days(date(2027, 2, 4), 2) == workcalendar.Deadline(date(2027, 2, 12), True)


def test_a_loaded_notice_makes_the_year_final(tmp_path, monkeypatch):
    (tmp_path / "2027.json").write_text('{"holidays": ["2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", '
                                        '"2027-02-09", "2027-02-10", "2027-02-11"], "workdays": ["2027-02-13"]}')
    assert workcalendar.is_published(2027) is False
    monkeypatch.setattr(workcalendar, "NOTICES_DIR", tmp_path)
    assert workcalendar.is_published(2027) is True and workcalendar.is_published(2026) is True
    assert is_workday(date(2027, 2, 11)) == (False, False)
    assert is_workday(date(2027, 2, 13)) == (True, False)  # a Saturday worked
    assert add_working_days(date(2027, 2, 4), 2) == workcalendar.Deadline(date(2027, 2, 13), False)
