"""Staff accounts and credentials: users with passwords, API tokens, and who a token belongs to.

Passwords are hashed with Argon2id (``argon2-cffi``); API tokens are stored only as their
sha256, so a leaked database does not leak working tokens. A customer link token is a real
credential too, but only for its own session (``Principal.session_id``).

Every function here does blocking database work (and Argon2 is deliberately slow): call them
through ``run_blocking`` from async code. How a request's credentials are read is
``server/web/auth.py``'s.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from ..errors import Conflict, Invalid
from .database import Database
from .models import ApiToken, RepairSession, User
from .tokens import new_secret_token, sha256_hex
from .vocabulary import STAFF_ROLES

MIN_PASSWORD_CHARS = 8
MAX_USERNAME_CHARS = 64
FIRST_ADMIN_USERNAME = "admin"

_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password
# and response times do not tell which usernames exist.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Principal:
    """The caller: a staff user (``role`` expert, trainer or admin) or a customer holding a link."""

    user_id: str | None
    username: str
    role: str
    # Set for a customer: the one session its link token is bound to.
    session_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES


class UsernameTaken(Conflict):
    """``create_user`` with a username that already exists."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def generate_password() -> str:
    """A random password to hand out once (96 bits, URL-safe so it survives copy and paste)."""
    return secrets.token_urlsafe(12)


def check_new_user(username: str, role: str, password: str) -> None:
    """Raise ``Invalid`` saying what is wrong with a new account's details."""
    if not username or username != username.strip() or len(username) > MAX_USERNAME_CHARS:
        raise Invalid(
            f"a username needs 1-{MAX_USERNAME_CHARS} characters, no spaces at either end; got {username!r}"
        )
    if role not in STAFF_ROLES:
        raise Invalid(f"role must be one of {', '.join(STAFF_ROLES)}; got {role!r}")
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid(f"a password needs at least {MIN_PASSWORD_CHARS} characters")


def create_user(db: Database, username: str, role: str, password: str) -> User:
    """Add a staff account; ``UsernameTaken`` if the name exists, ``Invalid`` for bad details."""
    check_new_user(username, role, password)
    password_hash = hash_password(password)
    with db.session() as s:
        if s.scalar(select(User.id).where(User.username == username)) is not None:
            raise UsernameTaken(f"a user named {username!r} already exists; pick another username")
        user = User(username=username, role=role, password_hash=password_hash)
        s.add(user)
    return user


def find_user(db: Database, username: str) -> User | None:
    with db.session() as s:
        return s.scalar(select(User).where(User.username == username))


def first_admin(db: Database) -> User | None:
    """The oldest admin account (the one ``ensure_first_admin`` made, unless it was removed)."""
    with db.session() as s:
        return s.scalar(select(User).where(User.role == "admin").order_by(User.created_at).limit(1))


def create_api_token(db: Database, user: User, label: str = "") -> str:
    """A new bearer token for ``user``; returned once, only its sha256 is kept."""
    token = new_secret_token()
    with db.session() as s:
        s.add(ApiToken(user_id=user.id, token_sha256=sha256_hex(token), label=label[:128]))
    return token


def ensure_first_admin(db: Database) -> str | None:
    """On a site with no users, create ``admin`` with a random password and return it (to print once)."""
    if db.count_users() > 0:
        return None
    password = generate_password()
    try:
        create_user(db, FIRST_ADMIN_USERNAME, "admin", password)
    except UsernameTaken:
        # Another process (a CLI call racing the server's start) made it first.
        return None
    return password


def verify_login(db: Database, username: str, password: str) -> Principal | None:
    """The user if the password matches, else None. Upgrades the hash when Argon2's defaults change."""
    user = find_user(db, username)
    if user is None:
        _verify(_DUMMY_HASH, password)
        return None
    if not _verify(user.password_hash, password):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        with db.session() as s:
            row = s.get(User, user.id)
            if row is not None:
                row.password_hash = hash_password(password)
    return Principal(user_id=user.id, username=user.username, role=user.role)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def principal_for_token(db: Database, token: str) -> Principal | None:
    """Whoever ``token`` belongs to: an API token's user, or the customer of a session link."""
    with db.session() as s:
        api_token = s.scalar(select(ApiToken).where(ApiToken.token_sha256 == sha256_hex(token)))
        if api_token is not None:
            user = api_token.user
            return Principal(user_id=user.id, username=user.username, role=user.role)
        session = s.scalar(select(RepairSession).where(RepairSession.join_token == token))
        if session is not None:
            return Principal(user_id=None, username="customer", role="customer", session_id=session.id)
    return None


def principal_for_user_id(db: Database, user_id: str) -> Principal | None:
    with db.session() as s:
        user = s.get(User, user_id)
        if user is None:
            return None
        return Principal(user_id=user.id, username=user.username, role=user.role)
