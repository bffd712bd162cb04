"""An unknown name's login verifies the password against a constant dummy hash
(services/accounts.py), so that it takes as long as a known name's. That holds only while the
dummy's argon2 parameters are the ones real hashes get: an argon2-cffi upgrade that changed
the defaults would make unknown names measurably faster (or slower) to refuse."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import VerifyMismatchError

from agentplaza.services import accounts


def test_the_dummy_hash_has_the_parameters_of_a_real_one() -> None:
    real = PasswordHasher().hash("a real password")
    assert extract_parameters(accounts.DUMMY_PASSWORD_HASH) == extract_parameters(real)


def test_the_dummy_hash_verifies_like_a_real_one_and_matches_no_guess() -> None:
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(accounts.DUMMY_PASSWORD_HASH, "hunter2")
