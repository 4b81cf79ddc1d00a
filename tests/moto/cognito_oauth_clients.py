"""OAuth settings of Cognito app clients, in moto, checked as AWS checks them.

moto 5.2.5 stores whatever ``CreateUserPoolClient`` and ``UpdateUserPoolClient`` are
given. AWS refuses, on both (and so on the CloudFormation path of cognito_cfn.py, which
calls them):

- ``CallbackURLs``, ``LogoutURLs``, ``AllowedOAuthScopes`` or ``AllowedOAuthFlows`` on a
  client whose ``AllowedOAuthFlowsUserPoolClient`` is not true (AWS documents that it
  must be true first), and a true one without flows or scopes
  (``InvalidParameterException``);
- flows outside ``code``, ``implicit``, ``client_credentials``
  (``InvalidParameterException``); ``client_credentials`` beside ``code`` or
  ``implicit``, on a client without a secret, or with a standard scope (``openid``,
  ``email``, ``phone``, ``profile``, ``aws.cognito.signin.user.admin``); ``code`` or
  ``implicit`` without callback URLs (all ``InvalidOAuthFlowException``);
- a scope that is neither standard nor ``<identifier>/<scope name>`` of a resource
  server of the pool (``ScopeDoesNotExistException: Invalid scope requested: ...``);
- more than 100 callback or logout URLs, or one that is not an absolute URI, has a
  fragment, exceeds 1024 characters, or is plain ``http`` to a host other than
  ``localhost``, ``127.0.0.1`` or ``[::1]`` (any port); other schemes (``myapp://``)
  pass, as AWS documents; a ``DefaultRedirectURI`` outside the ``CallbackURLs``
  (``InvalidParameterException``);
- a ``SupportedIdentityProviders`` entry that is neither ``COGNITO`` nor a provider of
  the pool (``InvalidParameterException: The provider X does not exist for User Pool
  ...``);
- ``AuthSessionValidity`` outside 3 to 15 minutes, a ``RefreshTokenRotation`` whose
  ``Feature`` is not ENABLED or DISABLED or whose ``RetryGracePeriodSeconds`` is outside
  0 to 60 (``InvalidParameterException``).

``UpdateUserPoolClient`` also sets every setting it is not given to its default, as AWS
warns it does (moto keeps the old ones): an update that leaves out the OAuth settings
turns OAuth off. Only ``ClientName`` stays when left out (AWS does not say what its
default would be). ``RefreshTokenRotation``, ``ReadAttributes`` and ``WriteAttributes``
are kept and returned by ``DescribeUserPoolClient``.

Not checked: the ``openid`` scope beside ``email``, ``phone`` or ``profile`` (the
console asks for it, the API reference does not), attribute names in
``ReadAttributes``/``WriteAttributes``.

Import this module before moto's server handles a request (server.py does); the patches
happen at import time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from cognito_resources import (
    check_count,
    check_range,
    check_text,
    regex,
    unicode_classes,
    violation,
)
from moto.cognitoidp.exceptions import InvalidParameterException
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPool, CognitoIdpUserPoolClient
from moto.core.exceptions import JsonRESTError

OAUTH_FLOWS = ("code", "implicit", "client_credentials")
STANDARD_SCOPES = ("phone", "email", "openid", "profile", "aws.cognito.signin.user.admin")
#: Hosts a callback or logout URL may reach over plain http (urlsplit's hostname form).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
MAX_URLS = 100

# The members AWS documents as needing AllowedOAuthFlowsUserPoolClient true.
_OAUTH_MEMBERS = ("AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs", "LogoutURLs")
_SCOPE = regex(r"[\x21\x23-\x5B\x5D-\x7E]+")
_URL = unicode_classes(r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+", "LMSNP")
_PROVIDER = unicode_classes(r"[\p{L}\p{M}\p{S}\p{N}\p{P}\p{Z}]+", "LMSNPZ")
_FEATURES = ("ENABLED", "DISABLED")

# What moto's CognitoIdpUserPoolClient starts a new client with: UpdateUserPoolClient
# resets a client to these plus what it is given.
_CLIENT_DEFAULTS: dict[str, Any] = {
    "AllowedOAuthFlowsUserPoolClient": False,
    "AuthSessionValidity": 3,
    "EnablePropagateAdditionalUserContextData": False,
    "EnableTokenRevocation": True,
    "RefreshTokenValidity": 30,
}


class InvalidOAuthFlowException(JsonRESTError):
    """moto's cognitoidp has no InvalidOAuthFlowException of its own."""

    def __init__(self, message: str) -> None:
        super().__init__("InvalidOAuthFlowException", message)


