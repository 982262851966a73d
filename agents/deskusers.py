"""The desk's users: names with scrypt password hashes, from NEWSMON_DESK_USERS_FILE.

One line a user, ``name:scrypt$<n>$<r>$<p>$<salt>$<hash>`` (salt and hash in base64),
``#`` for comments; ``newsmon desk --hash-password NAME`` makes a line. A password is
checked by deriving the hash again (scrypt, RFC 7914, from the standard library) and
comparing in constant time; the file holds no password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from pathlib import Path

from agents.settings import SettingsError

#: scrypt's cost: 2^14 x 8 x 1 (about 16 MiB and 50 ms a check), OWASP's floor for scrypt.
N, R, P = 2**14, 8, 1
_NAME = re.compile(r"[A-Za-z0-9._@-]{1,64}")


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    derived = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${N}${R}${P}${encode(salt).decode()}${encode(derived).decode()}"


def user_line(name: str, password: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError("a user name is 1 to 64 of A-Z a-z 0-9 . _ @ -")
    if len(password) < 12:
        raise ValueError("a password has at least 12 characters")
    return f"{name}:{hash_password(password)}"


def matches(password: str, stored: str) -> bool:
    """Whether ``password`` derives the stored hash (False for a malformed one)."""
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        derived = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(base64.b64decode(expected)),
            maxmem=2**26,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(derived, base64.b64decode(expected))


def load_users(path: Path) -> dict[str, str]:
    """The users of ``path`` (name -> stored hash); SettingsError names the bad line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SettingsError(f"NEWSMON_DESK_USERS_FILE: cannot read {path}: {reason}") from None
    users: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, stored = line.partition(":")
        if not _NAME.fullmatch(name) or not stored.startswith("scrypt$") or stored.count("$") != 5:
            raise SettingsError(
                f"NEWSMON_DESK_USERS_FILE: {path}:{number}: not 'name:scrypt$...' "
                "(make a line with `newsmon desk --hash-password NAME`)"
            )
        if name in users:
            raise SettingsError(f"NEWSMON_DESK_USERS_FILE: {path}:{number}: {name} twice")
        users[name] = stored
    if not users:
        raise SettingsError(f"NEWSMON_DESK_USERS_FILE: {path} names no user")
    return users
