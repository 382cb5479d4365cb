"""Matters reported from outside the window: by a resident through a unit's QR code (no login; the
phone confirmed by a one-time code), or by a grid worker from the field. A submission waits in
its unit's inbox (state PENDING) until a clerk accepts it, joins it to an open case or declines
it; it is not a case and runs no pathway until then.

API:
    filing_unit(session, unit_code) -> OrgUnit or None     a center, township or village
    RESIDENT_KINDS, resident_kind(choice) -> (kind, category)   residents' words -> intake enums
    file_submission(session, unit, source, facts, parties, phone=None, attachments=(),
                    reporter=None, grid=None, phone_code=None, limits=None) -> Submission
        source "resident": reporter None, `phone` a mobile number and `phone_code` its live
        one-time code (engine/cases/phone_codes.py), spent by the filing.
        source "grid": `reporter` an Actor whom the rulebook lets report into `unit` (their unit
        or one above); `grid` a Grid id of that unit, optional; phone optional.
        facts: {"kind", "category", "summary", "place", "claims"} (kind and category are the
        intake form's codes: forms/intake.json); parties: [{"name", "phone", "role"}] (role
        applicant, respondent or third_party; rows with neither name nor phone are dropped).
        attachments: attachments.Upload items to keep now, and/or ids of rows kept earlier by
        attachments.keep_pending (by the same reporter; a resident's come back in a signed token).
        Raises FormInvalid({field: Msg}, data) with everything as typed and data["attachments"]
        the ids of the files now held for the form (a wrong code still counts a try: the
        transaction commits before the refusal is raised).
"""
import re
import unicodedata

from sqlalchemy import select

from engine.cases import attachments as files
from engine.cases import outbox, phone_codes
from engine.cases.acting import reporting
from engine.errors import FormInvalid, NotFound, UploadRefused
from engine.legaltime.clock import Clock
from engine.messages import Msg, N_, in_chinese
from engine.persistence import keys
from engine.persistence.models import Grid, OrgUnit, Submission
from engine.persistence.states import SubmissionState

RESIDENT, GRID = "resident", "grid"
SOURCES = (RESIDENT, GRID)
# Units with an inbox for submissions: the centers, townships and villages (not departments,
# which take steps, not matters).
FILING_LEVELS = ("city", "county", "township", "village")

# The intake form's codes (forms/intake.json kind and category; a test holds them equal).
KINDS = ("dispute", "petition", "complaint", "consultation")
CATEGORIES = ("marriage_family", "neighbour", "housing_land", "contract", "business", "damages", "forest_land",
              "expropriation", "pollution", "labour", "consumer", "medical", "traffic", "property_mgmt", "other")
PARTY_ROLES = ("applicant", "respondent", "third_party")

# What a resident picks, in their own words, and what it is on the intake form. The clerk who
# accepts it sees and may correct both.
RESIDENT_KINDS = {
    "neighbour": (N_("Trouble with neighbours (noise, leaks, a path, a wall)"), "dispute", "neighbour"),
    "family": (N_("Family or marriage (care of parents or children, divorce, inheritance)"), "dispute", "marriage_family"),
    "wages": (N_("Work: unpaid wages, dismissal, an injury at work"), "dispute", "labour"),
    "land": (N_("A house, a homestead or contracted land"), "dispute", "housing_land"),
    "money": (N_("Money lent, a sale or an agreement not kept"), "dispute", "contract"),
    "harm": (N_("Someone hurt me or damaged my things"), "dispute", "damages"),
    "traffic": (N_("A road accident"), "dispute", "traffic"),
    "property": (N_("The property management of my housing estate"), "dispute", "property_mgmt"),
    "consumer": (N_("A shop, a service or something I bought"), "dispute", "consumer"),
    "medical": (N_("Treatment at a hospital or clinic"), "dispute", "medical"),
    "government": (N_("A complaint about a government office or official"), "complaint", "other"),
    "question": (N_("I only have a question"), "consultation", "other"),
    "other": (N_("Something else"), "dispute", "other"),
}

SUMMARY = (5, 4000)
CLAIMS = (2, 4000)
PLACE = (1, 200)
NAME = (1, 100)
MAX_PARTIES = 10
PARTY_PHONE = re.compile(r"1[0-9]{10}|0[0-9]{2,3}-?[0-9]{7,8}")


