"""Large user pools (cognito_large_pools.py): bulk seeding, and ListUsers and
ListUsersInGroup paged in time proportional to a page, through a real moto server."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import REGION

SCALE = 20_000


def _pool(idp: Any, **config: Any) -> str:
    return idp.create_user_pool(PoolName=f"large-{uuid.uuid4().hex[:8]}", **config)["UserPool"][
        "Id"
    ]


def _post(endpoint: str, body: Any) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{endpoint}/_bulk/users", data=json.dumps(body).encode(), method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def _seed(endpoint: str, pool_id: str, count: int, **fields: Any) -> dict[str, Any]:
    status, answer = _post(endpoint, {"userPoolId": pool_id, "count": count, **fields})
    assert status == 200, answer
    return answer


def _raw_page(endpoint: str, operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """One call with a plain JSON client: botocore's parsing of 60 users costs more than
    the server's answer, and would hide what this measures."""
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"AWSCognitoIdentityProviderService.{operation}",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/"
            "cognito-idp/aws4_request, SignedHeaders=host, Signature=0",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _all(idp: Any, operation: str, **params: Any) -> list[str]:
    """Every user name a listing returns, page by page, as a client pages."""
    names: list[str] = []
    for page in idp.get_paginator(operation).paginate(**params):
        names += [u["Username"] for u in page["Users"]]
    return names


def test_a_seeded_pool_pages_through_completely_and_in_order(
    endpoint: str, idp: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    pool_id = _pool(idp)
    began = time.monotonic()
    answer = _seed(endpoint, pool_id, SCALE)
    seeded = time.monotonic() - began
    assert answer["created"] == SCALE
    assert (answer["firstUsername"], answer["lastUsername"]) == ("bulk-000000", "bulk-019999")

    began, names, pages, body = time.monotonic(), [], 0, {"UserPoolId": pool_id, "Limit": 60}
    while True:
        page = _raw_page(endpoint, "ListUsers", body)
        pages += 1
        names += [u["Username"] for u in page["Users"]]
        if "PaginationToken" not in page:
            break
        body["PaginationToken"] = page["PaginationToken"]
    listed = time.monotonic() - began
    assert names == [f"bulk-{i:06d}" for i in range(SCALE)]
    assert pages == -(-SCALE // 60)
    with capsys.disabled():
        print(
            f"\n{SCALE} users: seeded in {seeded:.2f} s ({answer['seconds']} s in the server), "
            f"{pages} ListUsers pages in {listed:.2f} s"
        )

    # What a client gets: every field, as moto gives a user made by AdminCreateUser.
    user = idp.list_users(UserPoolId=pool_id, Limit=1)["Users"][0]
    assert user["Username"] == "bulk-000000"
    assert user["UserStatus"] == "CONFIRMED" and user["Enabled"] is True
    attributes = {a["Name"]: a["Value"] for a in user["Attributes"]}
    assert attributes["email"] == "bulk-000000@example.com"
    assert attributes["email_verified"] == "true"
    uuid.UUID(attributes["sub"])
    assert abs(datetime.now(user["UserCreateDate"].tzinfo) - user["UserCreateDate"]) < timedelta(
        minutes=5
    )
    got = idp.admin_get_user(UserPoolId=pool_id, Username="bulk-019999")
    assert got["UserStatus"] == "CONFIRMED"
    assert idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["EstimatedNumberOfUsers"] == SCALE


def test_bulk_users_can_sign_in_with_the_given_password(endpoint: str, idp: Any) -> None:
    pool_id = _pool(idp)
    _seed(endpoint, pool_id, 3, prefix="pw-", start=7, password="Sup3r-secret!pw")
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"]
    )["UserPoolClient"]["ClientId"]
    assert _all(idp, "list_users", UserPoolId=pool_id) == ["pw-000007", "pw-000008", "pw-000009"]
    tokens = idp.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "pw-000008", "PASSWORD": "Sup3r-secret!pw"},
    )
    assert tokens["AuthenticationResult"]["AccessToken"]


