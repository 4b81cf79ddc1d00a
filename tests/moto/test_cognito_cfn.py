"""The Cognito CloudFormation plugin, through a real moto server (server.py)."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import REGION

ACCOUNT = "123456789012"  # moto's default account
PASSWORD = "Sup3r-secret!pw"


def template(
    *,
    min_length: int = 12,
    pool_policy: str | None = None,
    auth_flows: tuple[str, ...] = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"),
    generate_secret: bool = True,
    group_description: str = "Administrators",
) -> dict[str, Any]:
    pool: dict[str, Any] = {
        "Type": "AWS::Cognito::UserPool",
        "Properties": {
            "UserPoolName": "app-users",
            "UsernameAttributes": ["email"],
            "AutoVerifiedAttributes": ["email"],
            "UsernameConfiguration": {"CaseSensitive": False},
            "Policies": {
                "PasswordPolicy": {
                    # A string on purpose: templates often carry numbers so.
                    "MinimumLength": str(min_length),
                    "RequireUppercase": True,
                    "RequireLowercase": True,
                    "RequireNumbers": True,
                    "RequireSymbols": False,
                    "TemporaryPasswordValidityDays": 3,
                }
            },
            "MfaConfiguration": "OFF",
            "AccountRecoverySetting": {
                "RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]
            },
            "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": True},
            "DeletionProtection": "INACTIVE",
            "Schema": [
                {"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True},
                {"Name": "tenant", "AttributeDataType": "String", "Mutable": True},
            ],
            "LambdaConfig": {},
            "UserPoolTags": {"owner": "cognito-operator"},
        },
    }
    if pool_policy:
        pool["DeletionPolicy"] = pool_policy
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "UserPool": pool,
            "AppClient": {
                "Type": "AWS::Cognito::UserPoolClient",
                "Properties": {
                    "UserPoolId": {"Ref": "UserPool"},
                    "ClientName": "app",
                    "GenerateSecret": generate_secret,
                    "ExplicitAuthFlows": list(auth_flows),
                    "AccessTokenValidity": 60,
                    "IdTokenValidity": "60",
                    "RefreshTokenValidity": 30,
                    "TokenValidityUnits": {
                        "AccessToken": "minutes",
                        "IdToken": "minutes",
                        "RefreshToken": "days",
                    },
                    "EnableTokenRevocation": True,
                    "PreventUserExistenceErrors": "ENABLED",
                },
            },
            "Admins": {
                "Type": "AWS::Cognito::UserPoolGroup",
                "Properties": {
                    "UserPoolId": {"Ref": "UserPool"},
                    "GroupName": "admins",
                    "Description": group_description,
                    "Precedence": 1,
                    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/admins",
                },
            },
        },
        "Outputs": {
            "UserPoolId": {"Value": {"Ref": "UserPool"}},
            "UserPoolArn": {"Value": {"Fn::GetAtt": ["UserPool", "Arn"]}},
            "ProviderURL": {"Value": {"Fn::GetAtt": ["UserPool", "ProviderURL"]}},
            "ProviderName": {"Value": {"Fn::GetAtt": ["UserPool", "ProviderName"]}},
            "ClientId": {"Value": {"Ref": "AppClient"}},
            "ClientName": {"Value": {"Fn::GetAtt": ["AppClient", "Name"]}},
            "GroupName": {"Value": {"Ref": "Admins"}},
        },
    }


def stack_name() -> str:
    return f"cognito-{uuid.uuid4().hex[:8]}"


def outputs(cfn: Any, name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def create(cfn: Any, body: dict[str, Any] | str) -> tuple[str, dict[str, str]]:
    name = stack_name()
    text = body if isinstance(body, str) else json.dumps(body)
    cfn.create_stack(StackName=name, TemplateBody=text)
    status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    assert status == "CREATE_COMPLETE"
    return name, outputs(cfn, name)


def pool_exists(idp: Any, pool_id: str) -> bool:
    pools = idp.list_user_pools(MaxResults=60)["UserPools"]
    return any(p["Id"] == pool_id for p in pools)


def test_stack_creates_pool_client_and_group(cfn: Any, idp: Any) -> None:
    name, out = create(cfn, template())
    pool_id = out["UserPoolId"]

    assert pool_id.startswith(f"{REGION}_")
    assert out["ProviderName"] == f"cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    assert out["ProviderURL"] == f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    assert out["UserPoolArn"] == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{pool_id}"
    assert out["GroupName"] == "admins"
    assert out["ClientName"] == "app"

    listed = {p["Id"]: p["Name"] for p in idp.list_user_pools(MaxResults=60)["UserPools"]}
    assert listed[pool_id] == "app-users"

    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["UsernameAttributes"] == ["email"]
    assert pool["AutoVerifiedAttributes"] == ["email"]
    assert pool["UsernameConfiguration"] == {"CaseSensitive": False}
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] == 12
    assert policy["RequireSymbols"] is False
    assert policy["TemporaryPasswordValidityDays"] == 3
    assert pool["MfaConfiguration"] == "OFF"
    assert pool["DeletionProtection"] == "INACTIVE"
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["AccountRecoverySetting"]["RecoveryMechanisms"][0]["Name"] == "verified_email"
    assert pool["UserPoolTags"] == {"owner": "cognito-operator"}
    attrs = {a["Name"] for a in pool["SchemaAttributes"]}
    assert {"email", "custom:tenant"} <= attrs

    app = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=out["ClientId"])[
        "UserPoolClient"
    ]
    assert app["ClientName"] == "app"
    assert app["ExplicitAuthFlows"] == ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    assert app["ClientSecret"]  # GenerateSecret: true
    assert app["AccessTokenValidity"] == 60
    assert app["IdTokenValidity"] == 60
    assert app["TokenValidityUnits"]["AccessToken"] == "minutes"
    assert app["EnableTokenRevocation"] is True
    assert app["PreventUserExistenceErrors"] == "ENABLED"

    group = idp.get_group(UserPoolId=pool_id, GroupName="admins")["Group"]
    assert group["Description"] == "Administrators"
    assert group["Precedence"] == 1
    assert group["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/admins"

    resources = {
        r["LogicalResourceId"]: (r["ResourceType"], r["PhysicalResourceId"])
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
    }
    assert resources == {
        "UserPool": ("AWS::Cognito::UserPool", pool_id),
        "AppClient": ("AWS::Cognito::UserPoolClient", out["ClientId"]),
        "Admins": ("AWS::Cognito::UserPoolGroup", "admins"),
    }


def test_client_without_secret(cfn: Any, idp: Any) -> None:
    _, out = create(cfn, template(generate_secret=False))
    app = idp.describe_user_pool_client(UserPoolId=out["UserPoolId"], ClientId=out["ClientId"])[
        "UserPoolClient"
    ]
    assert "ClientSecret" not in app


def test_update_changes_pool_in_place(cfn: Any, idp: Any) -> None:
    name, before = create(cfn, template(min_length=12))

    cfn.update_stack(
        StackName=name,
        TemplateBody=json.dumps(
            template(
                min_length=16,
                auth_flows=("ALLOW_USER_SRP_AUTH",),
                group_description="Admins, updated",
            )
        ),
    )
    after = outputs(cfn, name)
    assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"

    # Same pool, client and group: updated, not replaced.
    assert after == before
    pool = idp.describe_user_pool(UserPoolId=after["UserPoolId"])["UserPool"]
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 16
    assert pool["UsernameAttributes"] == ["email"]  # kept across the update
    app = idp.describe_user_pool_client(UserPoolId=after["UserPoolId"], ClientId=after["ClientId"])[
        "UserPoolClient"
    ]
    assert app["ExplicitAuthFlows"] == ["ALLOW_USER_SRP_AUTH"]
    group = idp.get_group(UserPoolId=after["UserPoolId"], GroupName="admins")["Group"]
    assert group["Description"] == "Admins, updated"


def test_update_seconds_tag_keeps_an_update_in_progress(cfn: Any) -> None:
    name, _ = create(cfn, template(min_length=12))

    cfn.update_stack(
        StackName=name,
        TemplateBody=json.dumps(template(min_length=14)),
        Tags=[{"Key": "emulator/update-seconds", "Value": "1"}],
    )

    def status() -> str:
        return str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])

    assert status() == "UPDATE_IN_PROGRESS"
    deadline = time.monotonic() + 10
    while status() != "UPDATE_COMPLETE" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status() == "UPDATE_COMPLETE"


def test_failed_update_rolls_back_to_the_previous_template(cfn: Any) -> None:
    original = json.dumps(template(min_length=12))
    name = stack_name()
    cfn.create_stack(StackName=name, TemplateBody=original)

    cfn.update_stack(
        StackName=name,
        TemplateBody=json.dumps(template(min_length=14)),
        Tags=[{"Key": "emulator/fail-update", "Value": "simulated failure"}],
    )

    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [
        e.get("ResourceStatusReason")
        for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
        if e["ResourceStatus"] == "UPDATE_FAILED"
    ]
    assert reasons == ["simulated failure"]
    # boto3 hands back a JSON template body already parsed.
    body = cfn.get_template(StackName=name)["TemplateBody"]
    assert json.loads(json.dumps(body)) == json.loads(original)

    # Back to the template it runs: nothing to update, as CloudFormation answers.
    with pytest.raises(ClientError, match="No updates are to be performed"):
        cfn.update_stack(StackName=name, TemplateBody=original)


def test_delete_stack_deletes_pool(cfn: Any, idp: Any) -> None:
    name, out = create(cfn, template())
    assert pool_exists(idp, out["UserPoolId"])

    cfn.delete_stack(StackName=name)

    assert not pool_exists(idp, out["UserPoolId"])


def test_deletion_policy_retain_keeps_pool(cfn: Any, idp: Any) -> None:
    name, out = create(cfn, template(pool_policy="Retain"))

    cfn.delete_stack(StackName=name)

    assert pool_exists(idp, out["UserPoolId"])
    # The client and group had no Retain policy: they went with the stack.
    clients = idp.list_user_pool_clients(UserPoolId=out["UserPoolId"])["UserPoolClients"]
    assert clients == []
    assert idp.list_groups(UserPoolId=out["UserPoolId"])["Groups"] == []


def test_retained_pool_survives_removal_from_template(cfn: Any, idp: Any) -> None:
    body = {
        "Resources": {
            "Kept": {
                "Type": "AWS::Cognito::UserPool",
                "DeletionPolicy": "Retain",
                "Properties": {"UserPoolName": "kept"},
            },
            "Dropped": {
                "Type": "AWS::Cognito::UserPool",
                "Properties": {"UserPoolName": "dropped"},
            },
            "Other": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "other"}},
        },
        "Outputs": {
            "Kept": {"Value": {"Ref": "Kept"}},
            "Dropped": {"Value": {"Ref": "Dropped"}},
        },
    }
    name, out = create(cfn, body)
    del body["Resources"]["Kept"], body["Resources"]["Dropped"]
    body["Outputs"] = {}

    cfn.update_stack(StackName=name, TemplateBody=json.dumps(body))

    assert pool_exists(idp, out["Kept"])
    assert not pool_exists(idp, out["Dropped"])


def test_yaml_short_form_template(cfn: Any, idp: Any) -> None:
    body = """
