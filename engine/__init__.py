"""yizhan's workflow runtime. Knows nothing of the web: the web layer calls these services."""
from engine.legaltime.clock import Clock
from engine.persistence.models import Base
from engine.access.policy import SYSTEM, Actor
from engine.errors import Conflict

__all__ = ["Actor", "Base", "Clock", "Conflict", "SYSTEM"]
