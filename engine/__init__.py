"""yizhan's workflow runtime. Knows nothing of the web: the web layer calls these services."""
from .clock import Clock
from .models import Base
from .policy import SYSTEM, Actor
from .uow import Conflict, UnitOfWork

__all__ = ["Actor", "Base", "Clock", "Conflict", "SYSTEM", "UnitOfWork"]
