"""People who sign in to leadflow's pages: users with a role, passwords, sessions.

Kept in SQLite at `$LEADFLOW_HOME/users.sqlite`, not in the warehouse: `leadflow users`
works while `leadflow run` holds the warehouse, and every process (the service, the CLI, a
second API) reads and writes the same file safely (WAL journal, short transactions).

- Passwords are hashed with Argon2id (argon2-cffi's defaults, rehashed on sign-in when
  those change); a password is never stored or logged.
- A session is a random token in an HttpOnly cookie; only its SHA-256 is stored, with the
  session's CSRF token, so a copy of the file signs nobody in.
- Sign-in is throttled per user name and per client address: after THROTTLE_FAILURES
  failures within THROTTLE_WINDOW, further attempts are refused for that window, with a
  message that says when to try again (a correct password included: a guesser learns
  nothing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from leadflow.errors import LeadflowError

ROLES = ("rep", "manager", "leadership", "admin", "distributor")
"""What a person may do: a rep works their own and unassigned leads; a manager every lead
and the team; leadership the KPI board and SQL; admin everything; a distributor the leads
handed to them."""
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
SESSION_LIFETIME = dt.timedelta(hours=12)
THROTTLE_FAILURES = 5
THROTTLE_WINDOW = dt.timedelta(minutes=15)

SCHEMA = """
create table if not exists users (
    username       text primary key,
    display_name   text not null,
    role           text not null,
    rep_id         text,             -- the CRM's id of a rep: their leads are assigned to it
    distributor_id text,             -- the CRM's id of a distributor
    password_hash  text not null,
    created_at     text not null,
    password_at    text not null,
    disabled_at    text
);
create table if not exists sessions (
    token_sha256   text primary key,
    username       text not null references users (username),
    csrf_token     text not null,
    created_at     text not null,
    expires_at     text not null
);
create table if not exists sign_in_failures (
    username       text not null,
    client         text not null,
    at             text not null
);
create index if not exists sign_in_failures_at on sign_in_failures (at);
"""

_hasher = PasswordHasher()


class UserError(LeadflowError, ValueError):
    """A user could not be added, found or changed; the message says why."""


class SignInRefused(LeadflowError, PermissionError):
    """Wrong user name or password, a disabled user, or too many attempts."""


@dataclass(frozen=True)
class User:
    """One person who signs in."""

    username: str
    display_name: str
    role: str
    rep_id: str | None
    distributor_id: str | None
    created_at: str
    disabled_at: str | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class Session:
    """A signed-in user, with the token their forms carry."""

    user: User
    csrf_token: str
    expires_at: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    """A random password of 16 URL-safe characters (about 96 bits)."""
    return secrets.token_urlsafe(12)


class Users:
    """The user store of one LEADFLOW_HOME."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute("pragma journal_mode = wal")  # kept by the file from now on
            connection.executescript(SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            connection.execute("pragma foreign_keys = on")
            connection.row_factory = sqlite3.Row
            yield connection
        finally:
            connection.close()

    # -- people ---------------------------------------------------------------------------

    def add(
        self,
        username: str,
        password: str,
        *,
        role: str,
        display_name: str | None = None,
        rep_id: str | None = None,
        distributor_id: str | None = None,
    ) -> User:
        """Add a user; UserError when the name is taken or a field is not acceptable."""
        username = username.strip().lower()
        if not USERNAME.match(username):
            raise UserError(
                f"user name {username!r} is not acceptable: 2-64 characters of a-z, 0-9, "
                "'.', '_' and '-', starting with a letter or digit"
            )
        if role not in ROLES:
            raise UserError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
        if role == "rep" and not rep_id:
            raise UserError("a rep needs --rep-id: the CRM's id their leads are assigned to")
        if role == "distributor" and not distributor_id:
            raise UserError("a distributor needs --distributor-id: the CRM's id of it")
        _check_password(password)
        now = _iso(_now())
        with self._connect() as connection:
            try:
                connection.execute(
                    "insert into users (username, display_name, role, rep_id, distributor_id,"
                    " password_hash, created_at, password_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        username,
                        (display_name or username).strip(),
                        role,
                        rep_id,
                        distributor_id,
                        _hasher.hash(password),
                        now,
                        now,
                    ),
                )
            except sqlite3.IntegrityError:
                raise UserError(f"user {username!r} exists already") from None
        return self.get(username)

    def get(self, username: str) -> User:
        """The user of that name; UserError when there is none."""
        with self._connect() as connection:
            row = connection.execute(
                "select * from users where username = ?", (username.strip().lower(),)
            ).fetchone()
        if row is None:
            raise UserError(f"no user {username!r}: `leadflow users list` shows who there is")
        return _user(row)

    def list(self) -> list[User]:
        """Every user, by name."""
        with self._connect() as connection:
            rows = connection.execute("select * from users order by username").fetchall()
        return [_user(row) for row in rows]

    def disable(self, username: str) -> User:
        """Disable a user and end their sessions (their history stays)."""
        user = self.get(username)
        with self._connect() as connection:
            connection.execute("begin immediate")
            connection.execute(
                "update users set disabled_at = coalesce(disabled_at, ?) where username = ?",
                (_iso(_now()), user.username),
            )
            connection.execute("delete from sessions where username = ?", (user.username,))
            connection.execute("commit")
        return self.get(username)

    def enable(self, username: str) -> User:
        """Let a disabled user sign in again."""
        user = self.get(username)
        with self._connect() as connection:
            connection.execute(
                "update users set disabled_at = null where username = ?", (user.username,)
            )
        return self.get(username)

    def reset_password(self, username: str, password: str) -> User:
        """Set a new password and end the user's sessions."""
        user = self.get(username)
        _check_password(password)
        with self._connect() as connection:
            connection.execute("begin immediate")
            connection.execute(
                "update users set password_hash = ?, password_at = ? where username = ?",
                (_hasher.hash(password), _iso(_now()), user.username),
            )
            connection.execute("delete from sessions where username = ?", (user.username,))
            connection.execute("delete from sign_in_failures where username = ?", (user.username,))
            connection.execute("commit")
        return user

    # -- signing in -----------------------------------------------------------------------

    def sign_in(self, username: str, password: str, *, client: str) -> tuple[Session, str]:
        """A new session and its token (for the cookie) when the password is right;
        SignInRefused otherwise, the same message for an unknown name and a wrong password."""
        username = username.strip().lower()
        now = _now()
        since = _iso(now - THROTTLE_WINDOW)
        with self._connect() as connection:
            connection.execute("delete from sign_in_failures where at < ?", (since,))
            failures = connection.execute(
                "select count(*) filter (where username = ?), count(*) filter (where client = ?)"
                " from sign_in_failures where at >= ?",
                (username, client, since),
            ).fetchone()
            if max(failures) >= THROTTLE_FAILURES:
                minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
                raise SignInRefused(
                    f"too many failed sign-ins: try again in {minutes} minutes, or ask an "
                    "admin to reset the password"
                )
            row = connection.execute(
                "select * from users where username = ?", (username,)
            ).fetchone()
            if row is None or not _verified(row["password_hash"], password):
                connection.execute(
                    "insert into sign_in_failures (username, client, at) values (?, ?, ?)",
                    (username, client, _iso(now)),
                )
                raise SignInRefused("wrong user name or password")
            if row["disabled_at"] is not None:
                raise SignInRefused("this user is disabled: ask an admin")
            if _hasher.check_needs_rehash(row["password_hash"]):
                connection.execute(
                    "update users set password_hash = ? where username = ?",
                    (_hasher.hash(password), username),
                )
            token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            expires = _iso(now + SESSION_LIFETIME)
            connection.execute("delete from sessions where expires_at < ?", (_iso(now),))
            connection.execute(
                "insert into sessions (token_sha256, username, csrf_token, created_at,"
                " expires_at) values (?, ?, ?, ?, ?)",
                (_sha256(token), username, csrf, _iso(now), expires),
            )
            connection.execute(
                "delete from sign_in_failures where username = ? and client = ?",
                (username, client),
            )
        return Session(_user(row), csrf, expires), token

    def session(self, token: str | None) -> Session | None:
        """The live session of a cookie's token, or None (unknown, expired, disabled)."""
        if not token:
            return None
        # on this thread's own connection: asked on every signed-in request
        if not hasattr(self._local, "connection"):
            self._local.connection = sqlite3.connect(
                self.path, timeout=10.0, isolation_level=None, check_same_thread=True
            )
            self._local.connection.row_factory = sqlite3.Row
        with contextlib.nullcontext(self._local.connection) as connection:
            row = connection.execute(
                "select u.*, s.csrf_token, s.expires_at from sessions as s "
                "join users as u using (username) "
                "where s.token_sha256 = ? and s.expires_at > ? and u.disabled_at is null",
                (_sha256(token), _iso(_now())),
            ).fetchone()
        if row is None:
            return None
        return Session(_user(row), row["csrf_token"], row["expires_at"])

    def sign_out(self, token: str | None) -> None:
        """End the session of that token (nothing when there is none)."""
        if token:
            with self._connect() as connection:
                connection.execute("delete from sessions where token_sha256 = ?", (_sha256(token),))