class ScopeDoesNotExistException(JsonRESTError):
    """moto's cognitoidp has no ScopeDoesNotExistException of its own."""

    def __init__(self, message: str) -> None:
        super().__init__("ScopeDoesNotExistException", message)


def _check_members(config: dict[str, Any]) -> None:
    """The model's constraints on each member, which AWS checks before anything else."""
    flows = list(config.get("AllowedOAuthFlows") or [])
    check_count(flows, "allowedOAuthFlows", len(OAUTH_FLOWS))
    if any(flow not in OAUTH_FLOWS for flow in flows):
        raise violation(
            "allowedOAuthFlows",
            flows,
            "Member must satisfy constraint: [Member must satisfy enum value set: "
            "[implicit, client_credentials, code]]",
        )
    scopes = list(config.get("AllowedOAuthScopes") or [])
    check_count(scopes, "allowedOAuthScopes", 50)
    for index, scope in enumerate(scopes, 1):
        check_text(scope, f"allowedOAuthScopes.{index}.member", 256, _SCOPE)
    for key, path in (("CallbackURLs", "callbackURLs"), ("LogoutURLs", "logoutURLs")):
        urls = list(config.get(key) or [])
        check_count(urls, path, MAX_URLS)
        for index, url in enumerate(urls, 1):
            check_text(url, f"{path}.{index}.member", 1024, _URL)
    if config.get("DefaultRedirectURI") is not None:
        check_text(config["DefaultRedirectURI"], "defaultRedirectURI", 1024, _URL)
    for index, provider in enumerate(config.get("SupportedIdentityProviders") or [], 1):
        check_text(provider, f"supportedIdentityProviders.{index}.member", 32, _PROVIDER)
    if config.get("AuthSessionValidity") is not None:
        check_range(config["AuthSessionValidity"], "authSessionValidity", 3, 15)
    rotation = config.get("RefreshTokenRotation")
    if rotation is not None:
        feature = rotation.get("Feature")
        if feature is None:
            raise violation("refreshTokenRotation.feature", None, "Member must not be null")
        if feature not in _FEATURES:
            raise violation(
                "refreshTokenRotation.feature",
                feature,
                "Member must satisfy enum value set: [ENABLED, DISABLED]",
            )
        if rotation.get("RetryGracePeriodSeconds") is not None:
            check_range(
                rotation["RetryGracePeriodSeconds"],
                "refreshTokenRotation.retryGracePeriodSeconds",
                0,
                60,
            )


def _check_redirect(url: str) -> None:
    parts = urlsplit(url)
    web = parts.scheme.lower() in ("http", "https")
    if not parts.scheme or (web and not parts.hostname):
        raise InvalidParameterException(f"{url} is not an absolute URI.")
    if "#" in url:
        raise InvalidParameterException(f"{url} must not include a fragment component.")
    if parts.scheme.lower() == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise InvalidParameterException(f"{url} cannot use the HTTP protocol.")


def _check_scope_exists(pool: CognitoIdpUserPool, scope: str) -> None:
    if scope in STANDARD_SCOPES:
        return
    # A scope name has no "/", an identifier may (https://api.example.com/read).
    identifier, _, name = scope.rpartition("/")
    server = pool.resource_servers.get(identifier)
    if server is None or name not in {s.get("ScopeName") for s in server.scopes or []}:
        raise ScopeDoesNotExistException(f"Invalid scope requested: {scope}")