Resources:
  Pool:
    Type: AWS::Cognito::UserPool
    Properties:
      UserPoolName: yaml-users
      UsernameAttributes: [email]
  Client:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Pool
      ExplicitAuthFlows: [ALLOW_USER_PASSWORD_AUTH]
Outputs:
  Issuer:
    Value: !GetAtt Pool.ProviderURL
  ClientId:
    Value: !GetAtt Client.ClientId
  Pool:
    Value: !Sub "${Pool}"
"""
    _, out = create(cfn, body)
    assert out["Issuer"].endswith("/" + out["Pool"])
    app = idp.describe_user_pool_client(UserPoolId=out["Pool"], ClientId=out["ClientId"])[
        "UserPoolClient"
    ]
    # No ClientName in the template: CloudFormation generates one.
    assert app["ClientName"]


def test_unknown_attribute_is_rejected(cfn: Any) -> None:
    body = template()
    body["Outputs"]["Bad"] = {"Value": {"Fn::GetAtt": ["UserPool", "NoSuchAttribute"]}}
    with pytest.raises(ClientError):
        cfn.create_stack(StackName=stack_name(), TemplateBody=json.dumps(body))


def _jwt_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def test_password_auth_against_stack_pool(cfn: Any, idp: Any, endpoint: str) -> None:
    _, out = create(cfn, template(generate_secret=False))
    pool_id, client_id = out["UserPoolId"], out["ClientId"]
    email = "alice@example.com"

    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=email,
        UserAttributes=[{"Name": "email", "Value": email}],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=email, Password=PASSWORD, Permanent=True
    )
    result = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]

    claims = _jwt_part(result["AccessToken"], 1)
    assert claims["iss"] == out["ProviderURL"]
    assert claims["client_id"] == client_id
    assert _jwt_part(result["IdToken"], 1)["email"] == email

    # The token's signing key is the one the pool's JWKS publishes.
    with urllib.request.urlopen(f"{endpoint}/{pool_id}/.well-known/jwks.json") as resp:
        kids = {key["kid"] for key in json.load(resp)["keys"]}
    assert _jwt_part(result["AccessToken"], 0)["kid"] in kids


def test_password_policy_from_template_is_enforced(cfn: Any, idp: Any) -> None:
    _, out = create(cfn, template(min_length=20))
    idp.admin_create_user(
        UserPoolId=out["UserPoolId"], Username="bob@example.com", MessageAction="SUPPRESS"
    )
    with pytest.raises(ClientError) as err:
        idp.admin_set_user_password(
            UserPoolId=out["UserPoolId"],
            Username="bob@example.com",
            Password=PASSWORD,  # 15 characters < 20
            Permanent=True,
        )
    assert err.value.response["Error"]["Code"] == "InvalidPasswordException"


def test_jwks_reachable_without_signature(cfn: Any, endpoint: str) -> None:
    _, out = create(cfn, template())
    # Plain GET, no AWS signature: how a token verifier fetches it.
    with urllib.request.urlopen(f"{endpoint}/{out['UserPoolId']}/.well-known/jwks.json") as resp:
        assert resp.status == 200
        keys = json.load(resp)["keys"]
    assert keys and all(k["kty"] == "RSA" and k["kid"] for k in keys)


def test_replacing_property_replaces_pool(cfn: Any, idp: Any) -> None:
    body: dict[str, Any] = {
        "Resources": {
            "Pool": {
                "Type": "AWS::Cognito::UserPool",
                "Properties": {"UserPoolName": "replaced", "UsernameAttributes": ["email"]},
            }
        },
        "Outputs": {"Id": {"Value": {"Ref": "Pool"}}},
    }
    name, before = create(cfn, body)
    # As in AWS, UsernameAttributes cannot change in place: a new pool replaces the old.
    body["Resources"]["Pool"]["Properties"]["UsernameAttributes"] = ["phone_number"]

    cfn.update_stack(StackName=name, TemplateBody=json.dumps(body))

    after = outputs(cfn, name)
    assert after["Id"] != before["Id"]
    assert not pool_exists(idp, before["Id"])
    pool = idp.describe_user_pool(UserPoolId=after["Id"])["UserPool"]
    assert pool["UsernameAttributes"] == ["phone_number"]


def test_dashboard_survives_deleted_resources(cfn: Any, endpoint: str) -> None:
    # moto's /moto-api/data.json reads every public attribute of every model,
    # ours included, also after their backing pool is gone.
    name, _ = create(cfn, template())
    cfn.delete_stack(StackName=name)
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json") as resp:
        data = json.load(resp)
    assert "CognitoUserPoolResource" in data["cognitoidp"]


def test_failed_resource_rolls_the_create_back(cfn: Any, idp: Any) -> None:
    body = {
        "Resources": {
            "Pool": {
                "Type": "AWS::Cognito::UserPool",
                "Properties": {
                    "UserPoolName": "rollback-pool",
                    # email is a standard attribute: its type cannot change.
                    "Schema": [{"Name": "email", "AttributeDataType": "Number"}],
                },
            }
        },
        "Outputs": {"PoolArn": {"Value": {"Fn::GetAtt": ["Pool", "Arn"]}}},
    }
    name = "rollback-stack"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))

    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert "Outputs" not in stack
    failed = [
        e
        for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
        if e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert [e["LogicalResourceId"] for e in failed] == ["Pool"]
    assert "standard schema attribute email" in failed[0]["ResourceStatusReason"]
    pools = idp.list_user_pools(MaxResults=60)["UserPools"]
    assert not any(p["Name"] == "rollback-pool" for p in pools)


def test_concurrent_requests_never_see_a_half_updated_pool(client: Callable[[str], Any]) -> None:
    # Lookups by e-mail scan the pool's users while other requests add users; moto's
    # threaded server used to fail those scans with a 500 (see server.py).
    setup = client("cognito-idp")
    pool_id = setup.create_user_pool(PoolName="concurrency", UsernameAttributes=["email"])[
        "UserPool"
    ]["Id"]
    setup.admin_create_user(
        UserPoolId=pool_id, Username="probe@example.com", MessageAction="SUPPRESS"
    )

    def create(worker: int) -> None:
        idp = client("cognito-idp")
        for n in range(400):
            idp.admin_create_user(
                UserPoolId=pool_id,
                Username=f"user-{worker}-{n}@example.com",
                MessageAction="SUPPRESS",
            )

    def look_up(_: int) -> None:
        idp = client("cognito-idp")
        for _ in range(1000):
            idp.admin_get_user(UserPoolId=pool_id, Username="probe@example.com")

    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = [pool.submit(create, w) for w in range(6)]
        jobs += [pool.submit(look_up, w) for w in range(2)]
        for job in jobs:
            job.result()  # a ClientError or a parse error of an HTML 500 fails the test
    users = setup.list_users(UserPoolId=pool_id, Limit=60)
    assert len(users["Users"]) == 60
