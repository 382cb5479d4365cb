"""What a resident (or the grid worker who reported a matter) is told by SMS about it: that it was
accepted (with the case code and where it goes), joined to a case, or declined (with the reason),
that the case's route was decided again, and that it was closed. Each message goes to the phone
confirmed when the matter was filed, through the outbox, in the transaction of what caused it.
The texts name the case and nothing of the other parties."""
from sqlalchemy import select

from engine.cases import outbox
from engine.legaltime.clock import as_utc, china_date
from engine.library.triage import ROUTES
from engine.messages import Msg, in_chinese
from engine.persistence.models import Submission
from engine.persistence.states import SubmissionState

TOPIC = "notice"

ACCEPTED = Msg("[Yizhan] The matter you reported on %(day)s was accepted as case %(code)s, to be handled by "
               "%(route)s. Follow it with the case code and this phone number.")
JOINED = Msg("[Yizhan] The matter you reported on %(day)s was joined to case %(code)s and is handled with it. "
             "Follow it with the case code and this phone number.")
DECLINED = Msg("[Yizhan] The matter you reported on %(day)s (%(ref)s) was not accepted: %(reason)s")
ROUTED = Msg("[Yizhan] Case %(code)s is now to be handled by %(route)s.")
CLOSED = Msg("[Yizhan] Case %(code)s is closed. With the case code and this phone number you can see the "
             "outcome and rate it online.")


def _day(submission):
    day = china_date(as_utc(submission.created_at))
    return day.isoformat()


def _route(case):
    return Msg(ROUTES.get(case.route, "")) if case.route in ROUTES else Msg("the competent body")


def _send(session, phone, message, case_id=None):
    if phone:
        outbox.enqueue(session, in_chinese(message), address=phone, topic=TOPIC, case_id=case_id)


def accepted(session, submission, case):
    _send(session, submission.phone, Msg(ACCEPTED.msgid, day=_day(submission), code=case.code, route=_route(case)),
          case.id)


def joined(session, submission, case):
    _send(session, submission.phone, Msg(JOINED.msgid, day=_day(submission), code=case.code), case.id)


def declined(session, submission):
    _send(session, submission.phone, Msg(DECLINED.msgid, day=_day(submission), ref=submission.code,
                                         reason=submission.decline_reason))


def _phones(session, case_id):
    """The confirmed phones of the matters that became or joined the case, each once."""
    phones = session.connection().scalars(
        select(Submission.phone).where(Submission.case_id == case_id, Submission.phone.is_not(None),
                                       Submission.state.in_((SubmissionState.ACCEPTED, SubmissionState.JOINED)))
        .order_by(Submission.id))
    return list(dict.fromkeys(phones))


def case_moved(session, case, route_before, closed):
    """After an action on a case (engine/cases/store.py): tell its reporters when its route was
    decided anew or it closed. A case nobody reported from outside costs one indexed query."""
    routed = route_before is not None and case.route != route_before
    if not (routed or closed):
        return
    for phone in _phones(session, case.id):
        if routed:
            _send(session, phone, Msg(ROUTED.msgid, code=case.code, route=_route(case)), case.id)
        if closed:
            _send(session, phone, Msg(CLOSED.msgid, code=case.code), case.id)
