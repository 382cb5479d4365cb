"""A resident rates the outcome of their case online: that completes the case's return visit
(bpmn/close_followup.bpmn, the step of forms/visit.json) as if the visit had been made, with the
method "online"; an unsatisfied rating goes on to the supervisor's review as the diagram draws it.
Only while the visit is open, only once, and only for someone who proved a phone number of the case."""
from engine.access.rulebook import VISIT_FORM
from engine.cases import services
from engine.cases.acting import as_resident
from engine.errors import FormInvalid, NotFound
from engine.messages import Msg
from engine.reading import follow

RATINGS = ("satisfied", "basically_satisfied", "unsatisfied")
# The few words a resident adds on a phone; the visit form itself takes more.
WORDS = 500


def rate_online(session, code, proof, satisfaction, words=""):
    """Rate the case of `code` (its code, or the reference of the report that became or joined
    it) as the resident who proved a party's or the reporter's phone (`proof`, follow.proof_of)."""
    case, _submission = follow.found(session, code, proof)
    if case is None:
        raise NotFound(code)
    words = (words or "").strip()
    if satisfaction not in RATINGS:
        raise FormInvalid({"satisfaction": Msg("Choose how satisfied you are")}, {"feedback": words})
    if len(words) > WORDS:
        raise FormInvalid({"feedback": Msg("At most %(n)d characters", n=WORDS)},
                          {"satisfaction": satisfaction, "feedback": words})
    post = {"visit_method": "online", "satisfaction": satisfaction}
    if words:
        post["feedback"] = words
    with as_resident(session, case.id, VISIT_FORM, "rate_online") as act:
        return services.submit_step(session, act, post)
