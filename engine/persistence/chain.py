"""The audit events of a case form a hash chain: each event carries the hash of the one before,
so a changed or deleted row breaks every hash after it (checked by engine/reading/audit.py)."""
import hashlib
import json

GENESIS = "0" * 64


# What json.dumps(..., ensure_ascii=False, sort_keys=True, default=str) does, with the encoder
# made once rather than for every event.
_ENCODE = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str).encode


def event_hash(prev_hash, case_id, seq, at, actor_id, actor_name, kind, task_spec, detail, version_id):
    body = _ENCODE([prev_hash, case_id, seq, at.isoformat(timespec="microseconds"), actor_id, actor_name,
                    kind, task_spec, detail, version_id])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
