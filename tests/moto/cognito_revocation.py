"""Token revocation as Cognito has it: ``RevokeToken``, and revoked access tokens.

moto 5.2.5 has no ``RevokeToken`` (its server answers 500), and after
``GlobalSignOut`` an old access token is merely unknown to it. This module adds, as AWS
documents them:

- ``RevokeToken`` (``ClientId``, ``Token``: a refresh token, ``ClientSecret`` when the
  client has one) revokes the refresh token and every access token issued with it or
  from it (they share its ``origin_jti``); other sign-ins of the user keep theirs. A
  later ``REFRESH_TOKEN_AUTH`` with it is ``NotAuthorizedException: Refresh Token has
  been revoked`` (``InitiateAuth`` and ``AdminInitiateAuth``; moto's admin flow put the
  token itself in the message), and an access token it issued gets
  ``NotAuthorizedException: Access Token has been revoked`` from every operation that
  takes an ``AccessToken`` (``GetUser``, ``UpdateUserAttributes``, ``ChangePassword``,
  ``GlobalSignOut``, ...). The answer is empty, also for a token already revoked (as
  AWS answers) and for one Cognito never issued (RFC 7009's rule for the revocation
  endpoint).
- Errors, with the exceptions AWS documents for ``RevokeToken`` (it does not document
  their messages; these are chosen here): an unknown app client, a missing or wrong
  ``ClientSecret``, or a refresh token issued to another app client is
  ``UnauthorizedException``; a client with ``EnableTokenRevocation`` false (it is true
  unless set) is ``UnsupportedOperationException``; an access or id token is
  ``UnsupportedTokenTypeException``; a token outside ``[A-Za-z0-9-_=.]+`` is
  ``InvalidParameterException``.
- ``GlobalSignOut`` and ``AdminUserGlobalSignOut`` revoke the user's access tokens the
  same way (moto forgot them, so they got "Invalid token").

Import this module before moto's server handles a request (server.py does); the patches
happen at import time.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from botocore.session import get_session
from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError
from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpUserPool,
    cognitoidp_backends,
    find_account_region_by_value,
)
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import EmptyResult
from moto.core.utils import camelcase_to_underscores

import cognito_client_secrets

REVOKED_ACCESS = "Access Token has been revoked"
REVOKED_REFRESH = "Refresh Token has been revoked"
_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9\-_=.]+")


class UnauthorizedException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("UnauthorizedException", message)


class UnsupportedOperationException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("UnsupportedOperationException", message)


class UnsupportedTokenTypeException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("UnsupportedTokenTypeException", message)


# Access tokens revoked by RevokeToken or a global sign-out. moto keeps tokens until a
# reset, and so does this (they are only the revoked ones).
_REVOKED: set[str] = set()


def _claims(token: str) -> dict[str, Any]:
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        return {}


def _revoke_access_tokens(pool: CognitoIdpUserPool, origin_jti: str) -> None:
    for token in [t for t in pool.access_tokens if _claims(t).get("origin_jti") == origin_jti]:
        del pool.access_tokens[token]
        _REVOKED.add(token)


def revoke_token(
    self: CognitoIdpBackend, client_id: str, token: str, client_secret: str | None
) -> None:
    if not isinstance(token, str) or not _TOKEN_PATTERN.fullmatch(token):
        raise InvalidParameterException(
            "1 validation error detected: Value at 'token' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: [A-Za-z0-9-_=.]+"
        )
    pool = next((p for p in self.user_pools.values() if client_id in p.clients), None)
    if pool is None:
        raise UnauthorizedException(f"Client {client_id} does not exist.")
    client = pool.clients[client_id]
    if client.generate_secret:
        active = [s.value for s in cognito_client_secrets.client_secrets(client)]
        if not client_secret or client_secret not in active:
            raise UnauthorizedException(f"Unable to verify the client secret for client {client_id}.")
    if client.extended_config.get("EnableTokenRevocation") is False:
        raise UnsupportedOperationException(f"Token revocation is not enabled for client {client_id}.")
    holder = next((p for p in self.user_pools.values() if token in p.refresh_tokens), None)
    if holder is None:
        if any(token in p.access_tokens or token in p.id_tokens for p in self.user_pools.values()) or (
            token in _REVOKED
        ):
            raise UnsupportedTokenTypeException("Only refresh tokens can be revoked.")
        return  # never issued: nothing to revoke
    issued = holder.refresh_tokens[token]
    if issued is None:
        return  # revoked already (or the user signed out everywhere)
    issued_to, _, origin_jti = issued
    if holder is not pool or issued_to != client_id:
        raise UnauthorizedException(f"The token was not issued to client {client_id}.")
    holder.refresh_tokens[token] = None
    _revoke_access_tokens(holder, origin_jti)


def _revoke_response(self: CognitoIdpResponse) -> EmptyResult:
    client_id = self._get_param("ClientId")
    # Unsigned, like every user call: find the backend by the client.
    account, region = find_account_region_by_value(
        "client_id", client_id, fallback=(self.current_account, self.region)
    )
    cognitoidp_backends[account][region].revoke_token(  # type: ignore[attr-defined]
        client_id, self._get_param("Token"), self._get_param("ClientSecret")
    )
    return EmptyResult()


def _refusing_revoked(method: Any) -> Any:
    def checked(self: CognitoIdpResponse) -> Any:
        token = self._get_param("AccessToken")
        if isinstance(token, str) and token in _REVOKED:
            raise NotAuthorizedError(REVOKED_ACCESS)
        return method(self)

    checked.__name__ = method.__name__
    checked.__doc__ = method.__doc__
    return checked


_sign_out = CognitoIdpUserPool.sign_out
_tokens_from_refresh = CognitoIdpUserPool.create_tokens_from_refresh_token


def _sign_out_revoking(self: CognitoIdpUserPool, username: str) -> None:
    signed_in = [t for t, (_, user) in self.access_tokens.items() if user == username]
    _sign_out(self, username)
    _REVOKED.update(signed_in)


def _tokens_from_live_refresh(self: CognitoIdpUserPool, refresh_token: str) -> tuple[str, str, int]:
    if refresh_token not in self.refresh_tokens:
        raise NotAuthorizedError("Invalid Refresh Token")
    if self.refresh_tokens[refresh_token] is None:
        raise NotAuthorizedError(REVOKED_REFRESH)
    return _tokens_from_refresh(self, refresh_token)


CognitoIdpBackend.revoke_token = revoke_token  # type: ignore[attr-defined]
# moto dispatches an action to the method named after it in snake_case; the answer is
# serialized against botocore's model, which knows RevokeToken.
CognitoIdpResponse.revoke_token = _revoke_response  # type: ignore[attr-defined]
CognitoIdpUserPool.sign_out = _sign_out_revoking  # type: ignore[method-assign]
CognitoIdpUserPool.create_tokens_from_refresh_token = _tokens_from_live_refresh  # type: ignore[method-assign]

# Every operation that takes an access token refuses a revoked one, as AWS does.
_MODEL = get_session().get_service_model("cognito-idp")
for _operation in _MODEL.operation_names:
    _input = _MODEL.operation_model(_operation).input_shape
    _method = camelcase_to_underscores(_operation)
    if _input is not None and "AccessToken" in _input.members and hasattr(CognitoIdpResponse, _method):
        setattr(CognitoIdpResponse, _method, _refusing_revoked(getattr(CognitoIdpResponse, _method)))
