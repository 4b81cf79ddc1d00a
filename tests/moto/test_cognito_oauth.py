"""The emulated token endpoint (client_credentials) and OIDC discovery (cognito_oauth.py),
over HTTP against a real moto server (server.py)."""

from __future__ import annotations

import base64
import json
import re
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlencode

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet

from conftest import REGION

FORM = "application/x-www-form-urlencoded"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
PASSWORD = "Sup3r-secret!pw"


@dataclass
class Setup:
    """One pool with a prefix and a custom domain, two resource servers and its clients."""

    pool_id: str
    prefix: str
    custom: str
    machine: tuple[str, str]  # client_credentials, api/read and api/write, 15 minutes
    hours: tuple[str, str]  # client_credentials, AccessTokenValidity 2 without units
    browser: tuple[str, str]  # the code flow only
    public: str  # no secret, no OAuth


def _client(idp: Any, pool_id: str, **config: Any) -> tuple[str, str]:
    created = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app", **config)[
        "UserPoolClient"
    ]
    return created["ClientId"], created.get("ClientSecret", "")


def _machine(**extra: Any) -> dict[str, Any]:
    # Valid as AWS wants a client_credentials client: secret, that flow alone, custom scopes.
    return {
        "GenerateSecret": True,
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthFlows": ["client_credentials"],
        "AllowedOAuthScopes": ["api/read", "api/write"],
        **extra,
    }


@pytest.fixture(scope="module")
def setup(idp: Any) -> Setup:
    pool_id = idp.create_user_pool(PoolName=f"oauth-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    for identifier, scopes in (("api", ("read", "write")), ("other", ("x",))):
        idp.create_resource_server(
            UserPoolId=pool_id,
            Identifier=identifier,
            Name=identifier,
            Scopes=[{"ScopeName": s, "ScopeDescription": s} for s in scopes],
        )
    suffix = uuid.uuid4().hex[:10]
    prefix, custom = f"login-{suffix}", f"auth-{suffix}.example.com"
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=prefix)
    idp.create_user_pool_domain(
        UserPoolId=pool_id, Domain=custom, CustomDomainConfig={"CertificateArn": CERTIFICATE}
    )
    return Setup(
        pool_id=pool_id,
        prefix=prefix,
        custom=custom,
        machine=_client(
            idp,
            pool_id,
            **_machine(AccessTokenValidity=15, TokenValidityUnits={"AccessToken": "minutes"}),
        ),
        hours=_client(idp, pool_id, **_machine(AccessTokenValidity=2)),
        browser=_client(
            idp,
            pool_id,
            GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["code"],
            AllowedOAuthScopes=["openid", "api/read"],
            CallbackURLs=["https://app.example.com/callback"],
        ),
        public=_client(idp, pool_id)[0],
    )


def _basic(client_id: str, secret: str) -> str:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _call(
    url: str,
    fields: dict[str, str] | None = None,
    *,
    authorization: str | None = None,
    content_type: str = FORM,
    method: str = "POST",
) -> tuple[int, dict[str, Any], Any]:
    request = urllib.request.Request(
        url,
        data=urlencode(fields or {}).encode() if method == "POST" else None,
        method=method,
        headers={"Content-Type": content_type},
    )
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), error.headers


def _token_url(endpoint: str, domain: str) -> str:
    return f"{endpoint}/_cognito/domains/{domain}/oauth2/token"


def _grant(endpoint: str, setup: Setup, client: tuple[str, str], **fields: str) -> dict[str, Any]:
    status, body, _ = _call(
        _token_url(endpoint, setup.prefix),
        {"grant_type": "client_credentials", **fields},
        authorization=_basic(*client),
    )
    assert status == 200, body
    return body


def _keys(endpoint: str, pool_id: str) -> KeySet:
    with urllib.request.urlopen(f"{endpoint}/{pool_id}/.well-known/jwks.json", timeout=10) as r:
        return KeySet.import_key_set(json.load(r))


