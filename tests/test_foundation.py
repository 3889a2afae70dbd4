"""Signing, credentials and redaction, catalogs against the seed tables, envelopes."""

from __future__ import annotations

import hashlib
import logging
import re

import pytest

import sys

import buka_nb.catalog  # noqa: F401  (the package re-exports the function of the same name)

cat = sys.modules["buka_nb.catalog"]
from buka_nb.credentials import Credentials, RedactingFilter, redact
from buka_nb.envelope import error_for, normalise
from buka_nb.errors import AccountError, AuthError, ClockSkewError, ConfigError, RateLimitedError
from buka_nb.signing import auth_headers, sign, verify

from .conftest import SEED, SHARED_SEED


def test_documented_signing_vector():
    assert sign("bDqJFiq9", "7bz1lzh9", 1630468800) == "05d7a50893e22a5c4bb3216ae3396c7c"
    assert sign("bDqJFiq9", "7bz1lzh9", "1630468800") == "05d7a50893e22a5c4bb3216ae3396c7c"


def test_auth_headers_and_case_insensitive_verify():
    headers = auth_headers("bDqJFiq9", "7bz1lzh9", 1630468800)
    assert headers == {"Content-Type": "application/json;charset=UTF-8", "Api-Key": "bDqJFiq9",
                       "Timestamp": "1630468800", "Sign": "05d7a50893e22a5c4bb3216ae3396c7c"}
    assert verify("bDqJFiq9", "7bz1lzh9", "1630468800", "05D7A50893E22A5C4BB3216AE3396C7C")
    assert not verify("bDqJFiq9", "wrong", "1630468800", headers["Sign"])
    assert not verify("bDqJFiq9", "7bz1lzh9", "not-a-number", headers["Sign"])


def _seed_tables() -> dict[str, dict[int, str]]:
    text = SEED.read_text(encoding="utf-8")
    sections = {"sms": "Response status code description:", "email": "Email response status code description:",
                "voice": "Intelligent voice response status code description:"}
    starts = sorted((text.index(marker), channel) for channel, marker in sections.items())
    tables = {}
    for k, (start, channel) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else text.index("Feedback")
        lines = [ln.strip().rstrip("|").strip() for ln in text[start:end].splitlines()]
        pairs = {}
        for i, line in enumerate(lines):
            if re.fullmatch(r"-?\d+", line):
                pairs[int(line)] = lines[i + 1]
        tables[channel] = pairs
    return tables


def test_the_golden_seed_is_the_shared_one():
    if SHARED_SEED.is_file():  # a clean checkout has only the copy; next to shared/ the two must agree
        assert SEED.read_bytes() == SHARED_SEED.read_bytes()
    # pinned: the copy is BUKA's page as received, not a file to edit
    assert hashlib.sha256(SEED.read_bytes()).hexdigest() == "15dac9ee88b569cb04d2db0b57ddff47512b0a7d91ff57d205189bc958b078b5"


def test_every_seed_code_is_in_the_catalog_with_its_reason():
    tables = _seed_tables()
    assert len(tables["sms"]) == 29 and len(tables["email"]) == 33 and len(tables["voice"]) == 35
    for channel, pairs in tables.items():
        for code, reason in pairs.items():
            info = cat.lookup(channel, code)
            assert cat.is_known(channel, code), (channel, code)
            assert info.reason.lower() == reason.lower(), (channel, code, info.reason, reason)
        assert {i.code for i in cat.codes(channel)} == set(pairs)


def test_catalog_frame_and_lookups():
    frame = cat.catalog()
    assert list(frame.columns) == ["channel", "code", "reason", "category", "retryable", "fatal", "action"]
    assert len(frame) == 29 + 33 + 35
    assert frame.set_index(["channel", "code"]).loc[("email", -2), "reason"] == "Repetitive submission"
    assert cat.lookup("sms", -2).reason == "IP access limited"
    assert cat.lookup("sms", -10).fatal and cat.lookup("sms", -13).fatal and cat.lookup("sms", -1).fatal
    assert not cat.lookup("sms", -16).fatal and cat.lookup("sms", -16).retryable
    assert cat.lookup("sms", -15).retryable and not cat.lookup("sms", -9).retryable
    unknown = cat.lookup("sms", -99)
    assert unknown.category == "unknown" and "-99" in unknown.reason
    with pytest.raises(ValueError, match="unknown channel"):
        cat.lookup("fax", 0)


