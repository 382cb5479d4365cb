"""One-time codes that confirm a resident holds the phone they give (they have no login; the code
stands in for one when they file, and later when they follow what they filed).

A code is six digits, sent through the outbox (topic "otp", address = the phone; the log gateway
prints it in development); only its hash is kept. It lasts CODE_TTL and allows MAX_TRIES wrong
tries; a newer code replaces the older ones. Sending is throttled by counting the rows of
phone_codes in a window, so the limits hold across web processes and restarts:

    per phone:   one every PHONE_GAP (60 s), PHONE_PER_HOUR (5) an hour, PHONE_PER_DAY (10) a day
    per address: ADDRESS_PER_HOUR (20) an hour (a village office or a mobile network's gateway
                 may put many residents behind one address, so it is looser than per phone)

A refused send raises Throttled with the seconds until one would be allowed (HTTP 429)."""
import hashlib
import hmac
import logging
import re
import secrets
import unicodedata
from collections import Counter
from datetime import timedelta

from sqlalchemy import delete, func, select

from engine.cases import outbox
from engine.cases.acting import reporting
from engine.errors import FormInvalid, Throttled
from engine.legaltime.clock import Clock, as_utc
from engine.messages import Msg, in_chinese
from engine.persistence import keys
from engine.persistence.models import PhoneCode

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)
MAX_TRIES = 5
PHONE_GAP = timedelta(seconds=60)
PHONE_PER_HOUR = 5
PHONE_PER_DAY = 10
ADDRESS_PER_HOUR = 20
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
SUBMISSION = "submission"
# A mobile number in mainland China: an SMS can reach it.
MOBILE = re.compile(r"1[3-9][0-9]{9}")

# Sends refused in this process, by which limit (the closing note's figures; each is logged too;
# the limits themselves are counted in the database).
THROTTLED = Counter()


def mobile(phone):
    """The normalised mobile number, or None if `phone` is not one an SMS can reach."""
    if not isinstance(phone, str):
        return None
    # Full-width digits typed on a Chinese keyboard become ASCII; other scripts' digits do not pass.
    digits = keys.normalize_phone(unicodedata.normalize("NFKC", phone))
    if digits and len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]  # +86 typed in front
    return digits if digits and MOBILE.fullmatch(digits) else None


def _hash(phone_key, code):
    return hmac.new(phone_key.encode(), f"otp:{code}".encode(), hashlib.sha256).hexdigest()


def _count(session, column, key, since):
    return session.scalar(select(func.count()).select_from(PhoneCode).where(column == key, PhoneCode.created_at > since))


def _oldest_since(session, column, key, since):
    return as_utc(session.scalar(select(func.min(PhoneCode.created_at)).where(column == key, PhoneCode.created_at > since)))


def wait_before_sending(session, phone_key, client_key, now=None):
    """(seconds, which limit) before a code may be sent to this phone from this address; (0, None)
    when it may be sent now."""
    now = now or Clock.now()
    last = as_utc(session.scalar(select(func.max(PhoneCode.created_at)).where(PhoneCode.phone_key == phone_key)))
    if last is not None and last > now - PHONE_GAP:
        return (last + PHONE_GAP - now).total_seconds(), "phone_gap"
    for column, key, window, limit, why in ((PhoneCode.phone_key, phone_key, HOUR, PHONE_PER_HOUR, "phone_hour"),
                                            (PhoneCode.phone_key, phone_key, DAY, PHONE_PER_DAY, "phone_day"),
                                            (PhoneCode.client_key, client_key, HOUR, ADDRESS_PER_HOUR, "address_hour")):
        if _count(session, column, key, now - window) >= limit:
            # The window frees a place when its oldest send leaves it.
            return (_oldest_since(session, column, key, now - window) + window - now).total_seconds(), why
    return 0, None


def _throttled(why, seconds):
    THROTTLED[why] += 1
    log.info("one-time code refused (%s), %d s to wait", why, seconds)
    minutes = max(1, round(seconds / 60))
    if why == "phone_gap":
        message = Msg("A code was just sent to this number; you may ask for another in %(s)s seconds.", s=int(seconds) + 1)
    elif why == "address_hour":
        message = Msg("Too many codes were asked for from this network; try again in %(m)s minutes.", m=minutes)
    else:
        message = Msg("Too many codes were sent to this number; try again in %(m)s minutes.", m=minutes)
    return Throttled(message, seconds + 1)


def send_code(session, phone, client_address, purpose=SUBMISSION):
    """Send a new code to `phone` (a mobile number) for a request from `client_address`. Returns
    when it expires. Raises FormInvalid for a number no SMS reaches, Throttled past a limit."""
    number = mobile(phone)
    if number is None:
        raise FormInvalid({"phone": Msg("Enter an 11-digit mobile number")}, {"phone": str(phone or "")[:40]})
    phone_key, client_key = keys.phone_key(number), keys.client_key(client_address)
    with reporting(session):
        now = Clock.now()
        wait, why = wait_before_sending(session, phone_key, client_key, now)
        if wait > 0:
            raise _throttled(why, wait)
        code = f"{secrets.randbelow(10 ** 6):06d}"
        expires = now + CODE_TTL
        session.add(PhoneCode(phone_key=phone_key, client_key=client_key, purpose=purpose, code_hash=_hash(phone_key, code),
                              created_at=now, expires_at=expires, attempts=0))
        body = in_chinese(Msg("Your confirmation code is %(code)s, valid for %(minutes)s minutes. Staff never ask "
                              "for it; do not tell it to anyone.", code=code, minutes=int(CODE_TTL.total_seconds() // 60)))
        outbox.enqueue(session, body, address=number, topic="otp")
    return expires


def forget_old(session, now=None):
    """Codes older than the longest throttling window say nothing any more. Returns how many went."""
    now = now or Clock.now()
    with reporting(session):
        return session.execute(delete(PhoneCode).where(PhoneCode.created_at < now - DAY - HOUR)).rowcount


def check_code(session, phone, code, purpose=SUBMISSION, use=False):
    """Within the caller's transaction: None if `code` is the newest live code of this phone (and
    with `use`, it is spent), else why not (a Msg). A wrong code counts a try on that code."""
    number = mobile(phone)
    if number is None:
        return Msg("Enter an 11-digit mobile number")
    code = unicodedata.normalize("NFKC", code).strip() if isinstance(code, str) else ""
    if not re.fullmatch(r"[0-9]{6}", code):
        return Msg("Enter the 6-digit code sent to your phone")
    phone_key = keys.phone_key(number)
    row = session.scalars(select(PhoneCode).where(PhoneCode.phone_key == phone_key, PhoneCode.purpose == purpose,
                                                  PhoneCode.used_at.is_(None))
                          .order_by(PhoneCode.created_at.desc(), PhoneCode.id.desc()).limit(1).with_for_update()).first()
    now = Clock.now()
    if row is None or as_utc(row.expires_at) <= now:
        return Msg("The code has expired or was not sent to this number; send a new one")
    if row.attempts >= MAX_TRIES:
        return Msg("Too many wrong codes; send a new one")
    if not hmac.compare_digest(row.code_hash, _hash(phone_key, code)):
        row.attempts += 1
        left = MAX_TRIES - row.attempts
        return Msg("The code is wrong; %(n)s tries left", n=left) if left else Msg("Too many wrong codes; send a new one")
    if use:
        row.used_at = now
    return None
