"""Writes from outside systems that are safe to send twice. A 12345 work order carries its own
order number, and any write may carry an idempotency key: the same order from the same login
makes one case (for ever), and the same key with the same request answers with the case the
first request made (for IDEMPOTENCY_HOURS), whether the first answer was lost on the way back or
two copies arrive at once."""
import hashlib
import json
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from engine.cases import services
from engine.reading import queries
from engine.errors import Conflict
from engine.legaltime.clock import Clock, as_utc
from engine.messages import Msg
from engine.persistence.models import ApiRequest, Case

KEPT = timedelta(hours=24)


def request_hash(payload, order_number):
    """The request as the key promises it: the same fields in any order hash alike."""
    body = json.dumps([payload, order_number], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def file_once(session, actor, process_key, data, order_number=None, key=None, kept=KEPT):
    """File a matter unless this login filed it already. Returns (case, first): `first` is False
    when the order or the key names a case filed before. The same key with a different request
    is a Conflict. Raises what start_case raises for a new matter."""
    digest = request_hash(data, order_number)
    earlier = _earlier(session, actor, order_number, key, digest, kept)
    if earlier is not None:
        # A copy of the order whose body is no longer valid is told so (422), not answered as if
        # it had been read.
        services.check_matter(session, process_key, data)
        return earlier, False
    try:
        return services.start_case(session, actor, process_key, data=data, new_despite_repeats=True,
                                   external_ref=order_number, by_system=True,
                                   remember=(lambda case: _remember(session, actor, key, digest, case, kept))
                                   if key else None), True
    except IntegrityError:
        # Another copy of the same request committed first (the key is unique per login): nothing
        # of this one was kept; answer with what the first made.
        session.rollback()
        earlier = _earlier(session, actor, order_number, key, digest, kept)
        if earlier is None:
            raise
        return earlier, False


def _earlier(session, actor, order_number, key, digest, kept):
    if key:
        row = session.scalar(select(ApiRequest).where(ApiRequest.user_id == actor.user_id, ApiRequest.key == key))
        if row is not None and as_utc(row.created_at) > Clock.now() - kept:
            if row.request_hash != digest:
                raise Conflict(Msg("This Idempotency-Key was used with a different request"))
            return session.get(Case, row.case_id)
    if order_number:
        return queries.case_of_order(session, actor, order_number)
    return None


def _remember(session, actor, key, digest, case, kept):
    """Within the filing's own transaction: the key now names this case (an expired use of the
    same key gives way)."""
    session.execute(delete(ApiRequest).where(ApiRequest.user_id == actor.user_id, ApiRequest.key == key,
                                             ApiRequest.created_at <= Clock.now() - kept))
    session.add(ApiRequest(user_id=actor.user_id, key=key, request_hash=digest, case_id=case.id,
                           created_at=Clock.now()))
