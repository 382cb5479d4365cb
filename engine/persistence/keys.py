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


def phone_key(phone):
    """A phone number's digest, the same however it was typed: what a resident's submissions and
    one-time codes are found and counted by, without the number in the index."""
    return hashlib.sha256(f"phone:{normalize_phone(phone) or ''}".encode()).hexdigest()


def client_key(address):
    """A client address's digest, for counting what one address asked for."""
    return hashlib.sha256(f"client:{address or '?'}".encode()).hexdigest()
