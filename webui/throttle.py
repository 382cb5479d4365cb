"""A small in-process limit on how often one client may try something (the public case look-up),
so codes and phone numbers cannot be guessed by brute force. Per process: with several web
processes the limit is per process, which still bounds guessing to a trickle."""
import threading
import time
from collections import deque


class Throttle:
    def __init__(self, attempts, seconds):
        self.attempts = attempts
        self.seconds = seconds
        self._seen = {}
        self._lock = threading.Lock()

    def allow(self, key, now=None):
        now = time.monotonic() if now is None else now
        with self._lock:
            window = self._seen.setdefault(key, deque())
            while window and window[0] <= now - self.seconds:
                window.popleft()
            if len(window) >= self.attempts:
                return False
            window.append(now)
            if len(self._seen) > 10000:  # forget idle clients so memory stays bounded
                for stale in [k for k, w in self._seen.items() if not w or w[-1] <= now - self.seconds]:
                    del self._seen[stale]
            return True
