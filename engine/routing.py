"""Which unit's role holders get a task. A case belongs to the unit that took it; a step goes to
holders of its role in that unit, or, where the unit has none (a village without a mediator),
to the nearest unit above that has one: lower levels pass work upward, the county is the
terminal station."""
from sqlalchemy import select

from .models import User, UserRole


def unit_for_role(session, unit_id, unit_path, role, cache=None):
    key = (unit_id, role)
    if cache is not None and key in cache:
        return cache[key]
    chain = [int(part) for part in unit_path.strip("/").split("/") if part]
    # On the connection, not the ORM session: an autoflush here would write the case row early.
    holders = set(session.connection().scalars(
        select(User.org_unit_id).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == role, User.active.is_(True), User.org_unit_id.in_(chain))))
    found = next((uid for uid in reversed(chain) if uid in holders), unit_id)
    if cache is not None:
        cache[key] = found
    return found