def test_in_a_pool_with_username_attributes_the_name_is_the_sub(endpoint: str, idp: Any) -> None:
    pool_id = _pool(idp, UsernameAttributes=["email"])
    _seed(endpoint, pool_id, 2, prefix="mail-")
    users = idp.list_users(UserPoolId=pool_id)["Users"]
    for user in users:
        attributes = {a["Name"]: a["Value"] for a in user["Attributes"]}
        assert user["Username"] == attributes["sub"]
    got = idp.admin_get_user(UserPoolId=pool_id, Username="mail-000001@example.com")
    assert got["Username"] == users[1]["Username"]
    status, answer = _post(endpoint, {"userPoolId": pool_id, "count": 5, "prefix": "mail-"})
    assert status == 409, answer


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"userPoolId": f"{REGION}_nosuchpool", "count": 1}, 404),
        ({"count": 1}, 400),
        ({"userPoolId": "x", "count": 0}, 400),
        ({"userPoolId": "x", "count": 1_000_001}, 400),
        ({"userPoolId": "x", "count": "10"}, 400),
        ({"userPoolId": "x", "count": 1, "prefx": "typo-"}, 400),
        (["not", "an", "object"], 400),
    ],
)
def test_a_bad_seeding_request_is_refused(endpoint: str, body: Any, status: int) -> None:
    assert _post(endpoint, body)[0] == status


def test_seeding_never_overwrites_a_user(endpoint: str, idp: Any) -> None:
    pool_id = _pool(idp)
    idp.admin_create_user(UserPoolId=pool_id, Username="bulk-000002", MessageAction="SUPPRESS")
    status, answer = _post(endpoint, {"userPoolId": pool_id, "count": 5})
    assert status == 409
    assert "bulk-000002" in answer["error"]
    assert _all(idp, "list_users", UserPoolId=pool_id) == ["bulk-000002"]


def test_filters_work_as_in_moto_across_pages(endpoint: str, idp: Any) -> None:
    pool_id = _pool(idp)
    _seed(endpoint, pool_id, 300)
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username="zoe",
        UserAttributes=[{"Name": "email", "Value": "zoe@example.org"}],
        MessageAction="SUPPRESS",
    )
    idp.admin_disable_user(UserPoolId=pool_id, Username="bulk-000150")

    def listed(expression: str) -> list[str]:
        return _all(
            idp,
            "list_users",
            UserPoolId=pool_id,
            Filter=expression,
            PaginationConfig={"PageSize": 7},
        )

    assert listed('username = "bulk-000123"') == ["bulk-000123"]
    assert listed('username ^= "bulk-00012"') == [f"bulk-{i:06d}" for i in range(120, 130)]
    assert listed('email ^= "zoe@"') == ["zoe"]
    assert listed('cognito:user_status = "FORCE_CHANGE_PASSWORD"') == ["zoe"]
    assert len(listed('cognito:user_status = "CONFIRMED"')) == 300
    assert listed('status = "Disabled"') == ["bulk-000150"]
    sub = idp.admin_get_user(UserPoolId=pool_id, Username="bulk-000042")["UserAttributes"]
    sub_value = next(a["Value"] for a in sub if a["Name"] == "sub")
    assert listed(f'sub = "{sub_value}"') == ["bulk-000042"]
    assert listed('email = "nobody@example.com"') == []

    for expression, message in [
        ("email is zoe", "Error while parsing filter"),
        ('custom:tenant = "x"', "Invalid search attribute: custom:tenant"),
    ]:
        with pytest.raises(ClientError) as refused:
            idp.list_users(UserPoolId=pool_id, Filter=expression)
        assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
        assert refused.value.response["Error"]["Message"] == message


def test_a_token_is_only_good_for_its_own_listing(idp: Any, endpoint: str) -> None:
    pool_id, other_pool = _pool(idp), _pool(idp)
    _seed(endpoint, pool_id, 10)
    _seed(endpoint, other_pool, 10)
    token = idp.list_users(UserPoolId=pool_id, Limit=3)["PaginationToken"]
    for call in [
        lambda: idp.list_users(UserPoolId=other_pool, PaginationToken=token),
        lambda: idp.list_users(UserPoolId=pool_id, PaginationToken=token, Filter='username ^= "b"'),
        lambda: idp.list_users(UserPoolId=pool_id, PaginationToken="not-a-token"),
    ]:
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "InvalidToken"
    # The same listing with another page size is the same listing.
    assert len(idp.list_users(UserPoolId=pool_id, Limit=60, PaginationToken=token)["Users"]) == 7


