"""Sign-in as Cognito checks it: the SRP password proof, and hidden user existence.

moto 5.2.5 answers ``USER_SRP_AUTH`` with random text for ``SALT`` and ``SRP_B`` and
then accepts any ``PASSWORD_VERIFIER`` answer, so a wrong password signs in; it names
the user instead of saying "Incorrect username or password." when
``ADMIN_USER_PASSWORD_AUTH`` gets a wrong password; and it ignores an app client's
``PreventUserExistenceErrors``. This module makes them behave as AWS documents:

- ``InitiateAuth`` with ``USER_SRP_AUTH`` plays the server side of Cognito's SRP-6a
  (the 3072-bit group of RFC 5054, g = 2, k = H(N | g), SHA-256): it derives the
  verifier v = g^x from the user's current password, x = H(salt | H(poolName |
  userIdForSrp | ":" | password)) where poolName is the pool id after its "_", and
  answers ``PASSWORD_VERIFIER`` with a fresh random ``SALT``, ``SRP_B`` = k v + g^b,
  a random base64 ``SECRET_BLOCK`` and ``USER_ID_FOR_SRP`` (the user's internal user
  name, as AWS: the ``sub`` in pools whose user names are e-mail addresses; moto sent
  the ``sub`` always, which no client could answer for other pools).
- ``RespondToAuthChallenge`` (and ``AdminRespondToAuthChallenge``) with
  ``PASSWORD_VERIFIER`` computes S = (A v^u)^b, the key HKDF-SHA256(salt u, S,
  "Caldera Derived Key")[:16], and the expected ``PASSWORD_CLAIM_SIGNATURE``, base64
  HMAC-SHA256(key, poolName | userIdForSrp | secret block bytes | ``TIMESTAMP``). A
  wrong one is ``NotAuthorizedException: Incorrect username or password.``, exactly as
  ``USER_PASSWORD_AUTH`` answers a wrong password; a right one goes on as moto did
  (tokens, or ``NEW_PASSWORD_REQUIRED`` for a temporary password, or an MFA step). A
  secret block answers once, from the client it was issued to, within the client's
  ``AuthSessionValidity`` (3 minutes by default): else ``NotAuthorizedException:
  Invalid session for the user, session is expired.``. A client with a secret must
  send ``SECRET_HASH`` with the answer too.
- ``ADMIN_USER_PASSWORD_AUTH`` with a wrong password says "Incorrect username or
  password." (``USER_PASSWORD_AUTH`` already did).
- ``PreventUserExistenceErrors: ENABLED`` on the app client: an unknown user name gets
  ``NotAuthorizedException: Incorrect username or password.`` from
  ``USER_PASSWORD_AUTH`` and ``ADMIN_USER_PASSWORD_AUTH``; ``USER_SRP_AUTH`` answers a
  simulated challenge (RFC 5054's way: the same ``SALT`` and a UUID ``USER_ID_FOR_SRP``
  for the same user name and pool each time) and then refuses the answer with that
  same error. A disabled user with a wrong password gets it too (a right password
  still hears "User is disabled."). ``ForgotPassword`` for an unknown user answers as
  moto did, with a simulated ``CodeDeliveryDetails``, and ``ConfirmForgotPassword``
  with ``CodeMismatchException``. With ``LEGACY`` (the API's default) or no setting,
  unknown users get ``UserNotFoundException`` from all of them ("User does not exist."
  from sign-in, "Username/client id combination not found." from the password reset
  calls; moto had answered ``ForgotPassword`` as if enabled and
  ``ConfirmForgotPassword`` with ``ResourceNotFoundException``).

The maths follows amazon-cognito-identity-js, the only specification Cognito has;
test_cognito_sign_in.py checks it against that library's output on fixed inputs.

Import this module before cognito_clients.py (server.py does): that module's check of
the client's ExplicitAuthFlows then runs before these flows start. The patches happen
at import time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from moto.cognitoidp import models as cognitoidp_models
from moto.cognitoidp.exceptions import (
    CodeMismatchException,
    InvalidParameterException,
    NotAuthorizedError,
    UserNotConfirmedException,
    UserNotFoundError,
)
from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpUser,
    CognitoIdpUserPool,
    CognitoIdpUserPoolClient,
    UserStatus,
)

#: The 3072-bit prime of RFC 5054 (appendix A); the generator is 2.
N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A0879"
    "8E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B"
    "0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA4836"
    "1C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804"
    "F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6"
    "955817183995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64"
    "ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7ABF5AE8CDB0933D71E8C94E04A25619DCEE3D226"
    "1AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2"
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2

INCORRECT = "Incorrect username or password."
EXPIRED = "Invalid session for the user, session is expired."
_PASSWORD_FLOWS = ("USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH")
_NO_SUCH_USER = "Username/client id combination not found."


def padded(value: int) -> bytes:
    """Java's signed BigInteger.toByteArray for a non-negative value (the reference's
    padHex): big-endian, a leading zero byte when the top bit is set."""
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return b"\x00" + raw if raw[0] & 0x80 else raw


def hash_int(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"".join(parts)).digest(), "big")


#: k = H(N | g), SRP-6a's multiplier.
K = hash_int(padded(N), padded(G))


def pool_name(user_pool_id: str) -> str:
    """The pool id without its region: ``us-east-1_AbC`` -> ``AbC``."""
    return user_pool_id.split("_", 1)[1]


def verifier(pool: str, user_id_for_srp: str, password: str, salt: int) -> int:
    """v = g^x, x = H(salt | H(poolName | userIdForSrp | ":" | password))."""
    identity = hashlib.sha256(f"{pool}{user_id_for_srp}:{password}".encode()).digest()
    return pow(G, hash_int(padded(salt), identity), N)


def server_public(v: int, b: int) -> int:
    """B = k v + g^b mod N."""
    return (K * v + pow(G, b, N)) % N


def authentication_key(a_public: int, b_public: int, b: int, v: int) -> bytes | None:
    """The 16-byte key the client derives too, from the server's side: S = (A v^u)^b,
    HKDF-SHA256 with salt u and info "Caldera Derived Key". None when u is zero."""
    u = hash_int(padded(a_public), padded(b_public))
    if u == 0:
        return None
    shared = pow(a_public * pow(v, u, N) % N, b, N)
    prk = hmac.new(padded(u), padded(shared), hashlib.sha256).digest()
    return hmac.new(prk, b"Caldera Derived Key\x01", hashlib.sha256).digest()[:16]


def claim_signature(
    key: bytes, pool: str, user_id_for_srp: str, secret_block: bytes, timestamp: str
) -> str:
    """base64(HMAC-SHA256(key, poolName | userIdForSrp | secret block | timestamp))."""
    message = pool.encode() + user_id_for_srp.encode() + secret_block + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


@dataclass
class _Challenge:
    """One PASSWORD_VERIFIER challenge, kept until it is answered or expires."""

    client_id: str
    pool: CognitoIdpUserPool
    user: CognitoIdpUser | None  # None: a simulated challenge for an unknown user
    user_id_for_srp: str
    a_public: int
    b_public: int
    b: int
    v: int
    secret_block: bytes
    expires: float


# By SECRET_BLOCK text. Requests are served one at a time (server.py), but the lock
# keeps this correct without that.
_CHALLENGES: dict[str, _Challenge] = {}
_LOCK = threading.Lock()
# Keys the simulated challenges of this run, so an unknown name gets the same salt and
# user id every time (as AWS documents) without any of it being guessable.
_SIMULATION_KEY = secrets.token_bytes(32)


def _hides_users(client: CognitoIdpUserPoolClient | None) -> bool:
    return bool(client) and client.extended_config.get("PreventUserExistenceErrors") == "ENABLED"


def _pool_and_client(
    backend: CognitoIdpBackend, client_id: str
) -> tuple[CognitoIdpUserPool | None, CognitoIdpUserPoolClient | None]:
    for pool in backend.user_pools.values():
        client = pool.clients.get(client_id)
        if client is not None:
            return pool, client
    return None, None


def _check_secret_hash(client: CognitoIdpUserPoolClient, username: str, secret_hash: str | None) -> None:
    # Through the module attribute: cognito_client_secrets.py replaces it to accept any
    # active secret.
    if client.generate_secret and not cognitoidp_models.check_secret_hash(
        client.secret, client.id, username, secret_hash
    ):
        raise NotAuthorizedError(f"Unable to verify secret hash for client {client.id}")


def _simulated(pool: CognitoIdpUserPool, username: str, what: bytes) -> bytes:
    return hmac.new(
        _SIMULATION_KEY, what + b"\0" + pool.id.encode() + b"\0" + username.encode(), hashlib.sha256
    ).digest()


def _prune(now: float) -> None:
    for block in [block for block, c in _CHALLENGES.items() if c.expires < now]:
        del _CHALLENGES[block]


def _srp_challenge(
    backend: CognitoIdpBackend,
    pool: CognitoIdpUserPool,
    client: CognitoIdpUserPoolClient,
    parameters: dict[str, str],
) -> dict[str, Any]:
    username = parameters.get("USERNAME")
    srp_a = parameters.get("SRP_A")
    if not username:
        raise InvalidParameterException("Missing required parameter USERNAME")
    if not srp_a:
        raise InvalidParameterException("Missing required parameter SRP_A")
    try:
        a_public = int(srp_a, 16)
    except ValueError:
        raise InvalidParameterException("SRP_A is not a hexadecimal number") from None
    if a_public % N == 0:
        raise NotAuthorizedError(INCORRECT)
    _check_secret_hash(client, username, parameters.get("SECRET_HASH"))

    user = pool._get_user(username)
    hides = _hides_users(client)
    if user is None:
        if not hides:
            raise UserNotFoundError("User does not exist.")
        salt = int.from_bytes(_simulated(pool, username, b"salt")[:16], "big")
        user_id_for_srp = str(uuid.UUID(bytes=_simulated(pool, username, b"id")[:16], version=4))
        v = pow(G, secrets.randbits(256), N)
    else:
        if not user.enabled and not hides:
            # With hidden existence, only a right password learns this (_check_answer).
            raise NotAuthorizedError("User is disabled.")
        if user.status is UserStatus.UNCONFIRMED:
            raise UserNotConfirmedException("User is not confirmed.")
        salt = int.from_bytes(secrets.token_bytes(16), "big")
        user_id_for_srp = user.username
        if user.password is None:
            # No password to prove (moto keeps None when AWS would have made one up).
            v = pow(G, secrets.randbits(256), N)
        else:
            v = verifier(pool_name(pool.id), user_id_for_srp, user.password, salt)

    while True:
        b = secrets.randbits(1024)
        b_public = server_public(v, b)
        if b_public % N:
            break
    secret_block = secrets.token_bytes(64)
    block_text = base64.b64encode(secret_block).decode()
    validity_minutes = float(client.extended_config.get("AuthSessionValidity") or 3)
    now = time.time()
    with _LOCK:
        _prune(now)
        _CHALLENGES[block_text] = _Challenge(
            client_id=client.id,
            pool=pool,
            user=user,
            user_id_for_srp=user_id_for_srp,
            a_public=a_public,
            b_public=b_public,
            b=b,
            v=v,
            secret_block=secret_block,
            expires=now + validity_minutes * 60,
        )
    session = str(uuid.uuid4())
    if user is not None:
        # moto's own answer handling finds the pool and user under the secret block.
        backend.sessions[block_text] = (user.username, pool)
    return {
        "ChallengeName": "PASSWORD_VERIFIER",
        "Session": session,
        "ChallengeParameters": {
            "SALT": format(salt, "x"),
            "SRP_B": format(b_public, "x"),
            "SECRET_BLOCK": block_text,
            "USER_ID_FOR_SRP": user_id_for_srp,
            "USERNAME": user_id_for_srp,
        },
    }


def _required(responses: dict[str, str], name: str) -> str:
    value = responses.get(name)
    if not value:
        raise InvalidParameterException(f"Missing required parameter {name}")
    return value


def _answer(backend: CognitoIdpBackend, client_id: str, responses: dict[str, str]) -> None:
    """Checks a PASSWORD_VERIFIER answer; returns when moto may go on with it."""
    block_text = _required(responses, "PASSWORD_CLAIM_SECRET_BLOCK")
    with _LOCK:
        challenge = _CHALLENGES.get(block_text)
        if challenge is None or challenge.client_id != client_id:
            raise NotAuthorizedError(EXPIRED)
        # One answer per challenge, right or wrong: a guesser must start over.
        del _CHALLENGES[block_text]
    try:
        _check_answer(challenge, client_id, responses)
    except Exception:
        backend.sessions.pop(block_text, None)
        raise


def _check_answer(challenge: _Challenge, client_id: str, responses: dict[str, str]) -> None:
    if time.time() > challenge.expires:
        raise NotAuthorizedError(EXPIRED)
    username = _required(responses, "USERNAME")
    signature = _required(responses, "PASSWORD_CLAIM_SIGNATURE")
    timestamp = _required(responses, "TIMESTAMP")
    pool = challenge.pool
    client = pool.clients.get(client_id)
    if client is not None:
        _check_secret_hash(client, username, responses.get("SECRET_HASH"))
    user = challenge.user
    if user is None:  # simulated: no password is right
        raise NotAuthorizedError(INCORRECT)
    if username != challenge.user_id_for_srp and pool._get_user(username) is not user:
        raise NotAuthorizedError(INCORRECT)
    key = authentication_key(challenge.a_public, challenge.b_public, challenge.b, challenge.v)
    if key is None:
        raise NotAuthorizedError(INCORRECT)
    expected = claim_signature(
        key, pool_name(pool.id), challenge.user_id_for_srp, challenge.secret_block, timestamp
    )
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise NotAuthorizedError(INCORRECT)
    if not user.enabled:
        raise NotAuthorizedError("User is disabled.")


def _check_password_flow(
    pool: CognitoIdpUserPool, client: CognitoIdpUserPoolClient | None, parameters: dict[str, str]
) -> None:
    """USER_PASSWORD_AUTH and ADMIN_USER_PASSWORD_AUTH: what moto answers differently."""
    username = parameters.get("USERNAME")
    password = parameters.get("PASSWORD")
    user = pool._get_user(username) if username else None
    hides = _hides_users(client)
    if user is None:
        if hides:
            raise NotAuthorizedError(INCORRECT)
        return  # moto: UserNotFoundException "User does not exist."
    if not user.enabled:
        if hides and user.password != password:
            raise NotAuthorizedError(INCORRECT)
        return  # moto: "User is disabled."
    if user.password != password:
        # moto's admin flow put the user name in the message.
        raise NotAuthorizedError(INCORRECT)


_initiate_auth = CognitoIdpBackend.initiate_auth
_admin_initiate_auth = CognitoIdpBackend.admin_initiate_auth
_respond_to_auth_challenge = CognitoIdpBackend.respond_to_auth_challenge
_forgot_password = CognitoIdpBackend.forgot_password
_confirm_forgot_password = CognitoIdpBackend.confirm_forgot_password


def _initiate(
    self: CognitoIdpBackend, client_id: str, auth_flow: str, auth_parameters: dict[str, str]
) -> dict[str, Any]:
    flow = getattr(auth_flow, "value", auth_flow)
    pool, client = _pool_and_client(self, client_id)
    if pool is not None and client is not None:
        if flow == "USER_SRP_AUTH":
            return _srp_challenge(self, pool, client, auth_parameters or {})
        if flow in _PASSWORD_FLOWS:
            _check_password_flow(pool, client, auth_parameters or {})
    return _initiate_auth(self, client_id, auth_flow, auth_parameters)


def _admin_initiate(
    self: CognitoIdpBackend,
    user_pool_id: str,
    client_id: str,
    auth_flow: str,
    auth_parameters: dict[str, str],
) -> dict[str, Any]:
    flow = getattr(auth_flow, "value", auth_flow)
    pool = self.user_pools.get(user_pool_id)
    client = pool.clients.get(client_id) if pool is not None else None
    if pool is not None and client is not None and flow in _PASSWORD_FLOWS:
        _check_password_flow(pool, client, auth_parameters or {})
    return _admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters)


def _respond(
    self: CognitoIdpBackend,
    session: str,
    client_id: str,
    challenge_name: str,
    challenge_responses: dict[str, str],
) -> dict[str, Any]:
    if challenge_name == "PASSWORD_VERIFIER":
        _answer(self, client_id, challenge_responses or {})
    return _respond_to_auth_challenge(self, session, client_id, challenge_name, challenge_responses)


def _forgot(self: CognitoIdpBackend, client_id: str, username: str) -> Any:
    pool, client = _pool_and_client(self, client_id)
    if pool is not None and pool._get_user(username) is None and not _hides_users(client):
        raise UserNotFoundError(_NO_SUCH_USER)
    return _forgot_password(self, client_id, username)


def _confirm_forgot(
    self: CognitoIdpBackend, client_id: str, username: str, password: str, confirmation_code: str
) -> None:
    pool, client = _pool_and_client(self, client_id)
    if pool is not None and pool._get_user(username) is None:
        if _hides_users(client):
            raise CodeMismatchException("Invalid verification code provided, please try again.")
        raise UserNotFoundError(_NO_SUCH_USER)
    return _confirm_forgot_password(self, client_id, username, password, confirmation_code)


CognitoIdpBackend.initiate_auth = _initiate  # type: ignore[method-assign]
CognitoIdpBackend.admin_initiate_auth = _admin_initiate  # type: ignore[method-assign]
# admin_respond_to_auth_challenge calls this one too.
CognitoIdpBackend.respond_to_auth_challenge = _respond  # type: ignore[method-assign]
CognitoIdpBackend.forgot_password = _forgot  # type: ignore[method-assign]
CognitoIdpBackend.confirm_forgot_password = _confirm_forgot  # type: ignore[method-assign]
