"""The desk's users file: scrypt hashes made and checked, bad lines named."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.deskusers import hash_password, load_users, matches, user_line
from agents.settings import SettingsError


def test_a_password_matches_its_hash_and_nothing_else() -> None:
    stored = hash_password("correct horse battery", salt=b"0123456789abcdef")
    assert stored.startswith("scrypt$16384$8$1$MDEyMzQ1Njc4OWFiY2RlZg==$")
    assert matches("correct horse battery", stored)
    assert not matches("correct horse batterY", stored)
    assert not matches("correct horse battery", stored.replace("scrypt", "bcrypt"))
    assert not matches("x", "scrypt$not$a$hash")
    assert hash_password("same") != hash_password("same")  # a fresh salt each time


def test_a_users_file_is_read_and_its_bad_lines_named(tmp_path: Path) -> None:
    path = tmp_path / "users"
    path.write_text("# desk users\n\n" + user_line("dana", "a long password!") + "\n")
    users = load_users(path)
    assert list(users) == ["dana"]
    assert matches("a long password!", users["dana"])
    for text, said in (
        ("dana:secret\n", f"{path}:1: not 'name:scrypt$...'"),
        (f"{user_line('a', 'password1234')}\n{user_line('a', 'password5678')}\n", ":2: a twice"),
        ("# nobody\n", "names no user"),
    ):
        path.write_text(text)
        with pytest.raises(SettingsError, match=r"^NEWSMON_DESK_USERS_FILE: ") as refused:
            load_users(path)
        assert said in str(refused.value)
    with pytest.raises(ValueError, match="at least 12"):
        user_line("dana", "short")
