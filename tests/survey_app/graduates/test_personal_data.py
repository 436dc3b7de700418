"""Encryption at rest, masking, check digits and access logging of identifying fields."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from sqlalchemy import select

from survey_app.accounts.models import AuditEvent, Role
from survey_app.core.config import ConfigError, load_config
from survey_app.core.personal_data import (
    Cipher,
    DecryptionError,
    id_number_valid,
    id_numbers_valid,
    mask_id_number,
    mask_name,
    mask_phone,
    uscc_valid,
    usccs_valid,
)
from survey_app.graduates.models import Graduate
from survey_app.graduates.services import graduates_register as register
from survey_app.graduates.services.graduates_identity import identity, reveal

from ..graduates_util import csv_bytes, id_number, row, uscc

KEY = base64.urlsafe_b64encode(bytes(range(32))).decode()


def test_cipher_round_trip_uses_a_fresh_nonce() -> None:
    box = Cipher(KEY)
    first, second = box.encrypt("110105194912310021"), box.encrypt("110105194912310021")
    assert first != second and "110105" not in first
    assert box.decrypt(first) == box.decrypt(second) == "110105194912310021"
    assert box.encrypt("") == "" and box.decrypt("") == ""
    other = Cipher(base64.urlsafe_b64encode(bytes(32)).decode())
    with pytest.raises(DecryptionError):
        other.decrypt(first)
    with pytest.raises(ValueError, match="32 bytes"):
        Cipher("c2hvcnQ=")


def test_key_is_generated_in_development_and_required_in_production(tmp_path) -> None:
    settings = load_config(str(tmp_path), environ={})
    again = load_config(str(tmp_path), environ={})
    assert settings["ENCRYPTION_KEY"] == again["ENCRYPTION_KEY"]
    assert len(base64.urlsafe_b64decode(settings["ENCRYPTION_KEY"])) == 32
    assert load_config(str(tmp_path), environ={"STRATA_ENCRYPTION_KEY": KEY})["ENCRYPTION_KEY"] == KEY
    with pytest.raises(ConfigError, match="STRATA_ENCRYPTION_KEY must be set"):
        load_config(str(tmp_path), environ={"STRATA_ENV": "production", "SECRET_KEY": "x"})


def test_check_digits() -> None:
    assert id_number_valid("11010519491231002X") and id_number_valid("11010519491231002x")
    assert not id_number_valid("110105194912310021") and not id_number_valid("1101051949123100")
    assert uscc_valid("91350100M000100Y43")
    assert not uscc_valid("91350100M000100Y44") and not uscc_valid("91350100M000100I43")
    assert not uscc_valid("91350100M000100Y4")


def test_masks() -> None:
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_id_number("11010519491231002X") == "110***********002X"
    assert mask_phone("13812345678") == "138****5678"


def test_every_view_is_logged(app, session, make_user) -> None:
    user = make_user(Role.ADMIN)
    with app.test_request_context():
        register.import_graduates(session, csv_bytes([row("G001", "70", name="王小明", phone="13812345678")]), "a.csv", cohort=2026)
        session.commit()
        graduate = session.scalar(select(Graduate))
        masked = identity(session, graduate, actor=user, purpose="callback")
        clear = reveal(session, graduate, actor=user, purpose="callback")
        session.commit()
    assert (masked.name, masked.phone) == ("王**", "138****5678") and masked.id_number.endswith(id_number(1)[-4:])
    assert (clear.name, clear.id_number, clear.phone) == ("王小明", id_number(1), "13812345678")
    events = session.scalars(select(AuditEvent).where(AuditEvent.object_type == "graduate").order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["personal_data.view", "personal_data.reveal"]
    assert all(e.actor_id == user.id and e.object_id == str(graduate.id) for e in events)
    assert events[0].details["purpose"] == "callback"


def test_vectorised_check_digits_agree_with_the_scalar_rules() -> None:
    rng = np.random.default_rng(4)
    alphabet = list("0123456789ABCDEFGHJKLMNPQRTUWXYIOZSVx")
    values = ["".join(rng.choice(alphabet, size=int(rng.integers(16, 20)))) for _ in range(3000)]
    values += [id_number(i) for i in range(300)] + [uscc(i) for i in range(300)] + ["", " 11010519491231002x "]
    assert id_numbers_valid(values).tolist() == [id_number_valid(v) for v in values]
    assert usccs_valid(values).tolist() == [uscc_valid(v) for v in values]
    assert id_numbers_valid(values).sum() >= 301 and usccs_valid(values).sum() >= 300
