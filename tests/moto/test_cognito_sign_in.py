"""Sign-in as Cognito checks it (cognito_sign_in.py): the SRP password proof, password
errors and PreventUserExistenceErrors, through a real moto server.

The client side of SRP below is written from the protocol (x, a and S = (B - k g^x)^(a
+ u x)), not from the server's formulas, and the server's maths is pinned to
amazon-cognito-identity-js by known answers (computed with client/srp-reference/ on the
inputs shown)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

import cognito_sign_in as srp

PASSWORD = "Correct-Horse-Battery-9"
EMAIL = "ada@example.com"
INCORRECT = "Incorrect username or password."

# Known answers from amazon-cognito-identity-js (client/srp-reference/reference.js): its
# USER_SRP_AUTH flow with the client secret a = small_a, against SRP_B = k v + g^b for
# the verifier of (pool, user id, password, salt), signs at unix_ms.
REFERENCE_VECTORS = [
    {
        "pool_id": "us-east-1_AbCdEf123",
        "user_id_for_srp": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "password": "Correct-Horse-Battery-9",
        "small_a": "a5" * 32,
        "b": "5a" * 32,
        "salt": "1234567890abcdef1234567890abcdef",
        "secret_block": "c2VjcmV0LWJsb2NrLWZvci10ZXN0cw==",
        "unix_ms": 1_700_000_000_000,
        "timestamp": "Tue Nov 14 22:13:20 UTC 2023",
        "hkdf": "02080dd6f943e6b392f082da6371667d",
        "signature": "fVmzMGRWoInUgraCedROgq0TTLBY6lAxVyMKIkeg/PI=",
    },
    {
        "pool_id": "eu-west-1_Zz9",
        "user_id_for_srp": "grace",
        "password": "p\u00e4ssw\u00f6rd with spaces",
        "small_a": "01" + "ff" * 40,
        "b": "80" + "00" * 31 + "01",
        "salt": "00ff00ff",
        "secret_block": "AAECAwQFBgcICQ==",
        "unix_ms": 951_782_400_000,
        "timestamp": "Tue Feb 29 00:00:00 UTC 2000",
        "hkdf": "81ad155b7ddbd899b3ac9b1e63e16ee9",
        "signature": "4ac8GJSqmFfLck3eUKVb12eCyn8xu/GDOWNFSQpADjk=",
    },
]


@pytest.mark.parametrize("vector", REFERENCE_VECTORS, ids=lambda v: v["user_id_for_srp"])
def test_the_maths_matches_amazon_cognito_identity_js(vector: dict[str, Any]) -> None:
    assert srp.K == int("538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6", 16)
    pool = srp.pool_name(vector["pool_id"])
    v = srp.verifier(pool, vector["user_id_for_srp"], vector["password"], int(vector["salt"], 16))
    b = int(vector["b"], 16)
    a_public = pow(srp.G, int(vector["small_a"], 16), srp.N)
    key = srp.authentication_key(a_public, srp.server_public(v, b), b, v)
    assert key is not None and key.hex() == vector["hkdf"]
    secret_block = base64.b64decode(vector["secret_block"])
    assert (
        srp.claim_signature(key, pool, vector["user_id_for_srp"], secret_block, vector["timestamp"])
        == vector["signature"]
    )
    # The timestamp is signed: another second, another signature.
    assert (
        srp.claim_signature(key, pool, vector["user_id_for_srp"], secret_block, "Thu Jan 1 00:00:00 UTC 1970")
        != vector["signature"]
    )


# --- a client, written from the protocol ---------------------------------------------


def _timestamp(now: float) -> str:
    moment = time.gmtime(now)
    return time.strftime(f"%a %b {moment.tm_mday} %H:%M:%S UTC %Y", moment)


def _claim(
    pool_id: str, challenge: dict[str, str], password: str, a: int, now: float | None = None
) -> dict[str, str]:
    """The PASSWORD_VERIFIER answer for a challenge to the ephemeral key a."""
    parameters = challenge["ChallengeParameters"]
    pool = pool_id.split("_", 1)[1]
    user_id = parameters["USER_ID_FOR_SRP"]
    salt = int(parameters["SALT"], 16)
    b_public = int(parameters["SRP_B"], 16)
    a_public = pow(srp.G, a, srp.N)
    u = srp.hash_int(srp.padded(a_public), srp.padded(b_public))
    identity = hashlib.sha256(f"{pool}{user_id}:{password}".encode()).digest()
    x = srp.hash_int(srp.padded(salt), identity)
    base = (b_public - srp.K * pow(srp.G, x, srp.N)) % srp.N
    shared = pow(base, a + u * x, srp.N)
    prk = hmac.new(srp.padded(u), srp.padded(shared), hashlib.sha256).digest()
    key = hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]
    timestamp = _timestamp(time.time() if now is None else now)
    block = parameters["SECRET_BLOCK"]
    message = pool.encode() + user_id.encode() + base64.b64decode(block) + timestamp.encode()
    return {
        "USERNAME": user_id,
        "PASSWORD_CLAIM_SECRET_BLOCK": block,
        "TIMESTAMP": timestamp,
        "PASSWORD_CLAIM_SIGNATURE": base64.b64encode(
            hmac.new(key, message, hashlib.sha256).digest()
        ).decode(),
    }


def _start(idp: Any, client_id: str, username: str, a: int, **extra: str) -> dict[str, Any]:
    return idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_SRP_AUTH",
        AuthParameters={"USERNAME": username, "SRP_A": format(pow(srp.G, a, srp.N), "x"), **extra},
    )


def _answer(idp: Any, client_id: str, challenge: dict[str, Any], responses: dict[str, str]) -> Any:
    return idp.respond_to_auth_challenge(
        ClientId=client_id,
        ChallengeName="PASSWORD_VERIFIER",
        Session=challenge.get("Session", ""),
        ChallengeResponses=responses,
    )


def _srp_sign_in(idp: Any, pool_id: str, client_id: str, username: str, password: str) -> Any:
    a = secrets.randbits(1024)
    challenge = _start(idp, client_id, username, a)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    return _answer(idp, client_id, challenge, _claim(pool_id, challenge, password, a))


def _refused(call: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    return dict(refused.value.response["Error"])


def _pool(idp: Any, *, emails: bool = True) -> str:
    extra = {"UsernameAttributes": ["email"]} if emails else {}
    return idp.create_user_pool(PoolName=f"signin-{uuid.uuid4().hex[:8]}", **extra)["UserPool"]["Id"]


def _client(idp: Any, pool_id: str, **settings: Any) -> str:
    settings.setdefault(
        "ExplicitAuthFlows",
        [
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
    )
    return idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app", **settings)[
        "UserPoolClient"
    ]["ClientId"]


def _user(idp: Any, pool_id: str, username: str = EMAIL, password: str | None = PASSWORD) -> None:
    attributes = [{"Name": "email", "Value": EMAIL}] if "@" in username else []
    idp.admin_create_user(
        UserPoolId=pool_id, Username=username, UserAttributes=attributes, MessageAction="SUPPRESS"
    )
    if password is not None:
        idp.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=password, Permanent=True
        )


def _password_auth(idp: Any, client_id: str, username: str, password: str) -> Any:
    return idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )


def _admin_password_auth(idp: Any, pool_id: str, client_id: str, username: str, password: str) -> Any:
    return idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )


# --- the SRP proof --------------------------------------------------------------------


def test_the_right_password_signs_in_with_srp(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)
    _user(idp, pool_id)
    a = secrets.randbits(1024)
    challenge = _start(idp, client_id, EMAIL, a)
    parameters = challenge["ChallengeParameters"]
    sub = idp.admin_get_user(UserPoolId=pool_id, Username=EMAIL)["Username"]
    # E-mail user names: the user's internal name (its sub) is the SRP identity.
    assert parameters["USER_ID_FOR_SRP"] == parameters["USERNAME"] == sub
    assert int(parameters["SRP_B"], 16) % srp.N != 0
    assert len(base64.b64decode(parameters["SECRET_BLOCK"], validate=True)) >= 32
    tokens = _answer(idp, client_id, challenge, _claim(pool_id, challenge, PASSWORD, a))[
        "AuthenticationResult"
    ]
    assert idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == sub
    assert tokens["RefreshToken"]
    # Each challenge is new: another salt, another B.
    again = _start(idp, client_id, EMAIL, a)["ChallengeParameters"]
    assert again["SALT"] != parameters["SALT"] and again["SRP_B"] != parameters["SRP_B"]


def test_a_wrong_password_is_refused_as_by_every_password_flow(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)
    _user(idp, pool_id)
    wrong = "Wrong-Horse-Battery-9"
    for call in (
        lambda: _srp_sign_in(idp, pool_id, client_id, EMAIL, wrong),
        lambda: _password_auth(idp, client_id, EMAIL, wrong),
        lambda: _admin_password_auth(idp, pool_id, client_id, EMAIL, wrong),
    ):
        assert _refused(call) == {"Code": "NotAuthorizedException", "Message": INCORRECT}
    # And the right password still works through each.
    assert _srp_sign_in(idp, pool_id, client_id, EMAIL, PASSWORD)["AuthenticationResult"]
    assert _password_auth(idp, client_id, EMAIL, PASSWORD)["AuthenticationResult"]
    assert _admin_password_auth(idp, pool_id, client_id, EMAIL, PASSWORD)["AuthenticationResult"]


def test_the_proof_follows_a_password_change(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)
    _user(idp, pool_id)
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=EMAIL, Password="New-Horse-Battery-9", Permanent=True
    )
    refused = _refused(lambda: _srp_sign_in(idp, pool_id, client_id, EMAIL, PASSWORD))
    assert refused["Message"] == INCORRECT
    assert _srp_sign_in(idp, pool_id, client_id, EMAIL, "New-Horse-Battery-9")["AuthenticationResult"]


def test_a_pool_with_plain_user_names_proves_the_user_name(idp: Any) -> None:
    pool_id = _pool(idp, emails=False)
    client_id = _client(idp, pool_id)
    _user(idp, pool_id, "grace")
    a = secrets.randbits(1024)
    challenge = _start(idp, client_id, "grace", a)
    assert challenge["ChallengeParameters"]["USER_ID_FOR_SRP"] == "grace"
    tokens = _answer(idp, client_id, challenge, _claim(pool_id, challenge, PASSWORD, a))
    assert idp.get_user(AccessToken=tokens["AuthenticationResult"]["AccessToken"])["Username"] == "grace"


def test_the_signature_covers_the_timestamp_and_the_user(idp: Any) -> None:
    pool_id = _pool(idp, emails=False)
    client_id = _client(idp, pool_id)
    _user(idp, pool_id, "grace")
    _user(idp, pool_id, "alan")
    a = secrets.randbits(1024)
    challenge = _start(idp, client_id, "grace", a)
    answer = _claim(pool_id, challenge, PASSWORD, a)
    answer["TIMESTAMP"] = _timestamp(time.time() + 1)
    assert _refused(lambda: _answer(idp, client_id, challenge, answer))["Message"] == INCORRECT

    # A right proof for grace does not sign alan in.
    challenge = _start(idp, client_id, "grace", a)
    answer = {**_claim(pool_id, challenge, PASSWORD, a), "USERNAME": "alan"}
    assert _refused(lambda: _answer(idp, client_id, challenge, answer))["Message"] == INCORRECT


def test_a_secret_block_answers_once_and_only_to_its_client(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)
    other_client = _client(idp, pool_id)
    _user(idp, pool_id)
    a = secrets.randbits(1024)
    challenge = _start(idp, client_id, EMAIL, a)
    right = _claim(pool_id, challenge, PASSWORD, a)
    wrong = _claim(pool_id, challenge, "Wrong-Horse-Battery-9", a)
    assert _refused(lambda: _answer(idp, other_client, challenge, right)) == {
        "Code": "NotAuthorizedException",
        "Message": "Invalid session for the user, session is expired.",
    }
    assert _refused(lambda: _answer(idp, client_id, challenge, wrong))["Message"] == INCORRECT
    # After a wrong guess the challenge is spent: the right answer must start over.
    refused = _refused(lambda: _answer(idp, client_id, challenge, right))
    assert refused["Message"] == "Invalid session for the user, session is expired."

    challenge = _start(idp, client_id, EMAIL, a)
    right = _claim(pool_id, challenge, PASSWORD, a)
    assert _answer(idp, client_id, challenge, right)["AuthenticationResult"]
    refused = _refused(lambda: _answer(idp, client_id, challenge, right))
    assert refused["Message"] == "Invalid session for the user, session is expired."


def test_missing_answers_are_invalid_parameters(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)
    _user(idp, pool_id)
    refused = _refused(
        lambda: idp.initiate_auth(
            ClientId=client_id, AuthFlow="USER_SRP_AUTH", AuthParameters={"USERNAME": EMAIL}
        )
    )
    assert refused == {"Code": "InvalidParameterException", "Message": "Missing required parameter SRP_A"}
    a = secrets.randbits(1024)
    challenge = _start(idp, client_id, EMAIL, a)
    answer = _claim(pool_id, challenge, PASSWORD, a)
    del answer["PASSWORD_CLAIM_SIGNATURE"]
    refused = _refused(lambda: _answer(idp, client_id, challenge, answer))
    assert refused["Code"] == "InvalidParameterException"


def test_a_temporary_password_is_proved_then_replaced(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id)
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=EMAIL,
        UserAttributes=[{"Name": "email", "Value": EMAIL}],
        TemporaryPassword="Temp-Horse-Battery-9",
        MessageAction="SUPPRESS",
    )
    assert _refused(lambda: _srp_sign_in(idp, pool_id, client_id, EMAIL, PASSWORD))["Message"] == INCORRECT
    step = _srp_sign_in(idp, pool_id, client_id, EMAIL, "Temp-Horse-Battery-9")
    assert step["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    done = idp.respond_to_auth_challenge(
        ClientId=client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=step["Session"],
        ChallengeResponses={"USERNAME": step["ChallengeParameters"]["USERNAME"], "NEW_PASSWORD": PASSWORD},
    )
    assert done["AuthenticationResult"]["AccessToken"]
    assert _srp_sign_in(idp, pool_id, client_id, EMAIL, PASSWORD)["AuthenticationResult"]


def test_a_client_with_a_secret_sends_its_hash_with_the_answer(idp: Any) -> None:
    pool_id = _pool(idp, emails=False)
    client = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="confidential", GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]
    client_id, secret = client["ClientId"], client["ClientSecret"]
    _user(idp, pool_id, "grace")

    def secret_hash(username: str) -> str:
        digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    a = secrets.randbits(1024)
    refused = _refused(lambda: _start(idp, client_id, "grace", a))
    assert refused["Code"] == "NotAuthorizedException"
    challenge = _start(idp, client_id, "grace", a, SECRET_HASH=secret_hash("grace"))
    answer = _claim(pool_id, challenge, PASSWORD, a)
    refused = _refused(lambda: _answer(idp, client_id, challenge, answer))
    assert refused == {
        "Code": "NotAuthorizedException",
        "Message": f"Unable to verify secret hash for client {client_id}",
    }
    challenge = _start(idp, client_id, "grace", a, SECRET_HASH=secret_hash("grace"))
    answer = {**_claim(pool_id, challenge, PASSWORD, a), "SECRET_HASH": secret_hash("grace")}
    assert _answer(idp, client_id, challenge, answer)["AuthenticationResult"]


def test_srp_still_needs_the_flow_allowed(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id, ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])
    _user(idp, pool_id)
    refused = _refused(lambda: _start(idp, client_id, EMAIL, secrets.randbits(1024)))
    assert refused == {
        "Code": "InvalidParameterException",
        "Message": "USER_SRP_AUTH flow not enabled for this client",
    }


# --- PreventUserExistenceErrors -------------------------------------------------------


@pytest.mark.parametrize("setting", [None, "LEGACY"])
def test_without_hiding_an_unknown_user_is_named(idp: Any, setting: str | None) -> None:
    pool_id = _pool(idp)
    extra = {} if setting is None else {"PreventUserExistenceErrors": setting}
    client_id = _client(idp, pool_id, **extra)
    nobody = "nobody@example.com"
    for call in (
        lambda: _srp_sign_in(idp, pool_id, client_id, nobody, PASSWORD),
        lambda: _password_auth(idp, client_id, nobody, PASSWORD),
        lambda: _admin_password_auth(idp, pool_id, client_id, nobody, PASSWORD),
    ):
        assert _refused(call) == {"Code": "UserNotFoundException", "Message": "User does not exist."}
    not_found = {"Code": "UserNotFoundException", "Message": "Username/client id combination not found."}
    assert _refused(lambda: idp.forgot_password(ClientId=client_id, Username=nobody)) == not_found
    assert (
        _refused(
            lambda: idp.confirm_forgot_password(
                ClientId=client_id, Username=nobody, ConfirmationCode="123456", Password=PASSWORD
            )
        )
        == not_found
    )


def test_with_hiding_an_unknown_user_looks_like_a_wrong_password(idp: Any) -> None:
    pool_id = _pool(idp)
    client_id = _client(idp, pool_id, PreventUserExistenceErrors="ENABLED")
    _user(idp, pool_id)
    nobody = "nobody@example.com"
    for call in (
        lambda: _srp_sign_in(idp, pool_id, client_id, nobody, PASSWORD),
        lambda: _password_auth(idp, client_id, nobody, PASSWORD),
        lambda: _admin_password_auth(idp, pool_id, client_id, nobody, PASSWORD),
    ):
        assert _refused(call) == {"Code": "NotAuthorizedException", "Message": INCORRECT}

    # SRP's first step answers as for a real user, and the same way each time.
    first = _start(idp, client_id, nobody, secrets.randbits(1024))["ChallengeParameters"]
    second = _start(idp, client_id, nobody, secrets.randbits(1024))["ChallengeParameters"]
    assert first["SALT"] == second["SALT"]
    assert first["USER_ID_FOR_SRP"] == second["USER_ID_FOR_SRP"]
    assert uuid.UUID(first["USER_ID_FOR_SRP"]).version == 4
    assert first["SRP_B"] != second["SRP_B"]
    other = _start(idp, client_id, "someone@example.com", secrets.randbits(1024))
    assert other["ChallengeParameters"]["SALT"] != first["SALT"]

    # Password reset: a simulated delivery, then a code that never matches.
    sent = idp.forgot_password(ClientId=client_id, Username=nobody)
    assert sent["CodeDeliveryDetails"]["DeliveryMedium"] in ("EMAIL", "SMS")
    refused = _refused(
        lambda: idp.confirm_forgot_password(
            ClientId=client_id, Username=nobody, ConfirmationCode="123456", Password=PASSWORD
        )
    )
    assert refused["Code"] == "CodeMismatchException"

    # A real user still signs in.
    assert _srp_sign_in(idp, pool_id, client_id, EMAIL, PASSWORD)["AuthenticationResult"]


def test_a_disabled_user_is_told_only_with_the_right_password_when_hiding(idp: Any) -> None:
    pool_id = _pool(idp)
    hiding = _client(idp, pool_id, PreventUserExistenceErrors="ENABLED")
    legacy = _client(idp, pool_id, PreventUserExistenceErrors="LEGACY")
    _user(idp, pool_id)
    idp.admin_disable_user(UserPoolId=pool_id, Username=EMAIL)
    disabled = {"Code": "NotAuthorizedException", "Message": "User is disabled."}
    wrong = "Wrong-Horse-Battery-9"
    for password, expected in ((wrong, INCORRECT), (PASSWORD, "User is disabled.")):
        for call in (
            lambda: _srp_sign_in(idp, pool_id, hiding, EMAIL, password),
            lambda: _password_auth(idp, hiding, EMAIL, password),
            lambda: _admin_password_auth(idp, pool_id, hiding, EMAIL, password),
        ):
            assert _refused(call) == {"Code": "NotAuthorizedException", "Message": expected}
    # LEGACY says so at once, whatever the password (SRP: before any proof).
    assert _refused(lambda: _start(idp, legacy, EMAIL, secrets.randbits(1024))) == disabled
    assert _refused(lambda: _password_auth(idp, legacy, EMAIL, wrong)) == disabled