def test_changes_between_pages_skip_the_deleted_and_add_the_new_at_the_end(
    endpoint: str, idp: Any
) -> None:
    pool_id = _pool(idp)
    _seed(endpoint, pool_id, 30)
    first = idp.list_users(UserPoolId=pool_id, Limit=10)
    assert [u["Username"] for u in first["Users"]] == [f"bulk-{i:06d}" for i in range(10)]
    for name in ("bulk-000003", "bulk-000010", "bulk-000015"):
        idp.admin_delete_user(UserPoolId=pool_id, Username=name)
    idp.admin_create_user(UserPoolId=pool_id, Username="late", MessageAction="SUPPRESS")
    rest = _all(
        idp,
        "list_users",
        UserPoolId=pool_id,
        PaginationConfig={"PageSize": 10, "StartingToken": first["PaginationToken"]},
    )
    expected = [f"bulk-{i:06d}" for i in range(10, 30) if i not in (10, 15)] + ["late"]
    assert rest == expected
    # Deleting far more than the pool keeps (the index compacts) changes nothing seen.
    for i in range(16, 30):
        idp.admin_delete_user(UserPoolId=pool_id, Username=f"bulk-{i:06d}")
    remaining = [f"bulk-{i:06d}" for i in range(10) if i != 3] + ["bulk-000011", "bulk-000012"]
    remaining += ["bulk-000013", "bulk-000014", "late"]
    assert _all(idp, "list_users", UserPoolId=pool_id, PaginationConfig={"PageSize": 4}) == (
        remaining
    )


def test_list_users_in_group_pages_members_in_pool_order(endpoint: str, idp: Any) -> None:
    pool_id = _pool(idp)
    _seed(endpoint, pool_id, 200)
    idp.create_group(UserPoolId=pool_id, GroupName="staff")
    members = [f"bulk-{i:06d}" for i in (190, 3, 77, 78, 150, 0, 199, 42)]
    for name in members:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=name, GroupName="staff")

    def listed(**config: Any) -> list[str]:
        return _all(idp, "list_users_in_group", UserPoolId=pool_id, GroupName="staff", **config)

    assert listed(PaginationConfig={"PageSize": 3}) == sorted(members)
    assert listed() == sorted(members)
    idp.admin_remove_user_from_group(UserPoolId=pool_id, Username="bulk-000077", GroupName="staff")
    idp.admin_delete_user(UserPoolId=pool_id, Username="bulk-000150")
    assert listed(PaginationConfig={"PageSize": 2}) == sorted(
        set(members) - {"bulk-000077", "bulk-000150"}
    )
    idp.create_group(UserPoolId=pool_id, GroupName="empty")
    assert _all(idp, "list_users_in_group", UserPoolId=pool_id, GroupName="empty") == []
    with pytest.raises(ClientError) as refused:
        idp.list_users_in_group(UserPoolId=pool_id, GroupName="missing")
    assert refused.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_page_is_what_motos_serializer_writes() -> None:
    # In this process, not the server: moto's own serializer is the reference.
    from moto.cognitoidp.models import CognitoIdpUser, UserStatus
    from moto.core.serialize import JSONSerializer
    from moto.core.utils import get_service_model

    from cognito_large_pools import user_document

    plain = CognitoIdpUser("p", "plain", None, UserStatus.CONFIRMED, [])
    rich = CognitoIdpUser(
        "p",
        "rich",
        "pw",
        UserStatus.FORCE_CHANGE_PASSWORD,
        [{"Name": "email", "Value": "r@example.com"}, {"Name": "custom:tier", "Value": "gold"}],
    )
    rich.enabled = False
    rich.sms_mfa_enabled = rich.software_token_mfa_enabled = True
    rich.preferred_mfa_setting = "SMS_MFA"
    operation = get_service_model("cognito-idp").operation_model("ListUsers")
    for attributes_to_get in (None, [], ["email"], ["nothing"]):
        users = [plain, rich]
        described = [u.to_json(extended=True, attributes_to_get=attributes_to_get) for u in users]
        reference = JSONSerializer(operation).serialize({"Users": described})["body"]
        ours = json.dumps({"Users": [user_document(u, attributes_to_get) for u in users]})
        assert json.loads(ours) == json.loads(reference)