def filing_unit(session, unit_code):
    """The unit a QR code names, if it takes submissions."""
    if not isinstance(unit_code, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", unit_code):
        return None
    return session.scalar(select(OrgUnit).where(OrgUnit.code == unit_code, OrgUnit.level.in_(FILING_LEVELS)))


def filing_units(session, actor_unit_path):
    """Every unit taking submissions at or below a unit (their posters), in tree order."""
    return list(session.scalars(select(OrgUnit).where(OrgUnit.level.in_(FILING_LEVELS),
                                                      OrgUnit.path.startswith(actor_unit_path)).order_by(OrgUnit.path)))


def resident_kind(choice):
    """(kind, category) on the intake form for a resident's choice, or None."""
    found = RESIDENT_KINDS.get(choice) if isinstance(choice, str) else None
    return (found[1], found[2]) if found else None


def new_code(submission_id, created_at):
    return f"SQ{created_at:%Y%m%d}{submission_id:06d}"


def _text(value, bounds, errors, field, required=True):
    """A field's text, stripped; a problem (length counted in characters, as the reader counts)
    goes into `errors`."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[field] = Msg("Enter text here")
        return ""
    value = value.strip()
    low, high = bounds
    if not value:
        if required:
            errors[field] = Msg("Required")
        return value
    if len(value) < low:
        errors[field] = Msg("Write at least %(v)s characters (now %(n)s)", v=low, n=len(value))
    elif len(value) > high:
        errors[field] = Msg("At most %(v)s characters (now %(n)s)", v=high, n=len(value))
    return value


def _parties(parties, source, errors):
    if not isinstance(parties, (list, tuple)):
        errors["parties"] = Msg("Name at least the person reporting")
        return []
    kept = []
    for index, party in enumerate(list(parties)[:MAX_PARTIES + 1]):
        if not isinstance(party, dict):
            errors[f"parties-{index}-name"] = Msg("Enter text here")
            continue
        name, phone = party.get("name"), party.get("phone")
        if not (isinstance(name, str) and name.strip()) and not (isinstance(phone, str) and phone.strip()):
            continue  # an empty row of the form
        role = party.get("role") if party.get("role") in PARTY_ROLES else None
        if role is None:
            errors[f"parties-{index}-role"] = Msg("Choose one of the options")
        row = {"role": role or "", "name": _text(name, NAME, errors, f"parties-{index}-name"), "phone": ""}
        if phone not in (None, ""):
            digits = unicodedata.normalize("NFKC", phone).strip().replace(" ", "") if isinstance(phone, str) else None
            if digits is None or not PARTY_PHONE.fullmatch(digits):
                errors[f"parties-{index}-phone"] = Msg("Enter an 11-digit mobile number or a landline with area code")
                row["phone"] = str(phone)[:40]
            else:
                row["phone"] = digits
        kept.append(row)
    if len(kept) > MAX_PARTIES:
        errors["parties"] = Msg("At most %(n)s parties", n=MAX_PARTIES)
        kept = kept[:MAX_PARTIES]
    if not any(party["role"] == "applicant" for party in kept) and source == RESIDENT:
        errors.setdefault("parties-0-name", Msg("Enter your own name"))
    if not kept:
        errors.setdefault("parties", Msg("Name at least the person reporting"))
    return kept


def validate(source, facts, parties, phone):
    """(cleaned data, errors): the submission as typed, stripped, and what is wrong with it."""
    errors = {}
    facts = facts if isinstance(facts, dict) else {}
    data = {
        "kind": facts.get("kind") if facts.get("kind") in KINDS else None,
        "category": facts.get("category") if facts.get("category") in CATEGORIES else None,
        "summary": _text(facts.get("summary"), SUMMARY, errors, "summary"),
        "place": _text(facts.get("place"), PLACE, errors, "place"),
        "claims": _text(facts.get("claims"), CLAIMS, errors, "claims"),
    }
    if data["kind"] is None:
        errors["kind"] = Msg("Choose one of the options")
    if facts.get("category") not in (None, "") and data["category"] is None:
        errors["category"] = Msg("Choose one of the options")
    data["parties"] = _parties(parties, source, errors)
    number = phone_codes.mobile(phone) if phone not in (None, "") else None
    data["phone"] = number or (str(phone)[:40] if phone is not None else "")
    if source == RESIDENT and number is None:
        errors["phone"] = Msg("Enter an 11-digit mobile number")
    elif phone not in (None, "") and number is None:
        errors["phone"] = Msg("Enter an 11-digit mobile number")
    if source not in SOURCES:
        errors["_form"] = Msg("Unknown source")
    return data, errors


def _take_attachments(session, items, limits, reporter_id, errors):
    """The rows held for the form (kept earlier, or kept now from uploads)."""
    ids = [item for item in items if isinstance(item, int) and not isinstance(item, bool)]
    uploads = [item for item in items if isinstance(item, files.Upload)]
    held = files.pending(session, ids, reporter_id)
    if len(held) < len(set(ids)):
        errors["attachments"] = Msg("Some files chosen earlier are no longer kept; choose them again")
    for upload in uploads:
        if len(held) >= limits.max_files:
            errors["attachments"] = Msg("At most %(n)s files", n=limits.max_files)
            break
        try:
            held.append(files.keep(session, upload, limits, uploaded_by=reporter_id))
        except UploadRefused as refused:
            errors.setdefault("attachments", refused.args[0])
    return held


def file_submission(session, unit, source, facts, parties, phone=None, attachments=(), reporter=None, grid=None,
                    phone_code=None, limits=None):
    """File a matter into `unit`'s inbox (see the module's docstring). Returns the Submission."""
    limits = limits or files.Limits.default()
    if unit is None or unit.level not in FILING_LEVELS:
        raise NotFound(getattr(unit, "code", unit))
    data, errors = validate(source, facts, parties, phone)
    if source == RESIDENT and reporter is not None:
        errors["_form"] = Msg("A resident's matter is filed without a login")
    if source == GRID and reporter is None:
        errors["_form"] = Msg("A grid worker's report needs their login")
    reporter_id = reporter.user_id if reporter is not None else None
    with reporting(session, reporter, unit) as act:
        if grid is not None and session.scalar(select(Grid.id).where(Grid.id == grid, Grid.org_unit_id == unit.id)) is None:
            errors["grid"] = Msg("Choose one of the options")
        held = _take_attachments(session, list(attachments or ()), limits, reporter_id, errors)
        data["attachments"] = [row.id for row in held]
        if source == RESIDENT and "phone" not in errors:
            # The code is spent only by a filing that goes through; a wrong one counts a try
            # even when other fields are wrong, so the form cannot be used to guess it.
            wrong = phone_codes.check_code(session, data["phone"], phone_code, use=not errors)
            if wrong is not None:
                errors["phone_code"] = wrong
        if errors:
            submission = None
        else:
            submission = _create(session, act, unit, source, data, held, grid)
    if submission is None:
        raise FormInvalid(errors, data)
    return submission


def _create(session, act, unit, source, data, held, grid):
    now = Clock.now()
    submission = Submission(
        code=f"NEW-{now.timestamp()}-{unit.id}", org_unit_id=unit.id, source=source,
        reporter_id=act.actor.user_id if act.actor is not None else None, grid_id=grid,
        kind=data["kind"], category=data["category"], summary=data["summary"], place=data["place"],
        claims=data["claims"], parties=data["parties"], phone=data["phone"] or None,
        phone_key=keys.phone_key(data["phone"]) if data["phone"] else None,
        state=SubmissionState.PENDING, created_at=now)
    session.add(submission)
    session.flush()
    submission.code = new_code(submission.id, now)
    for row in held:
        row.submission_id = submission.id
    # The unit's clerks hear of it (their gateway; the inbox lists it anyway).
    outbox.enqueue(session, in_chinese(Msg("A new matter %(code)s was reported to %(unit)s and awaits acceptance.",
                                           code=submission.code, unit=unit.name)),
                   unit_id=unit.id, role="clerk", topic="submission")
    return submission


def of_code(session, code, phone):
    """A submission by its reference and the phone it was filed with (the resident following it);
    None when either does not match."""
    if not isinstance(code, str) or not re.fullmatch(r"SQ[0-9]{14,20}", code.strip().upper()):
        return None
    number = phone_codes.mobile(phone)
    if number is None:
        return None
    return session.scalar(select(Submission).where(Submission.code == code.strip().upper(),
                                                   Submission.phone_key == keys.phone_key(number)))

