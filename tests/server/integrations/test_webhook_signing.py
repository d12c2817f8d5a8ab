"""Webhook signing against the Standard Webhooks specification's own test vectors
(standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py)."""

from __future__ import annotations

import time

import pytest

from server.integrations.webhook_signing import WebhookRejected, headers, new_secret, sign, verify

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_vector() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    # The secret without its prefix is the same key.
    assert sign(SPEC_SECRET.removeprefix("whsec_"), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_the_specifications_vector_verifies_and_a_changed_one_does_not() -> None:
    sent = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": SPEC_SIGNATURE,
    }
    verify(SPEC_SECRET, sent, SPEC_BODY, now_s=SPEC_TIMESTAMP + 10)
    # The specification's invalid signature (one character off), among others: rejected.
    bad = {**sent, "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="}
    with pytest.raises(WebhookRejected, match="no v1 signature"):
        verify(SPEC_SECRET, bad, SPEC_BODY, now_s=SPEC_TIMESTAMP)
    with pytest.raises(WebhookRejected):
        verify(SPEC_SECRET, sent, SPEC_BODY.replace("2", "3"), now_s=SPEC_TIMESTAMP)


def test_several_signatures_one_valid() -> None:
    many = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            SPEC_SIGNATURE,
        ]
    )
    sent = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": many}
    verify(SPEC_SECRET, sent, SPEC_BODY, now_s=SPEC_TIMESTAMP)


@pytest.mark.parametrize("skew_s", [-301, 301])
def test_a_stale_or_future_timestamp_is_rejected(skew_s: int) -> None:
    sent = headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    with pytest.raises(WebhookRejected, match="5 minutes"):
        verify(SPEC_SECRET, sent, SPEC_BODY, now_s=SPEC_TIMESTAMP + skew_s)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_rejected(missing: str) -> None:
    sent = headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    del sent[missing]
    with pytest.raises(WebhookRejected, match="missing"):
        verify(SPEC_SECRET, sent, SPEC_BODY, now_s=SPEC_TIMESTAMP)


def test_a_new_secret_signs_and_verifies() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and secret != new_secret()
    now = int(time.time())
    verify(secret, headers(secret, "msg_1", now, "{}"), "{}", now_s=now)
    with pytest.raises(WebhookRejected):
        verify(new_secret(), headers(secret, "msg_1", now, "{}"), "{}", now_s=now)


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(ValueError, match="base64"):
        sign("whsec_not base64!", SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
