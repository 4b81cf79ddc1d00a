"""Resource servers and identity providers (cognito_resources.py), through a real moto
server: the API's checks, the added actions, and both CloudFormation types."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import REGION

GOOGLE_DETAILS = {
    "client_id": "google-client",
    "client_secret": "google-secret",
    "authorize_scopes": "openid email",
}
OIDC_DETAILS = {
    "client_id": "corp-client",
    "attributes_request_method": "GET",
    "oidc_issuer": "https://login.corp.example",
    "authorize_scopes": "openid",
}


@pytest.fixture(scope="module")
def raw(endpoint: str) -> Any:
    """A cognito-idp client without botocore's own checks (lengths, required members),
    so that the server's answer to what the model forbids is what the test sees."""
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(parameter_validation=False),
    )


def _pool(idp: Any) -> str:
    # Each pool costs moto a third of a second (it imports an RSA key): tests share one
    # where they can.
    return idp.create_user_pool(PoolName=f"res-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]


@pytest.fixture(scope="module")
def shared_pool(idp: Any) -> str:
    return _pool(idp)


def _error(call: Callable[..., Any], **kwargs: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as refused:
        call(**kwargs)
    return refused.value.response["Error"]


def _scope(name: str, description: str = "Read access") -> dict[str, str]:
    return {"ScopeName": name, "ScopeDescription": description}


# --- resource servers through the API ----------------------------------------------------


def test_resource_server_update_and_delete(idp: Any, shared_pool: str) -> None:
    pool_id = shared_pool
    idp.create_resource_server(
        UserPoolId=pool_id, Identifier="orders", Name="Orders", Scopes=[_scope("read")]
    )
    updated = idp.update_resource_server(
        UserPoolId=pool_id,
        Identifier="orders",
        Name="Orders API",
        Scopes=[_scope("read"), _scope("write", "Write access")],
    )["ResourceServer"]
    assert updated["Name"] == "Orders API"
    described = idp.describe_resource_server(UserPoolId=pool_id, Identifier="orders")
    assert [s["ScopeName"] for s in described["ResourceServer"]["Scopes"]] == ["read", "write"]

    # Scopes left out are reset, as AWS warns.
    idp.update_resource_server(UserPoolId=pool_id, Identifier="orders", Name="Orders API")
    described = idp.describe_resource_server(UserPoolId=pool_id, Identifier="orders")
    assert not described["ResourceServer"].get("Scopes")

    idp.delete_resource_server(UserPoolId=pool_id, Identifier="orders")
    for call, extra in (
        (idp.describe_resource_server, {}),
        (idp.delete_resource_server, {}),
        (idp.update_resource_server, {"Name": "Orders"}),
    ):
        error = _error(call, UserPoolId=pool_id, Identifier="orders", **extra)
        assert error["Code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("identifier", "scopes", "path"),
    [
        ("orders", [_scope("read all")], "scopes.1.member.scopeName"),
        ("orders", [_scope("read"), _scope('say"hi')], "scopes.2.member.scopeName"),
        ("orders", [_scope("orders/read")], "scopes.1.member.scopeName"),
        ("orders", [_scope("back\\slash")], "scopes.1.member.scopeName"),
        ("orders", [_scope("")], "scopes.1.member.scopeName"),
        ("orders", [_scope("r" * 257)], "scopes.1.member.scopeName"),
        ("orders", [{"ScopeName": "read"}], "scopes.1.member.scopeDescription"),
        ("orders", [_scope("read", "")], "scopes.1.member.scopeDescription"),
        ("orders", [_scope(f"s{i}") for i in range(101)], "scopes"),
        ("my orders", [], "identifier"),
        ('"orders"', [], "identifier"),
        ("back\\slash", [], "identifier"),
        ("o" * 257, [], "identifier"),
    ],
)
def test_resource_server_members_are_checked(
    raw: Any, idp: Any, shared_pool: str, identifier: str, scopes: list[dict[str, str]], path: str
) -> None:
    pool_id = shared_pool
    before = idp.list_resource_servers(UserPoolId=pool_id, MaxResults=50)["ResourceServers"]
    for call in (raw.create_resource_server, raw.update_resource_server):
        error = _error(
            call, UserPoolId=pool_id, Identifier=identifier, Name="Orders", Scopes=scopes
        )
        assert error["Code"] == "InvalidParameterException"
        assert f"at '{path}'" in error["Message"]
    assert idp.list_resource_servers(UserPoolId=pool_id, MaxResults=50)["ResourceServers"] == before


def test_resource_server_identifier_forms_and_duplicates(idp: Any, shared_pool: str) -> None:
    pool_id = shared_pool
    # A URL is a common identifier; a scope name may hold any other printable character.
    idp.create_resource_server(
        UserPoolId=pool_id,
        Identifier="https://api.example.com",
        Name="API",
        Scopes=[_scope("read:all*"), _scope("a" * 256)],
    )
    error = _error(
        idp.create_resource_server,
        UserPoolId=pool_id,
        Identifier="https://api.example.com",
        Name="Again",
    )
    assert error["Code"] == "InvalidParameterException"


# --- identity providers through the API --------------------------------------------------


def _provider(
    idp: Any, pool_id: str, name: str, kind: str, details: dict[str, str], **extra: Any
) -> Any:
    return idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName=name, ProviderType=kind, ProviderDetails=details, **extra
    )


def test_duplicate_provider_name_is_refused(idp: Any, shared_pool: str) -> None:
    _provider(idp, shared_pool, "Twice", "OIDC", OIDC_DETAILS)
    error = _error(
        _provider,
        idp=idp,
        pool_id=shared_pool,
        name="Twice",
        kind="OIDC",
        details={**OIDC_DETAILS, "client_id": "other"},
    )
    assert error["Code"] == "DuplicateProviderException"
    kept = idp.describe_identity_provider(UserPoolId=shared_pool, ProviderName="Twice")
    assert kept["IdentityProvider"]["ProviderDetails"]["client_id"] == "corp-client"


@pytest.mark.parametrize(
    ("name", "kind", "details", "named"),
    [
        ("Corp", "Okta", OIDC_DETAILS, "providerType"),
        ("MyGoogle", "Google", GOOGLE_DETAILS, "named Google"),
        ("SignInWithApple", "SignInWithApple", {}, "client_id"),
        ("_corp", "OIDC", OIDC_DETAILS, "providerName"),
        ("co", "OIDC", OIDC_DETAILS, "providerName"),
        ("my corp", "OIDC", OIDC_DETAILS, "providerName"),
        ("corp_idp", "OIDC", OIDC_DETAILS, "providerName"),
        ("c" * 33, "OIDC", OIDC_DETAILS, "providerName"),
        ("Corp", "OIDC", {**OIDC_DETAILS, "attributes_request_method": "PUT"}, "GET or POST"),
        ("Corp", "SAML", {}, "exactly one of MetadataURL and MetadataFile"),
        (
            "Corp",
            "SAML",
            {"MetadataURL": "https://idp.example/md", "MetadataFile": "<xml/>"},
            "exactly one of MetadataURL and MetadataFile",
        ),
        ("Corp", "OIDC", {}, "ProviderDetails"),
    ],
)
def test_provider_requests_are_checked(
    idp: Any, shared_pool: str, name: str, kind: str, details: dict[str, str], named: str
) -> None:
    pool_id = shared_pool
    before = idp.list_identity_providers(UserPoolId=pool_id, MaxResults=50)["Providers"]
    error = _error(_provider, idp=idp, pool_id=pool_id, name=name, kind=kind, details=details)
    assert error["Code"] == "InvalidParameterException"
    assert named in error["Message"]
    assert idp.list_identity_providers(UserPoolId=pool_id, MaxResults=50)["Providers"] == before


@pytest.mark.parametrize(
    ("kind", "required"),
    [
        ("Google", ("client_id", "client_secret", "authorize_scopes")),
        ("Facebook", ("client_id", "client_secret", "authorize_scopes")),
        ("LoginWithAmazon", ("client_id", "client_secret", "authorize_scopes")),
        ("SignInWithApple", ("client_id", "team_id", "key_id", "private_key", "authorize_scopes")),
        ("OIDC", ("client_id", "attributes_request_method", "oidc_issuer", "authorize_scopes")),
    ],
)
def test_each_required_detail_is_named(
    idp: Any, shared_pool: str, kind: str, required: tuple[str, ...]
) -> None:
    pool_id = shared_pool
    complete = {
        key: "GET" if key == "attributes_request_method" else f"{key}-value" for key in required
    }
    name = "Corp" if kind == "OIDC" else kind
    for missing in required:
        details = {k: v for k, v in complete.items() if k != missing}
        error = _error(_provider, idp=idp, pool_id=pool_id, name=name, kind=kind, details=details)
        assert error["Code"] == "InvalidParameterException"
        assert error["Message"].endswith(f"require {missing}.")
        # Never a value: the details hold secrets.
        assert not any(value in error["Message"] for value in details.values())
    created = _provider(idp, pool_id, name, kind, complete)["IdentityProvider"]
    assert created["ProviderDetails"] == complete


def test_provider_details_keep_their_secret_and_update_is_checked(idp: Any) -> None:
    pool_id = _pool(idp)
    # OIDC without a client secret (a public client) is fine; names may be Unicode.
    _provider(
        idp, pool_id, "Société-IdP.1", "OIDC", OIDC_DETAILS, IdpIdentifiers=["corp.example"]
    )
    _provider(idp, pool_id, "Google", "Google", GOOGLE_DETAILS)
    described = idp.describe_identity_provider(UserPoolId=pool_id, ProviderName="Google")
    # AWS's DescribeIdentityProvider returns the details as stored, secret included.
    assert described["IdentityProvider"]["ProviderDetails"]["client_secret"] == "google-secret"

    error = _error(
        idp.update_identity_provider,
        UserPoolId=pool_id,
        ProviderName="Google",
        ProviderDetails={"client_id": "new-client"},
    )
    assert error["Code"] == "InvalidParameterException"
    assert "client_secret" in error["Message"]
    updated = idp.update_identity_provider(
        UserPoolId=pool_id,
        ProviderName="Google",
        ProviderDetails={**GOOGLE_DETAILS, "client_secret": "rotated"},
        AttributeMapping={"email": "email"},
    )["IdentityProvider"]
    assert updated["ProviderDetails"]["client_secret"] == "rotated"
    assert updated["LastModifiedDate"] > described["IdentityProvider"]["LastModifiedDate"]

    found = idp.get_identity_provider_by_identifier(
        UserPoolId=pool_id, IdpIdentifier="corp.example"
    )
    assert found["IdentityProvider"]["ProviderName"] == "Société-IdP.1"
    error = _error(
        idp.get_identity_provider_by_identifier, UserPoolId=pool_id, IdpIdentifier="nobody.example"
    )
    assert error["Code"] == "ResourceNotFoundException"


# --- CloudFormation --------------------------------------------------------------------


def _template(
    *,
    identifier: str = "orders",
    server_name: str = "Orders",
    scopes: tuple[str, ...] = ("read",),
    provider_name: str = "Corp",
    provider_type: str = "OIDC",
    issuer: str = "https://login.corp.example",
    server_policy: str | None = None,
) -> str:
    server: dict[str, Any] = {
        "Type": "AWS::Cognito::UserPoolResourceServer",
        "Properties": {
            "UserPoolId": {"Ref": "Pool"},
            "Identifier": identifier,
            "Name": server_name,
            "Scopes": [_scope(s, f"{s} access") for s in scopes],
        },
    }
    if server_policy:
        server["DeletionPolicy"] = server_policy
    details = (
        {**OIDC_DETAILS, "oidc_issuer": issuer}
        if provider_type == "OIDC"
        else {"MetadataURL": f"{issuer}/saml/metadata"}
    )
    return json.dumps(
        {
            "Resources": {
                "Pool": {
                    "Type": "AWS::Cognito::UserPool",
                    "Properties": {"UserPoolName": f"res-{uuid.uuid4().hex[:8]}"},
                },
                "Api": server,
                "CorpIdp": {
                    "Type": "AWS::Cognito::UserPoolIdentityProvider",
                    "Properties": {
                        "UserPoolId": {"Ref": "Pool"},
                        "ProviderName": provider_name,
                        "ProviderType": provider_type,
                        "ProviderDetails": details,
                        "AttributeMapping": {"email": "email"},
                        "IdpIdentifiers": ["corp.example"],
                    },
                },
            },
            "Outputs": {
                "PoolId": {"Value": {"Ref": "Pool"}},
                "Api": {"Value": {"Ref": "Api"}},
                "Idp": {"Value": {"Ref": "CorpIdp"}},
            },
        }
    )


def _stack(cfn: Any, body: str, name: str | None = None) -> tuple[str, str, dict[str, str]]:
    """Creates (or, given a name, updates) a stack: its name, status and outputs."""
    if name is None:
        name = f"res-{uuid.uuid4().hex[:8]}"
        cfn.create_stack(StackName=name, TemplateBody=body)
    else:
        cfn.update_stack(StackName=name, TemplateBody=body)
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return name, stack["StackStatus"], outputs


def _described_provider(idp: Any, pool_id: str, name: str) -> dict[str, Any]:
    return idp.describe_identity_provider(UserPoolId=pool_id, ProviderName=name)[
        "IdentityProvider"
    ]


def _failure(cfn: Any, name: str, status: str) -> str:
    events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    return next(e["ResourceStatusReason"] for e in events if e["ResourceStatus"] == status)


def test_stack_creates_updates_and_deletes_server_and_provider(cfn: Any, idp: Any) -> None:
    name, status, out = _stack(cfn, _template())
    assert status == "CREATE_COMPLETE"
    pool_id = out["PoolId"]
    assert (out["Api"], out["Idp"]) == ("orders", "Corp")
    provider = _described_provider(idp, pool_id, "Corp")
    assert provider["ProviderType"] == "OIDC"
    assert provider["AttributeMapping"] == {"email": "email"}

    # In place: the same identifier and provider, new settings.
    _, status, _ = _stack(
        cfn,
        _template(
            server_name="Orders API", scopes=("read", "write"), issuer="https://sso.corp.example"
        ),
        name,
    )
    assert status == "UPDATE_COMPLETE"
    server = idp.describe_resource_server(UserPoolId=pool_id, Identifier="orders")["ResourceServer"]
    assert server["Name"] == "Orders API"
    assert [s["ScopeName"] for s in server["Scopes"]] == ["read", "write"]
    provider = _described_provider(idp, pool_id, "Corp")
    assert provider["ProviderDetails"]["oidc_issuer"] == "https://sso.corp.example"

    # Replacement: a new identifier and a new provider name; the old ones go.
    _, status, out = _stack(cfn, _template(identifier="sales", provider_name="CorpSSO"), name)
    assert status == "UPDATE_COMPLETE"
    assert (out["Api"], out["Idp"]) == ("sales", "CorpSSO")
    servers = idp.list_resource_servers(UserPoolId=pool_id, MaxResults=10)["ResourceServers"]
    assert [s["Identifier"] for s in servers] == ["sales"]
    providers = idp.list_identity_providers(UserPoolId=pool_id, MaxResults=10)["Providers"]
    assert [p["ProviderName"] for p in providers] == ["CorpSSO"]

    cfn.delete_stack(StackName=name)
    assert not any(p["Id"] == pool_id for p in idp.list_user_pools(MaxResults=60)["UserPools"])


def test_retained_resource_server_outlives_its_stack(cfn: Any, idp: Any) -> None:
    # Only the server: the pool itself goes with the stack, and the server with the pool.
    pool_id = _pool(idp)
    body = json.dumps(
        {
            "Resources": {
                "Api": {
                    "Type": "AWS::Cognito::UserPoolResourceServer",
                    "DeletionPolicy": "Retain",
                    "Properties": {"UserPoolId": pool_id, "Identifier": "kept", "Name": "Kept"},
                }
            }
        }
    )
    name, status, _ = _stack(cfn, body)
    assert status == "CREATE_COMPLETE"
    cfn.delete_stack(StackName=name)
    assert idp.describe_resource_server(UserPoolId=pool_id, Identifier="kept")


def test_invalid_scope_in_template_rolls_the_create_back(cfn: Any) -> None:
    name, status, _ = _stack(cfn, _template(scopes=("read all",)))
    assert status == "ROLLBACK_COMPLETE"
    assert "scopes.1.member.scopeName" in _failure(cfn, name, "CREATE_FAILED")


def test_type_change_under_the_same_name_rolls_the_update_back(cfn: Any, idp: Any) -> None:
    name, _, out = _stack(cfn, _template())
    _, status, _ = _stack(cfn, _template(provider_type="SAML"), name)
    assert status == "UPDATE_ROLLBACK_COMPLETE"
    assert "already exists" in _failure(cfn, name, "UPDATE_FAILED")
    kept = idp.describe_identity_provider(UserPoolId=out["PoolId"], ProviderName="Corp")
    assert kept["IdentityProvider"]["ProviderType"] == "OIDC"