def _user_token_issuer(idp: Any, endpoint: str, pool_id: str) -> str:
    """The iss moto puts in a user's access token of the same pool."""
    client_id, _ = _client(idp, pool_id, ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH"])
    username = f"user-{uuid.uuid4().hex[:8]}"
    idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True
    )
    tokens = idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    return str(jwt.decode(tokens["AccessToken"], _keys(endpoint, pool_id)).claims["iss"])


def test_basic_auth_gets_a_token_the_pool_jwks_verifies(
    endpoint: str, idp: Any, setup: Setup
) -> None:
    answer = _grant(endpoint, setup, setup.machine)
    assert answer["token_type"] == "Bearer"
    assert answer["expires_in"] == 15 * 60

    keys = _keys(endpoint, setup.pool_id)
    token = jwt.decode(answer["access_token"], keys)
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] in {key.kid for key in keys.keys}
    claims = token.claims
    client_id = setup.machine[0]
    # No scope asked: every custom scope the client is allowed.
    assert claims["scope"] == "api/read api/write"
    assert (claims["sub"], claims["client_id"]) == (client_id, client_id)
    assert claims["token_use"] == "access"
    assert claims["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{setup.pool_id}"
    assert claims["iss"] == _user_token_issuer(idp, endpoint, setup.pool_id)
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert claims["auth_time"] == claims["iat"]
    assert claims["version"] == 2
    assert uuid.UUID(claims["jti"]).version == 4
    assert not {"username", "cognito:groups", "aud"} & claims.keys()

    # The signature is checked, not just parsed.
    header, payload, signature = answer["access_token"].split(".")
    forged = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged["scope"] = "api/admin"
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(BadSignatureError):
        jwt.decode(f"{header}.{forged_payload}.{signature}", keys)


def test_body_auth_with_a_scope_on_either_domain(endpoint: str, setup: Setup) -> None:
    client_id, secret = setup.machine
    for domain in (setup.prefix, setup.custom):
        status, body, headers = _call(
            _token_url(endpoint, domain),
            {
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
                "scope": "api/write",
            },
        )
        assert status == 200, body
        assert headers["Content-Type"].startswith("application/json")
        assert headers["Cache-Control"] == "no-store"
        assert jwt.decode(body["access_token"], _keys(endpoint, setup.pool_id)).claims[
            "scope"
        ] == "api/write"


def test_access_token_validity_defaults_to_hours(endpoint: str, setup: Setup) -> None:
    # AccessTokenValidity without TokenValidityUnits counts hours, as in AWS.
    assert _grant(endpoint, setup, setup.hours)["expires_in"] == 2 * 60 * 60


def test_any_active_secret_authenticates(endpoint: str, idp: Any, setup: Setup) -> None:
    client_id, first = _client(idp, setup.pool_id, **_machine())
    second = "second_secret_value_0123456789abcdef"
    idp.add_user_pool_client_secret(
        UserPoolId=setup.pool_id, ClientId=client_id, ClientSecret=second
    )
    for secret in (first, second):
        _grant(endpoint, setup, (client_id, secret))
    old = idp.list_user_pool_client_secrets(UserPoolId=setup.pool_id, ClientId=client_id)[
        "ClientSecrets"
    ][0]["ClientSecretId"]
    idp.delete_user_pool_client_secret(
        UserPoolId=setup.pool_id, ClientId=client_id, ClientSecretId=old
    )
    status, body, _ = _call(
        _token_url(endpoint, setup.prefix),
        {"grant_type": "client_credentials"},
        authorization=_basic(client_id, first),
    )
    assert (status, body) == (401, {"error": "invalid_client"})
    _grant(endpoint, setup, (client_id, second))


@pytest.mark.parametrize(
    "credentials",
    ["wrong-secret", "unknown-client", "public-client", "none"],
)
def test_a_client_that_does_not_authenticate_is_invalid_client(
    endpoint: str, setup: Setup, credentials: str
) -> None:
    client_id, secret = setup.machine
    authorization = {
        "wrong-secret": _basic(client_id, secret + "x"),
        "unknown-client": _basic("nosuchclient", secret),
        "public-client": _basic(setup.public, ""),
        "none": None,
    }[credentials]
    status, body, headers = _call(
        _token_url(endpoint, setup.prefix),
        {"grant_type": "client_credentials"},
        authorization=authorization,
    )
    assert (status, body) == (401, {"error": "invalid_client"})
    assert headers["WWW-Authenticate"] == "Basic"


def test_a_client_without_the_flow_is_unauthorized(endpoint: str, setup: Setup) -> None:
    status, body, _ = _call(
        _token_url(endpoint, setup.prefix),
        {"grant_type": "client_credentials", "scope": "api/read"},
        authorization=_basic(*setup.browser),
    )
    assert (status, body) == (400, {"error": "unauthorized_client"})


@pytest.mark.parametrize(
    "scope",
    ["api/delete", "other/x", "openid", "api/read api/nothing"],
    ids=["undefined", "not-allowed", "standard", "one-of-two-undefined"],
)
def test_a_scope_the_client_cannot_have_is_invalid_scope(
    endpoint: str, setup: Setup, scope: str
) -> None:
    status, body, _ = _call(
        _token_url(endpoint, setup.prefix),
        {"grant_type": "client_credentials", "scope": scope},
        authorization=_basic(*setup.machine),
    )
    assert (status, body) == (400, {"error": "invalid_scope"})


@pytest.mark.parametrize(
    ("fields", "content_type", "error"),
    [
        ({"grant_type": "password"}, FORM, "unsupported_grant_type"),
        ({"grant_type": "authorization_code", "code": "x"}, FORM, "unsupported_grant_type"),
        ({}, FORM, "invalid_request"),
        ({"grant_type": "client_credentials"}, "application/json", "invalid_request"),
    ],
    ids=["password", "authorization-code", "no-grant", "json"],
)
def test_malformed_requests(
    endpoint: str, setup: Setup, fields: dict[str, str], content_type: str, error: str
) -> None:
    status, body, _ = _call(
        _token_url(endpoint, setup.prefix),
        fields,
        authorization=_basic(*setup.machine),
        content_type=content_type,
    )
    assert (status, body) == (400, {"error": error})


def test_what_the_emulator_does_not_serve(endpoint: str, setup: Setup) -> None:
    status, _, _ = _call(
        _token_url(endpoint, "no-such-domain"),
        {"grant_type": "client_credentials"},
        authorization=_basic(*setup.machine),
    )
    assert status == 404
    status, _, _ = _call(
        f"{endpoint}/_cognito/domains/{setup.prefix}/oauth2/authorize", method="GET"
    )
    assert status == 404
    status, _, headers = _call(_token_url(endpoint, setup.prefix), method="GET")
    assert (status, headers["Allow"]) == (405, "POST")


def _discovery(endpoint: str, pool_id: str) -> dict[str, Any]:
    url = f"{endpoint}/{pool_id}/.well-known/openid-configuration"
    with urllib.request.urlopen(url, timeout=10) as response:
        return dict(json.load(response))


def test_discovery_names_the_domain_endpoints(endpoint: str, idp: Any, setup: Setup) -> None:
    document = _discovery(endpoint, setup.pool_id)
    base = f"{endpoint}/_cognito/domains/{setup.custom}"  # the custom domain wins
    assert document["issuer"] == f"https://cognito-idp.{REGION}.amazonaws.com/{setup.pool_id}"
    assert document["jwks_uri"] == f"{endpoint}/{setup.pool_id}/.well-known/jwks.json"
    assert {
        key: document[key]
        for key in (
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "revocation_endpoint",
        )
    } == {
        "authorization_endpoint": f"{base}/oauth2/authorize",
        "token_endpoint": f"{base}/oauth2/token",
        "userinfo_endpoint": f"{base}/oauth2/userInfo",
        "revocation_endpoint": f"{base}/oauth2/revoke",
    }
    # What discovery names works.
    status, body, _ = _call(
        document["token_endpoint"],
        {"grant_type": "client_credentials"},
        authorization=_basic(*setup.machine),
    )
    assert status == 200 and re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", body["access_token"])

    bare = idp.create_user_pool(PoolName=f"bare-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    assert "token_endpoint" not in _discovery(endpoint, bare)
