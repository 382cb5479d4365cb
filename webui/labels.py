"""Display labels: the English names of codes (translated where shown, i18n.label), and the labels
of case fields, taken from the forms of the case's own process version (designer data)."""
from engine.messages import N_
from engine.access.department_kinds import SERVICES  # noqa: F401  (a table for label() in templates)
from engine.access.policy import ROLES  # noqa: F401  (a table for label() in templates)
from engine.library import catalog
from engine.library.triage import ROUTES
from engine.cases.meetings import DECISIONS as MEETING_DECISION  # noqa: F401  (tables for label())
from engine.reading.meetings import KINDS as MEETING_KIND, REASONS as MEETING_REASON, STATES as MEETING_STATE  # noqa: F401

from .extensions import db
from .i18n import authored

STATUS = {"open": N_("Being handled"), "completed": N_("Completed"), "error": N_("Error")}
ROUTE = ROUTES  # the engine's, also used in what residents are told
COMMITTEE = {"general": N_("People's mediation committee"),
             "traffic": N_("Traffic accident mediation"),
             "medical": N_("Medical dispute mediation committee"),
             "labour": N_("Labour dispute mediation"),
             "property": N_("Property management mediation"),
             "family": N_("Marriage and family mediation")}
CHANNEL = {"labour_arbitration": N_("Labour and personnel arbitration"),
           "land_arbitration": N_("Rural land contract arbitration"),
           "commercial_arbitration": N_("Commercial arbitration")}
RISK_LEVEL = {"blue": N_("Blue (low)"), "yellow": N_("Yellow (elevated)"),
              "red": N_("Red (high)")}
RISK = {"red": "risk-red", "yellow": "risk-yellow", "blue": "risk-blue"}
EVENT_KINDS = {
    "case_started": N_("Case started"), "task_completed": N_("Submitted"),
    "task_claimed": N_("Claimed"), "task_released": N_("Released"),
    "timer_fired": N_("Deadline passed"), "engine": N_("Engine step"),
    "step_failed": N_("Step failed"), "repeat_visit": N_("Repeat visit"),
    "case_escalated": N_("Escalated"), "case_assigned_down": N_("Assigned down"),
    "transfer_acknowledged": N_("Acknowledged"), "transfer_returned": N_("Returned unacknowledged"),
    "case_reopened": N_("Reopened"), "deadline_extended": N_("Deadline extended"),
    "clock_stopped": N_("Clock stopped"), "deadline_recomputed": N_("Deadline recomputed"), "clock_restarted": N_("Clock restarted"),
    "task_reassigned": N_("Reassigned"), "task_assigned": N_("Kept by its handler"),
    "task_claimed_on_behalf": N_("Claimed on behalf"),
    "case_flagged": N_("Listed for supervision"), "case_unflagged": N_("Lifted from supervision"),
    "reminder_sent": N_("Reminder sent"),
    "risk_assessed": N_("Risk assessed"), "risk_reassessed": N_("Risk re-assessed"),
    "triaged": N_("Routed"), "case_migrated": N_("Moved to another version"),
    "callback_retried": N_("Callback sent again"),
    "grid_set": N_("Grid set"),
    "submission_accepted": N_("Accepted from the unit's inbox"),
    "submission_joined": N_("A reported matter joined to this case"),
    "referral_made": N_("Referred to a service"), "referral_accepted": N_("Referral taken on"),
    "referral_declined": N_("Referral turned down"), "referral_completed": N_("Referral outcome recorded"),
    "dossier_generated": N_("Judicial-confirmation dossier made"),
    "consent_given": N_("A party confirmed the joint application online"),
    "meeting_decided": N_("Joint meeting decided"),
    "mediator_assigned": N_("Given to a registered mediator"),
    "experts_summoned": N_("Experts summoned"),
}
REFERRAL_STATE = {"referred": N_("Waiting to be taken on"), "accepted": N_("Taken on"),
                  "declined": N_("Turned down"), "completed": N_("Done")}
# Changes to the department registry (account history).
KIND_EVENTS = {"department_kind_added": N_("Kind added"), "department_kind_changed": N_("Kind changed"),
               "department_kind_activated": N_("Kind reactivated"),
               "department_kind_deactivated": N_("Kind deactivated"),
               "department_stationed": N_("Stationed at a center")}
# Where a matter in the unit's inbox came from, and what became of it.
SUBMISSION_SOURCE = {"resident": N_("Resident (QR code)"), "grid": N_("Grid worker")}
PARTY_ROLE = {"applicant": N_("Applicant"), "respondent": N_("Respondent"), "third_party": N_("Third party")}
SUBMISSION_STATE = {"pending": N_("Awaiting acceptance"), "accepted": N_("Accepted"),
                    "joined": N_("Joined to a case"), "declined": N_("Declined")}
STATES = {"FUTURE": N_("not started"), "LIKELY": N_("not started"),
          "MAYBE": N_("not started"), "DEFINITE": N_("not started"), "READY": N_("ready"), "COMPLETED": N_("completed"), "WAITING": N_("waiting"),
          "CANCELLED": N_("cancelled"), "STARTED": N_("started"), "ERROR": N_("error")}

_vocab_cache = {}  # by version id: immutable, so each process may keep its own (runtime.SpecCache)


def vocab(version):
    """{field name: {value: (zh, en)}} from every form of a version."""
    found = _vocab_cache.get(version.id)
    if found is None:
        found = {}
        for definition in version.forms.values():
            for name, prop in definition["schema"].get("properties", {}).items():
                if "x-enum-labels" in prop:
                    found.setdefault(name, prop["x-enum-labels"])
        _vocab_cache[version.id] = found
    return found


def category_name(version, code):
    """A case category's label in the reader's language from a version's forms; the code itself
    when the version does not know it."""
    labels = vocab(version).get("category", {}) if version else {}
    return authored(labels[code]) if code in labels else code


def version_name(case):
    """The name of the process version a case runs on, from the version's kept facts (no query)."""
    return catalog.version_info(db.session, case.process_version_id).name


def case_label(case, field):
    value = getattr(case, field)
    if value is None:
        return ""
    labels = vocab(catalog.version_info(db.session, case.process_version_id)).get(field, {})
    return authored(labels[value]) if value in labels else value
