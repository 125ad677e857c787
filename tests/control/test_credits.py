"""The credit ledger: a debit below zero is refused (a domain error, nothing written), a
charge and a refund land at most once."""

from __future__ import annotations

import pytest

from reelrank.control import Connection, transaction
from reelrank.control.credits import add_credits, balance, charge, charged_for, refund
from reelrank.errors import ConflictError, InsufficientCreditsError
from tests.control.conftest import NOW


def test_a_debit_below_zero_is_refused(con: Connection) -> None:
    add_credits(con, "u1", 2, now=NOW)
    with pytest.raises(InsufficientCreditsError, match="balance 2 < cost 3") as refused, \
            transaction(con):
        charge(con, "u1", "r1", 3, now=NOW)
    assert isinstance(refused.value, ConflictError)
    assert (refused.value.balance, refused.value.cost) == (2, 3)
    assert balance(con, "u1") == 2 and charged_for(con, "r1") == 0


def test_charges_and_refunds_land_once(con: Connection) -> None:
    assert add_credits(con, "u1", 5, now=NOW, reference="pay-1")
    assert not add_credits(con, "u1", 5, now=NOW, reference="pay-1")
    for _ in range(2):
        with transaction(con):
            assert charge(con, "u1", "r1", 2, now=NOW) == 2
    assert (balance(con, "u1"), charged_for(con, "r1")) == (3, 2)
    assert refund(con, "r1", now=NOW) == 2
    assert refund(con, "r1", now=NOW) == 0
    assert refund(con, "never-charged", now=NOW) == 0
    assert (balance(con, "u1"), charged_for(con, "r1")) == (5, 0)


def test_a_charge_needs_the_callers_transaction(con: Connection) -> None:
    with pytest.raises(RuntimeError, match="transaction"):
        charge(con, "u1", "r1", 0, now=NOW)
