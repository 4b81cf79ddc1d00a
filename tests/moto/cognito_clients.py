"""What an app client allows in Cognito, where moto differs.

``InitiateAuth`` and ``AdminInitiateAuth`` in AWS accept a flow only when the client's
``ExplicitAuthFlows`` allow it (a client without the list allows SRP, custom auth and
refresh tokens), else ``InvalidParameterException: <FLOW> flow not enabled for this
client``; moto accepts every flow on every client.

A client without ``ReadAttributes`` reads every attribute in AWS, so its id tokens carry
them all (``email``, ``email_verified``, ...); moto puts none in. With the list, only
those (as moto does).

``UpdateUserAttributes`` (the user's own call, with an access token) in AWS:

- refuses any attribute outside the app client's ``WriteAttributes``, when the client
  has that list, with ``NotAuthorizedException: A client attempted to write
  unauthorized attribute``;
- marks a changed ``email`` (``phone_number``) unverified: ``email_verified`` becomes
  ``false`` until the new address is confirmed.

moto accepts every attribute and keeps ``email_verified``. Import this module before
moto's server handles a request (server.py does); the patches happen at import time.
"""

from __future__ import annotations

from typing import Any

from moto.cognitoidp.exceptions import InvalidParameterException, NotAuthorizedError
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool

# The ExplicitAuthFlows values (current and legacy) that allow each auth flow.
_ALLOWED_BY = {
    "USER_PASSWORD_AUTH": ("ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"),
    "ADMIN_USER_PASSWORD_AUTH": ("ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"),
    "ADMIN_NO_SRP_AUTH": ("ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"),
    "USER_SRP_AUTH": ("ALLOW_USER_SRP_AUTH",),
    "CUSTOM_AUTH": ("ALLOW_CUSTOM_AUTH", "CUSTOM_AUTH_FLOW_ONLY"),
    "REFRESH_TOKEN_AUTH": ("ALLOW_REFRESH_TOKEN_AUTH",),
    "REFRESH_TOKEN": ("ALLOW_REFRESH_TOKEN_AUTH",),
}
# What a client without ExplicitAuthFlows allows.
_DEFAULT_FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")


def _check_flow(backend: CognitoIdpBackend, client_id: str, auth_flow: str) -> None:
    flow = getattr(auth_flow, "value", auth_flow)
    for pool in backend.user_pools.values():
        client = pool.clients.get(client_id)
        if client is None:
            continue
        allowed = client.extended_config.get("ExplicitAuthFlows") or _DEFAULT_FLOWS
        if not any(value in allowed for value in _ALLOWED_BY.get(flow, (flow,))):
            raise InvalidParameterException(f"{flow} flow not enabled for this client")
        return


_initiate_auth = CognitoIdpBackend.initiate_auth
_admin_initiate_auth = CognitoIdpBackend.admin_initiate_auth


def _initiate_allowed_flow(
    self: CognitoIdpBackend, client_id: str, auth_flow: str, auth_parameters: dict[str, str]
) -> dict[str, Any]:
    _check_flow(self, client_id, auth_flow)
    return _initiate_auth(self, client_id, auth_flow, auth_parameters)


def _admin_initiate_allowed_flow(
    self: CognitoIdpBackend,
    user_pool_id: str,
    client_id: str,
    auth_flow: str,
    auth_parameters: dict[str, str],
) -> dict[str, Any]:
    _check_flow(self, client_id, auth_flow)
    return _admin_initiate_auth(self, user_pool_id, client_id, auth_flow, auth_parameters)


_VERIFIED_BY_CHANGE = {"email": "email_verified", "phone_number": "phone_number_verified"}

_update_user_attributes = CognitoIdpBackend.update_user_attributes
_readable_by_client = CognitoIdpUserPool.get_user_extra_data_by_client_id


def _readable(self: CognitoIdpUserPool, client_id: str, username: str) -> dict[str, Any]:
    client = self.clients.get(client_id)
    if client is None or "ReadAttributes" in client.extended_config:
        return _readable_by_client(self, client_id, username)
    return {a["Name"]: a["Value"] for a in self._get_user(username).attributes}


def _checked_update(
    self: CognitoIdpBackend, access_token: str, attributes: list[dict[str, str]]
) -> None:
    for pool in self.user_pools.values():
        if access_token not in pool.access_tokens:
            continue
        client_id, username = pool.access_tokens[access_token]
        client = pool.clients.get(client_id)
        writable = client.extended_config.get("WriteAttributes") if client else None
        names = [attribute["Name"] for attribute in attributes]
        if writable is not None and any(name not in writable for name in names):
            raise NotAuthorizedError("A client attempted to write unauthorized attribute")
        current = pool._get_user(username).attribute_lookup
        extra: list[dict[str, Any]] = []
        for changed, flag in _VERIFIED_BY_CHANGE.items():
            value = next((a["Value"] for a in attributes if a["Name"] == changed), None)
            if value is not None and value != current.get(changed) and flag not in names:
                extra.append({"Name": flag, "Value": "false"})
        return _update_user_attributes(self, access_token, attributes + extra)
    return _update_user_attributes(self, access_token, attributes)


CognitoIdpBackend.initiate_auth = _initiate_allowed_flow  # type: ignore[method-assign]
CognitoIdpBackend.admin_initiate_auth = _admin_initiate_allowed_flow  # type: ignore[method-assign]
CognitoIdpBackend.update_user_attributes = _checked_update  # type: ignore[method-assign]
CognitoIdpUserPool.get_user_extra_data_by_client_id = _readable  # type: ignore[method-assign]
