"""How parties' identifiers are kept: normalised ID numbers and phones (so a search finds a party
however the number was typed), and the keyed hash that lets a resident follow a case with its code
and a phone number without the phone being stored on the case row."""
import hashlib


def normalize_id(value):
    return str(value).strip().upper()[:40] if value else None


def normalize_phone(value):
    digits = "".join(ch for ch in str(value or "") if ch.isdigit())
    return digits[:20] or None


def contact_key(code, phone):
    return hashlib.sha256(f"{code}:{normalize_phone(phone) or ''}".encode()).hexdigest()[:24]
