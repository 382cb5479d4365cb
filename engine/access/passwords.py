"""Password hashes: argon2id (argon2-cffi) for every new hash; the older Werkzeug hashes (scrypt,
pbkdf2) still verify and are replaced by argon2id at the login that proves the password."""
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

_hasher = PasswordHasher()

# Checked when the login is unknown or disabled, so that such an attempt costs the same time as
# a wrong password for a real login and says nothing about which logins exist.
_DUMMY = _hasher.hash("not a password: the login does not exist")


def hash_password(password):
    return _hasher.hash(password)


def verify(stored_hash, password):
    """(matches, needs_rehash). `stored_hash` None checks a dummy hash, and never matches."""
    if stored_hash is None:
        _check_argon2(_DUMMY, password)
        return False, False
    if not stored_hash.startswith("$argon2"):
        return check_password_hash(stored_hash, password), True
    matches = _check_argon2(stored_hash, password)
    return matches, matches and _hasher.check_needs_rehash(stored_hash)


def _check_argon2(stored_hash, password):
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