def test_envelopes_all_three_styles():
    a = normalise({"status": "0", "reason": "success", "success": "2", "array": [{"msgId": "1"}]})
    assert (a.ok, a.code, a.count("success"), a.items()) == (True, 0, 2, [{"msgId": "1"}])
    b = normalise({"status": 0, "reason": " success", "data": {"total": 1, "records": []}})
    assert (b.ok, b.reason, b.field("total")) == (True, "success", 1)
    c = normalise({"code": "-54", "msg": "the submitted task is invalid", "data": None})
    assert (c.ok, c.code, c.reason) == (False, -54, "the submitted task is invalid")
    assert normalise(["not", "a", "dict"]).code == -18
    assert normalise({"status": "-9", "reason": "x", "data": {"array": [1]}}).items() == [1]


def test_error_mapping_per_channel():
    assert isinstance(error_for("sms", -1), AuthError)
    assert isinstance(error_for("sms", -10), AccountError)
    assert isinstance(error_for("sms", -15), RateLimitedError)
    assert isinstance(error_for("sms", -16), ClockSkewError)
    assert isinstance(error_for("email", -6), ClockSkewError)
    assert isinstance(error_for("voice", -4), ClockSkewError)
    err = error_for("email", -2, path="/email/sendEmail")
    assert (err.code, err.reason, err.channel) == (-2, "Repetitive submission", "email")
    assert str(err) == "BUKA email status -2: Repetitive submission from /email/sendEmail"


def test_credentials_from_env_dotenv_and_errors(tmp_path):
    env = {"BUKA_API_KEY": "key1", "BUKA_API_SECRET": "secret-one", "BUKA_SMS_APP_ID": "app1"}
    c = Credentials.from_env(environ=env, dotenv=None)
    assert (c.api_key, c.sms_app_id, c.source) == ("key1", "app1", "environment")
    dotenv = tmp_path / ".env"
    dotenv.write_text("BUKA_API_KEY=key2\nBUKA_API_SECRET=secret-two\nBUKA_EMAIL_APP_ID=mail2\n")
    d = Credentials.from_env(environ={}, dotenv=dotenv, use_keyring=False)
    assert (d.api_key, d.api_secret.reveal(), d.email_app_id) == ("key2", "secret-two", "mail2")
    with pytest.raises(ConfigError, match="BUKA_API_KEY and BUKA_API_SECRET"):
        Credentials.from_env(environ={}, dotenv=None, use_keyring=False)
    with pytest.raises(ConfigError, match="BUKA_VOICE_APP_ID"):
        c.app_id("voice")


def test_secret_never_shows_in_repr_str_format_or_logs(caplog):
    secret = "S3cret-Value-xyz"
    c = Credentials("key9", secret, sms_app_id="a")
    for text in (repr(c), str(c), f"{c.api_secret}", repr(c.api_secret), f"{c!r}"):
        assert secret not in text
    assert c.api_secret.reveal() == secret
    logger = logging.getLogger("buka_nb.test")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="buka_nb.test"):
        logger.info("using %s with Sign: %s", secret, sign("key9", secret, 1))
    assert secret not in caplog.text and sign("key9", secret, 1) not in caplog.text
    assert "********" in caplog.text
    assert redact(f"x {secret} y") == "x ******** y"
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(c.api_secret)


def test_secret_from_the_system_keyring():
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1
        store = {("buka_nb", "key5"): "from-the-keyring"}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    previous = keyring.get_keyring()
    keyring.set_keyring(Memory())
    try:
        c = Credentials.from_env(environ={"BUKA_API_KEY": "key5"}, dotenv=None)
        assert (c.api_secret.reveal(), c.source) == ("from-the-keyring", "environment+keyring")
        assert "from-the-keyring" not in repr(c)
    finally:
        keyring.set_keyring(previous)


def test_run_sync_returns_the_value_without_ever_formatting_it():
    # asyncio.run reprs its Ctrl-C handler, and the main task's result with it, on the way out (3.11)
    import signal

    from buka_nb._aio import run_sync

    formatted = []

    class Result:  # stands in for a 10^6-row result frame, whose repr takes a tenth of a second
        def __repr__(self) -> str:
            formatted.append(self)
            return "Result()"

    value = Result()

    async def campaign() -> Result:
        return value

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a script or notebook kernel
    try:
        assert run_sync(campaign()) is value
    finally:
        signal.signal(signal.SIGINT, previous)
    assert formatted == []
