"""People who sign in: roles, hashed passwords, sessions, throttling, and `leadflow users`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from leadflow import users as users_module
from leadflow.users import THROTTLE_FAILURES, SignInRefused, UserError, Users

PASSWORD = "correct horse battery"


@pytest.fixture
def users(tmp_path: Path) -> Users:
    return Users(tmp_path / "users.sqlite")


def test_a_password_is_stored_only_as_an_argon2_hash_and_signs_in(
    users: Users, tmp_path: Path
) -> None:
    users.add("wang.fang", PASSWORD, role="rep", rep_id="R007", display_name="王芳")
    stored = sqlite3.connect(tmp_path / "users.sqlite").execute("select * from users").fetchall()
    assert PASSWORD not in repr(stored)
    assert any(str(value).startswith("$argon2id$") for value in stored[0])
    session, token = users.sign_in("Wang.Fang", PASSWORD, client="10.0.0.1")
    assert session.user.rep_id == "R007" and session.user.display_name == "王芳"
    again = users.session(token)
    assert again is not None and again.csrf_token == session.csrf_token
    # the store keeps only the token's digest: the file signs nobody in
    tokens = sqlite3.connect(tmp_path / "users.sqlite").execute("select * from sessions")
    assert token not in repr(tokens.fetchall())
    users.sign_out(token)
    assert users.session(token) is None


def test_unknown_names_and_wrong_passwords_get_the_same_answer(users: Users) -> None:
    users.add("li.lei", PASSWORD, role="manager")
    with pytest.raises(SignInRefused, match="wrong user name or password") as unknown:
        users.sign_in("nobody", PASSWORD, client="a")
    with pytest.raises(SignInRefused, match="wrong user name or password") as wrong:
        users.sign_in("li.lei", "not the password", client="a")
    assert str(unknown.value) == str(wrong.value)


def test_sign_in_is_throttled_per_name_and_per_client(users: Users) -> None:
    users.add("li.lei", PASSWORD, role="manager")
    for attempt in range(THROTTLE_FAILURES):
        with pytest.raises(SignInRefused, match="wrong"):
            users.sign_in("li.lei", f"guess number {attempt}", client=f"10.0.0.{attempt}")
    # the right password too, from anywhere, until the window passes or a reset
    with pytest.raises(SignInRefused, match="too many failed sign-ins"):
        users.sign_in("li.lei", PASSWORD, client="10.9.9.9")
    users.reset_password("li.lei", "a brand new password")
    users.sign_in("li.lei", "a brand new password", client="10.9.9.9")
    # one client guessing many names is stopped as well
    for attempt in range(THROTTLE_FAILURES):
        with pytest.raises(SignInRefused):
            users.sign_in(f"user{attempt}", "whatever it is", client="10.6.6.6")
    with pytest.raises(SignInRefused, match="too many"):
        users.sign_in("li.lei", "a brand new password", client="10.6.6.6")


def test_disabling_or_resetting_ends_sessions(users: Users) -> None:
    users.add("zhao.min", PASSWORD, role="leadership")
    _, token = users.sign_in("zhao.min", PASSWORD, client="c")
    users.disable("zhao.min")
    assert users.session(token) is None
    with pytest.raises(SignInRefused, match="disabled"):
        users.sign_in("zhao.min", PASSWORD, client="c")
    users.enable("zhao.min")
    _, token = users.sign_in("zhao.min", PASSWORD, client="c")
    users.reset_password("zhao.min", "another long password")
    assert users.session(token) is None


@pytest.mark.parametrize(
    ("username", "password", "fields", "message"),
    [
        ("ok.name", "short", {"role": "manager"}, "at least 10"),
        ("Bad Name", PASSWORD, {"role": "manager"}, "not acceptable"),
        ("ok.name", PASSWORD, {"role": "boss"}, "unknown role"),
        ("ok.name", PASSWORD, {"role": "rep"}, "needs --rep-id"),
        ("ok.name", PASSWORD, {"role": "distributor"}, "needs --distributor-id"),
    ],
)
def test_what_cannot_be_added_says_why(
    users: Users, username: str, password: str, fields: dict[str, str], message: str
) -> None:
    with pytest.raises(UserError, match=message):
        users.add(username, password, **fields)


def test_a_name_is_taken_once(users: Users) -> None:
    users.add("sun.li", PASSWORD, role="admin")
    with pytest.raises(UserError, match="exists already"):
        users.add("SUN.LI", PASSWORD, role="admin")


def test_an_expired_session_signs_nobody_in(users: Users, monkeypatch: pytest.MonkeyPatch) -> None:
    users.add("sun.li", PASSWORD, role="admin")
    monkeypatch.setattr(users_module, "SESSION_LIFETIME", -users_module.SESSION_LIFETIME)
    _, token = users.sign_in("sun.li", PASSWORD, client="c")
    assert users.session(token) is None


def _leadflow(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow", "users", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"LEADFLOW_HOME": str(home), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )


def test_the_users_commands(tmp_path: Path) -> None:
    added = _leadflow(
        tmp_path, "add", "wang.fang", "--role", "rep", "--rep-id", "R007", "--name", "王芳",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["role"] == "rep" and "password" not in added.stdout
    # no terminal and no --password-stdin: one is made up and shown once
    made = _leadflow(tmp_path, "add", "li.lei", "--role", "manager")
    assert made.returncode == 0, made.stderr
    password = json.loads(made.stdout)["password"]
    Users(tmp_path / "users.sqlite").sign_in("li.lei", password, client="cli")
    listed = json.loads(_leadflow(tmp_path, "list").stdout)["users"]
    assert [user["username"] for user in listed] == ["li.lei", "wang.fang"]
    assert "password" not in json.dumps(listed)
    assert _leadflow(tmp_path, "disable", "wang.fang").returncode == 0
    reset = _leadflow(tmp_path, "reset-password", "wang.fang", "--password-stdin", stdin="x\n")
    assert reset.returncode == 1 and "at least 10" in reset.stderr
    missing = _leadflow(tmp_path, "disable", "nobody")
    assert missing.returncode == 1 and "no user 'nobody'" in missing.stderr
    assert "Traceback" not in missing.stderr