def check_client(pool: CognitoIdpUserPool, config: dict[str, Any], has_secret: bool) -> None:
    """Checks the settings of a CreateUserPoolClient/UpdateUserPoolClient request (minus
    the pool and client ids) for a client in `pool`, with or without a secret."""
    _check_members(config)
    flows = list(config.get("AllowedOAuthFlows") or [])
    scopes = list(config.get("AllowedOAuthScopes") or [])
    callbacks = list(config.get("CallbackURLs") or [])
    if config.get("AllowedOAuthFlowsUserPoolClient") is not True:
        used = [member for member in _OAUTH_MEMBERS if config.get(member)]
        if used:
            raise InvalidParameterException(
                f"AllowedOAuthFlowsUserPoolClient must be true to set {', '.join(used)}."
            )
    elif not flows or not scopes:
        raise InvalidParameterException(
            "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is "
            "allowed to use OAuth flows."
        )
    for url in callbacks + list(config.get("LogoutURLs") or []):
        _check_redirect(url)
    default = config.get("DefaultRedirectURI")
    if default is not None and default not in callbacks:
        raise InvalidParameterException(f"DefaultRedirectURI {default} is not in CallbackURLs.")
    for scope in scopes:
        _check_scope_exists(pool, scope)
    if "client_credentials" in flows:
        if len(set(flows)) > 1:
            raise InvalidOAuthFlowException(
                "client_credentials flow can not be selected along with code flow or "
                "implicit flow."
            )
        if not has_secret:
            raise InvalidOAuthFlowException(
                "client_credentials flow can not be selected if client does not have a "
                "client secret."
            )
        for scope in scopes:
            if scope in STANDARD_SCOPES:
                raise InvalidOAuthFlowException(
                    f"{scope} is not supported with client_credentials flow"
                )
    elif flows and not callbacks:
        raise InvalidOAuthFlowException(
            "CallbackUrls can not be empty when code flow or implicit flow is selected"
        )
    for provider in config.get("SupportedIdentityProviders") or []:
        if provider != "COGNITO" and provider not in pool.identity_providers:
            raise InvalidParameterException(
                f"The provider {provider} does not exist for User Pool {pool.id}"
            )


def _normalized(config: dict[str, Any]) -> dict[str, Any]:
    # Templates may carry numbers as strings ("10"); cognito_cfn.py converts the top-level
    # ones, this nested one is converted here.
    rotation = config.get("RefreshTokenRotation")
    grace = rotation.get("RetryGracePeriodSeconds") if isinstance(rotation, dict) else None
    if isinstance(grace, str) and grace.strip().isdigit():
        rotation = {**rotation, "RetryGracePeriodSeconds": int(grace)}
        return {**config, "RefreshTokenRotation": rotation}
    return config


_create_client = CognitoIdpBackend.create_user_pool_client


def _create_checked_client(
    self: CognitoIdpBackend,
    user_pool_id: str,
    generate_secret: bool,
    extended_config: dict[str, Any],
) -> CognitoIdpUserPoolClient:
    config = _normalized(extended_config)
    check_client(self.describe_user_pool(user_pool_id), config, bool(generate_secret))
    return _create_client(self, user_pool_id, generate_secret, config)


def _update_checked_client(
    self: CognitoIdpBackend, user_pool_id: str, client_id: str, extended_config: dict[str, Any]
) -> CognitoIdpUserPoolClient:
    client = self.describe_user_pool_client(user_pool_id, client_id)
    config = _normalized(extended_config)
    check_client(self.describe_user_pool(user_pool_id), config, client.generate_secret)
    # ClientName is the one setting a client keeps when an update leaves it out.
    name = config.get("ClientName") or client.extended_config.get("ClientName")
    client.extended_config = {**_CLIENT_DEFAULTS, **config, "ClientName": name}
    return client


CognitoIdpBackend.create_user_pool_client = _create_checked_client  # type: ignore[method-assign]
CognitoIdpBackend.update_user_pool_client = _update_checked_client  # type: ignore[method-assign]