def _user(row: sqlite3.Row) -> User:
    return User(
        username=row["username"],
        display_name=row["display_name"],
        role=row["role"],
        rep_id=row["rep_id"],
        distributor_id=row["distributor_id"],
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
    )


def _verified(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    if password.strip() != password:
        raise UserError("a password cannot begin or end with a space")


DEMO_PEOPLE = (
    # username, role, CRM id, display name: one of each role, on the simulation's ids
    ("manager", "manager", None, "销售经理 Sales manager"),
    ("rep01", "rep", "rep_01", "销售 rep_01"),
    ("director", "leadership", None, "总经理 Director"),
    ("dist_east", "distributor", "dist_east", "华东经销商 East distributor"),
)


def demo_people(home: Path, users: Users) -> list[tuple[str, str, str]]:
    """The demo's people (DEMO_PEOPLE) as (username, role, password), made on first use with
    made-up passwords kept in `home/demo_people.json` (mode 0600), like the demo's API keys."""
    path = home / "demo_people.json"
    if path.exists():
        kept: list[list[str]] = json.loads(path.read_text())
        return [(username, role, password) for username, role, password in kept]
    people = []
    for username, role, crm_id, display_name in DEMO_PEOPLE:
        password = new_password()
        try:
            users.add(
                username,
                password,
                role=role,
                display_name=display_name,
                rep_id=crm_id if role == "rep" else None,
                distributor_id=crm_id if role == "distributor" else None,
            )
        except UserError:  # made by hand before: give it a known password again
            users.reset_password(username, password)
        people.append((username, role, password))
    home.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(people, handle, indent=2, ensure_ascii=False)
    return people
