"""The OAuth 2.0 token endpoint of a user pool domain, and OIDC discovery that names it.

AWS serves a user pool's OAuth endpoints on its domain (``https://<domain>/oauth2/token``
...); moto serves none of them. The emulator serves them under its own address instead,
at ``<endpoint>/_cognito/domains/<domain>`` (a contract: the operator publishes that base
URL for a pool's domain when it runs against the emulator), and emulates the token
endpoint for the ``client_credentials`` grant, as the Cognito token endpoint
documentation describes:

- ``POST <base>/oauth2/token``, body ``application/x-www-form-urlencoded``;
  ``grant_type=client_credentials``, optional ``scope`` (space-separated; without it,
  every custom scope the client is allowed).
- Client authentication by HTTP Basic (``client_id:client_secret``, each form-url-encoded,
  then base64) or by ``client_id`` and ``client_secret`` in the body; the secret may be
  any of the client's active secrets (cognito_client_secrets.py).
- Errors as ``{"error": ...}``: ``invalid_request`` (400), ``invalid_client`` (401:
  unknown client, a client without a secret, a wrong secret), ``unsupported_grant_type``
  (400: any grant but client_credentials, which the emulator does not serve),
  ``unauthorized_client`` (400: ``AllowedOAuthFlowsUserPoolClient`` not true or
  ``client_credentials`` not in ``AllowedOAuthFlows``), ``invalid_scope`` (400: a scope
  the client is not allowed or that no resource server of the pool defines).
- The answer: ``access_token``, ``expires_in``, ``token_type: Bearer``. The access token
  is a JWT signed with the key (and ``kid``) moto signs the pool's user tokens with, so
  ``/<pool_id>/.well-known/jwks.json`` verifies it, with the claims Cognito puts in a
  client-credentials token: ``sub`` and ``client_id`` (the client), ``token_use``
  ``access``, ``scope``, ``auth_time``, ``iss`` (moto's issuer for the pool), ``iat``,
  ``exp`` (``AccessTokenValidity`` in ``TokenValidityUnits``; 60 minutes by default),
  ``version`` 2 and ``jti``.

An unknown domain answers 404, and so do the other paths under ``/_cognito/``
(authorize, userInfo, logout, revoke): they need a signed-in browser session the emulator
does not have.

moto serves ``/<pool_id>/.well-known/openid-configuration`` with the issuer and the JWKS
URI only; for a pool with a domain this module adds the authorization, token, userinfo
and revocation endpoints (AWS lists them) under the base URL above, built from the
request's own address. A pool with a custom and a prefix domain is described with the
custom one.

Import this module before moto's server handles a request (server.py does): it wraps the
WSGI dispatcher, which server.py then serializes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus, urlparse

from joserfc import jwt
from moto.cognitoidp import urls as cognitoidp_urls
from moto.cognitoidp.models import CognitoIdpUserPool, CognitoIdpUserPoolClient
from moto.cognitoidp.responses import CognitoIdpOpenIdConfigurationResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.wrappers import Request

from cognito_client_secrets import client_secrets
from cognito_domains import backends, find_domain, is_custom, pool_domains

#: Where the emulator serves a domain's endpoints: <endpoint>/_cognito/domains/<domain>.
BASE_PATH = "/_cognito/domains/"

_ROUTES = re.compile(r"/_cognito/domains/(?P<domain>[^/]+)(?P<endpoint>/.*)")
_TOKEN = "/oauth2/token"
_GRANT = "client_credentials"
_FORM = "application/x-www-form-urlencoded"
_DEFAULT_VALIDITY = 60 * 60
_UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 60 * 60, "days": 24 * 60 * 60}
# The unit AccessTokenValidity is in when TokenValidityUnits does not say.
_DEFAULT_UNIT = "hours"

_Answer = tuple[int, dict[str, Any], dict[str, str]]


def _json(status: int, body: dict[str, Any], **headers: str) -> _Answer:
    # Token answers must not be cached (RFC 6749 5.1); errors are no different here.
    return (
        status,
        body,
        {"Cache-Control": "no-store", "Pragma": "no-cache", **headers},
    )


def _error(error: str, status: int = 400) -> _Answer:
    if status == 401:
        return _json(status, {"error": error}, **{"WWW-Authenticate": "Basic"})
    return _json(status, {"error": error})


def _credentials(request: Request) -> tuple[str, str] | None:
    """The client id and secret, from HTTP Basic or else from the body."""
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, colon, secret = decoded.partition(":")
        return (unquote_plus(client_id), unquote_plus(secret)) if colon else None
    client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    return (client_id, secret) if client_id and secret else None


def _authenticated(
    pool: CognitoIdpUserPool, credentials: tuple[str, str] | None
) -> CognitoIdpUserPoolClient | None:
    if credentials is None:
        return None
    client = pool.clients.get(credentials[0])
    if client is None:
        return None
    given = credentials[1].encode()
    # A client without a secret has no active secret: it cannot use this grant.
    if any(hmac.compare_digest(given, s.value.encode()) for s in client_secrets(client)):
        return client
    return None


def _custom_scopes(pool: CognitoIdpUserPool) -> set[str]:
    return {
        f"{server.identifier}/{scope['ScopeName']}"
        for server in pool.resource_servers.values()
        for scope in server.scopes or []
    }


def _granted(
    pool: CognitoIdpUserPool, client: CognitoIdpUserPoolClient, requested: list[str]
) -> list[str] | None:
    """The scopes to grant, or None for invalid_scope."""
    allowed = [
        s
        for s in client.extended_config.get("AllowedOAuthScopes") or []
        if s in _custom_scopes(pool)
    ]
    if not requested:
        return allowed or None
    return requested if all(s in allowed for s in requested) else None


def _validity(client: CognitoIdpUserPoolClient) -> int:
    config = client.extended_config
    value = config.get("AccessTokenValidity")
    if value is None:
        return _DEFAULT_VALIDITY
    unit = (config.get("TokenValidityUnits") or {}).get("AccessToken") or _DEFAULT_UNIT
    # An unknown unit (moto stores what it is given) counts as the default one.
    return int(value) * _UNIT_SECONDS.get(unit, _UNIT_SECONDS[_DEFAULT_UNIT])


def access_token(
    pool: CognitoIdpUserPool, client: CognitoIdpUserPoolClient, scopes: list[str]
) -> tuple[str, int]:
    """A client-credentials access token and its lifetime in seconds."""
    now = int(time.time())
    expires_in = _validity(client)
    claims = {
        "sub": client.id,
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": now,
        # Exactly what moto's CognitoIdpUserPool.create_jwt puts in the pool's tokens.
        "iss": f"https://cognito-idp.{pool.region}.amazonaws.com/{pool.id}",
        "exp": now + expires_in,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client.id,
    }
    header = {"kid": pool.json_web_key.kid, "alg": "RS256"}
    return jwt.encode(header, claims, pool.json_web_key), expires_in


def _pool_of(domain_name: str) -> CognitoIdpUserPool | None:
    found = find_domain(domain_name)
    if found is None:
        return None
    backend, domain = found
    return backend.user_pools.get(domain.user_pool_id)


def _token(request: Request, domain_name: str) -> _Answer:
    if request.method != "POST":
        return _json(405, {"error": "invalid_request"}, Allow="POST")
    pool = _pool_of(domain_name)
    if pool is None:
        return _json(
            404, {"error": "not_found", "error_description": f"no user pool domain {domain_name}"}
        )
    if request.mimetype != _FORM:
        return _error("invalid_request")
    grant_type = request.form.get("grant_type")
    if not grant_type:
        return _error("invalid_request")
    if grant_type != _GRANT:
        return _error("unsupported_grant_type")
    client = _authenticated(pool, _credentials(request))
    if client is None:
        return _error("invalid_client", 401)
    config = client.extended_config
    if config.get("AllowedOAuthFlowsUserPoolClient") is not True or _GRANT not in (
        config.get("AllowedOAuthFlows") or []
    ):
        return _error("unauthorized_client")
    scopes = _granted(pool, client, (request.form.get("scope") or "").split())
    if scopes is None:
        return _error("invalid_scope")
    token, expires_in = access_token(pool, client, scopes)
    return _json(200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})


def _serve(environ: dict[str, Any]) -> _Answer:
    request = Request(environ)
    route = _ROUTES.fullmatch(request.path)
    if route is None or route["endpoint"].rstrip("/") != _TOKEN:
        return _json(
            404,
            {
                "error": "not_found",
                "error_description": "the emulator serves only <base>/oauth2/token",
            },
        )
    return _token(request, route["domain"])


_dispatch = DomainDispatcherApplication.__call__


def _with_domain_endpoints(
    self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    # Before moto's routing, which would take the path for an S3 bucket.
    if not environ.get("PATH_INFO", "").startswith("/_cognito/"):
        return _dispatch(self, environ, start_response)
    status, body, headers = _serve(environ)
    payload = json.dumps(body).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [
            ("Content-Type", "application/json;charset=UTF-8"),
            ("Content-Length", str(len(payload))),
            *headers.items(),
        ],
    )
    return [payload]


# --- OIDC discovery --------------------------------------------------------------

_OPENID_PATH = "{0}/(?P<user_pool_id>[^/]+)/.well-known/openid-configuration$"
_serve_openid_configuration = CognitoIdpOpenIdConfigurationResponse.serve_openid_configuration


def _domain_of_pool(pool_id: str) -> str | None:
    for backend in backends():
        if pool_id in backend.user_pools:
            names = sorted((d.domain for d in pool_domains(backend, pool_id)), key=is_custom)
            # The custom domain if there is one: sorted puts it last.
            return names[-1] if names else None
    return None


def serve_openid_configuration(
    request: Any, full_url: str, headers: Any
) -> tuple[int, dict[str, str], bytes]:
    status, response_headers, body = _serve_openid_configuration(request, full_url, headers)
    url = urlparse(full_url)
    domain = _domain_of_pool(url.path.strip("/").split("/")[0])
    if domain is None:
        return status, response_headers, body
    base = f"{url.scheme}://{url.netloc}{BASE_PATH}{domain}"
    document = json.loads(body)
    document.update(
        {
            "authorization_endpoint": f"{base}/oauth2/authorize",
            "token_endpoint": f"{base}{_TOKEN}",
            "userinfo_endpoint": f"{base}/oauth2/userInfo",
            "revocation_endpoint": f"{base}/oauth2/revoke",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }
    )
    return status, response_headers, json.dumps(document).encode()


def _patch() -> None:
    DomainDispatcherApplication.__call__ = _with_domain_endpoints  # type: ignore[method-assign]
    # The Flask app for cognito-idp reads this map when the first request builds it.
    if cognitoidp_urls.url_paths.get(_OPENID_PATH) is not _serve_openid_configuration:
        raise RuntimeError("moto's openid-configuration route has changed: patch it anew")
    cognitoidp_urls.url_paths[_OPENID_PATH] = serve_openid_configuration


_patch()
