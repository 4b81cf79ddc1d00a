"""User pool domains and managed login branding (cognito_domains.py), through the API and
through CloudFormation, against a real moto server (server.py)."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"  # moto's default account
CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc"
OTHER_CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/99999999-aaaa-bbbb-cccc-0000"
CLOUDFRONT = re.compile(r"d[0-9a-f]{13}\.cloudfront\.net")
SETTINGS = {
    "components": {"primaryButton": {"lightMode": {"defaults": {"backgroundColor": "0972d3ff"}}}}
}
PNG = b"\x89PNG\r\n\x1a\nnot-really-an-image"


def _suffix() -> str:
    # Hex only: it can never spell a reserved word (aws, amazon, cognito).
    return uuid.uuid4().hex[:10]


def _prefix() -> str:
    return f"app-{_suffix()}"


def _custom() -> str:
    return f"auth-{_suffix()}.example.com"


def _pool(idp: Any, **extra: Any) -> str:
    return idp.create_user_pool(PoolName=f"domains-{_suffix()}", **extra)["UserPool"]["Id"]


def _client(idp: Any, pool_id: str) -> str:
    return idp.create_user_pool_client(UserPoolId=pool_id, ClientName="app")["UserPoolClient"][
        "ClientId"
    ]


def _described(idp: Any, domain: str) -> dict[str, Any]:
    return idp.describe_user_pool_domain(Domain=domain)["DomainDescription"]


def _error(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture(scope="module")
def shared_pool(idp: Any) -> str:
    """A pool for tests that give it no domain (moto takes ~0.3 s to make a pool)."""
    return _pool(idp)


# --- domains through the API -----------------------------------------------------------


def test_a_prefix_domain_is_described_as_aws_describes_it(idp: Any) -> None:
    pool_id, domain = _pool(idp), _prefix()
    created = idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain)
    # AWS documents no CloudFrontDomain for a prefix domain.
    assert "CloudFrontDomain" not in created
    assert created["ManagedLoginVersion"] == 1

    described = _described(idp, domain)
    assert described["UserPoolId"] == pool_id
    assert described["Domain"] == domain
    assert described["AWSAccountId"] == ACCOUNT
    assert described["Status"] == "ACTIVE"
    assert described["ManagedLoginVersion"] == 1
    assert described["CustomDomainConfig"] == {}
    # The shared regional distribution: the same for every prefix domain of the region.
    assert CLOUDFRONT.fullmatch(described["CloudFrontDistribution"])
    other = _prefix()
    idp.create_user_pool_domain(UserPoolId=_pool(idp), Domain=other)
    assert _described(idp, other)["CloudFrontDistribution"] == described["CloudFrontDistribution"]

    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert pool["Domain"] == domain
    assert "CustomDomain" not in pool


def test_a_pool_has_one_prefix_and_one_custom_domain(idp: Any) -> None:
    pool_id, prefix, custom = _pool(idp), _prefix(), _custom()
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=prefix, ManagedLoginVersion=2)
    created = idp.create_user_pool_domain(
        UserPoolId=pool_id, Domain=custom, CustomDomainConfig={"CertificateArn": CERTIFICATE}
    )
    assert CLOUDFRONT.fullmatch(created["CloudFrontDomain"])

    described = _described(idp, custom)
    assert described["CustomDomainConfig"] == {"CertificateArn": CERTIFICATE}
    assert described["CloudFrontDistribution"] == created["CloudFrontDomain"]
    assert described["CloudFrontDistribution"] != _described(idp, prefix)["CloudFrontDistribution"]
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert (pool["Domain"], pool["CustomDomain"]) == (prefix, custom)

    for domain, config in ((_prefix(), {}), (_custom(), {"CertificateArn": CERTIFICATE})):
        with pytest.raises(ClientError) as refused:
            idp.create_user_pool_domain(
                UserPoolId=pool_id,
                Domain=domain,
                **({"CustomDomainConfig": config} if config else {}),
            )
        assert _error(refused) == (
            "InvalidParameterException",
            "User pool already has a domain configured.",
        )


@pytest.mark.parametrize(
    "domain",
    [
        "Upper",
        "-leading",
        "trailing-",
        "under_score",
        "x" * 64,
        "my-aws-app",
        "amazonia",
        "cognito-login",
    ],
)
def test_a_prefix_domain_follows_the_pattern_and_avoids_reserved_words(
    idp: Any, shared_pool: str, domain: str
) -> None:
    with pytest.raises(ClientError) as refused:
        idp.create_user_pool_domain(UserPoolId=shared_pool, Domain=domain)
    assert _error(refused)[0] == "InvalidParameterException"
    assert "Domain" not in idp.describe_user_pool(UserPoolId=shared_pool)["UserPool"]


@pytest.mark.parametrize(
    "config",
    [
        None,
        {"CertificateArn": f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/0f1e2d3c-aaaa"},
        {"CertificateArn": f"arn:aws:iam::{ACCOUNT}:server-certificate/auth"},
    ],
    ids=["no-certificate", "certificate-outside-us-east-1", "not-an-acm-certificate"],
)
def test_a_custom_domain_needs_an_acm_certificate_in_us_east_1(
    idp: Any, shared_pool: str, config: dict[str, str] | None
) -> None:
    with pytest.raises(ClientError) as refused:
        idp.create_user_pool_domain(
            UserPoolId=shared_pool,
            Domain=_custom(),
            **({"CustomDomainConfig": config} if config else {}),
        )
    assert _error(refused)[0] == "InvalidParameterException"


def test_a_prefix_domain_takes_no_certificate(idp: Any, shared_pool: str) -> None:
    with pytest.raises(ClientError) as refused:
        idp.create_user_pool_domain(
            UserPoolId=shared_pool,
            Domain=_prefix(),
            CustomDomainConfig={"CertificateArn": CERTIFICATE},
        )
    assert _error(refused)[0] == "InvalidParameterException"


def test_a_domain_of_another_pool_is_refused(idp: Any) -> None:
    first, second, domain = _pool(idp), _pool(idp), _prefix()
    idp.create_user_pool_domain(UserPoolId=first, Domain=domain)
    with pytest.raises(ClientError) as refused:
        idp.create_user_pool_domain(UserPoolId=second, Domain=domain)
    assert _error(refused) == (
        "InvalidParameterException",
        "Domain already associated with another user pool.",
    )
    # moto used to move the domain silently; it stays with its pool.
    assert _described(idp, domain)["UserPoolId"] == first
    assert "Domain" not in idp.describe_user_pool(UserPoolId=second)["UserPool"]


def test_managed_login_version_is_kept_and_updated(idp: Any) -> None:
    pool_id, domain = _pool(idp), _prefix()
    assert idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain, ManagedLoginVersion=2)[
        "ManagedLoginVersion"
    ] == 2
    assert _described(idp, domain)["ManagedLoginVersion"] == 2
    updated = idp.update_user_pool_domain(UserPoolId=pool_id, Domain=domain, ManagedLoginVersion=1)
    assert updated["ManagedLoginVersion"] == 1
    assert "CloudFrontDomain" not in updated
    assert _described(idp, domain)["ManagedLoginVersion"] == 1
    with pytest.raises(ClientError) as refused:
        idp.update_user_pool_domain(UserPoolId=pool_id, Domain=domain, ManagedLoginVersion=3)
    assert _error(refused)[0] == "InvalidParameterException"


def test_managed_login_is_not_in_the_lite_plan(idp: Any) -> None:
    pool_id, domain = _pool(idp, UserPoolTier="LITE"), _prefix()
    with pytest.raises(ClientError) as refused:
        idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain, ManagedLoginVersion=2)
    assert _error(refused)[0] == "FeatureUnavailableInTierException"
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain)
    with pytest.raises(ClientError) as refused:
        idp.update_user_pool_domain(UserPoolId=pool_id, Domain=domain, ManagedLoginVersion=2)
    assert _error(refused)[0] == "FeatureUnavailableInTierException"
    assert _described(idp, domain)["ManagedLoginVersion"] == 1


def test_updating_a_custom_domain_repeats_its_certificate(idp: Any) -> None:
    pool_id, domain = _pool(idp), _custom()
    idp.create_user_pool_domain(
        UserPoolId=pool_id, Domain=domain, CustomDomainConfig={"CertificateArn": CERTIFICATE}
    )
    distribution = _described(idp, domain)["CloudFrontDistribution"]
    # As AWS (and terraform-provider-aws#43248): a version change alone reads as a
    # conversion to a prefix domain.
    with pytest.raises(ClientError) as refused:
        idp.update_user_pool_domain(UserPoolId=pool_id, Domain=domain, ManagedLoginVersion=2)
    assert _error(refused) == (
        "InvalidParameterException",
        "Cannot convert custom domain to prefix domain.",
    )
    updated = idp.update_user_pool_domain(
        UserPoolId=pool_id,
        Domain=domain,
        ManagedLoginVersion=2,
        CustomDomainConfig={"CertificateArn": OTHER_CERTIFICATE},
    )
    # A new certificate keeps the distribution a DNS alias points at.
    assert updated == {
        "ManagedLoginVersion": 2,
        "CloudFrontDomain": distribution,
        "ResponseMetadata": updated["ResponseMetadata"],
    }
    described = _described(idp, domain)
    assert described["CustomDomainConfig"] == {"CertificateArn": OTHER_CERTIFICATE}
    assert described["ManagedLoginVersion"] == 2


def test_a_pool_with_a_domain_cannot_be_deleted(idp: Any, shared_pool: str) -> None:
    pool_id, domain = _pool(idp), _prefix()
    idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain)
    with pytest.raises(ClientError) as refused:
        idp.delete_user_pool(UserPoolId=pool_id)
    assert _error(refused)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as refused:
        idp.delete_user_pool_domain(UserPoolId=shared_pool, Domain=domain)
    assert _error(refused)[0] == "ResourceNotFoundException"

    idp.delete_user_pool_domain(UserPoolId=pool_id, Domain=domain)
    assert _described(idp, domain) == {}
    idp.delete_user_pool(UserPoolId=pool_id)
    # The name is free again (for a pool that then keeps it: not the shared one).
    idp.create_user_pool_domain(UserPoolId=_pool(idp), Domain=domain)


# --- managed login branding through the API ----------------------------------------------


def test_a_branding_style_per_app_client(idp: Any, shared_pool: str) -> None:
    pool_id = shared_pool
    client_id = _client(idp, pool_id)
    asset = {"Category": "PAGE_HEADER_LOGO", "ColorMode": "LIGHT", "Extension": "PNG", "Bytes": PNG}
    created = idp.create_managed_login_branding(
        UserPoolId=pool_id, ClientId=client_id, Settings=SETTINGS, Assets=[asset]
    )["ManagedLoginBranding"]
    branding_id = created["ManagedLoginBrandingId"]
    assert uuid.UUID(branding_id).version == 4
    assert created["UserPoolId"] == pool_id
    assert created["Settings"] == SETTINGS
    assert created["Assets"] == [asset]
    assert created["UseCognitoProvidedValues"] is False
    assert created["CreationDate"] == created["LastModifiedDate"]

    by_id = idp.describe_managed_login_branding(
        UserPoolId=pool_id, ManagedLoginBrandingId=branding_id, ReturnMergedResources=True
    )["ManagedLoginBranding"]
    by_client = idp.describe_managed_login_branding_by_client(
        UserPoolId=pool_id, ClientId=client_id
    )["ManagedLoginBranding"]
    assert by_id == by_client == created

    with pytest.raises(ClientError) as refused:
        idp.create_managed_login_branding(
            UserPoolId=pool_id, ClientId=client_id, UseCognitoProvidedValues=True
        )
    assert _error(refused)[0] == "ManagedLoginBrandingExistsException"

    # Update keeps what it is not given.
    dark = {**asset, "ColorMode": "DARK"}
    updated = idp.update_managed_login_branding(
        UserPoolId=pool_id, ManagedLoginBrandingId=branding_id, Assets=[dark]
    )["ManagedLoginBranding"]
    assert (updated["Settings"], updated["Assets"]) == (SETTINGS, [dark])
    assert updated["LastModifiedDate"] >= created["LastModifiedDate"]
    # Back to Cognito's values: nothing of the style remains.
    reverted = idp.update_managed_login_branding(
        UserPoolId=pool_id, ManagedLoginBrandingId=branding_id, UseCognitoProvidedValues=True
    )["ManagedLoginBranding"]
    assert reverted["UseCognitoProvidedValues"] is True
    assert "Settings" not in reverted and reverted["Assets"] == []

    idp.delete_managed_login_branding(UserPoolId=pool_id, ManagedLoginBrandingId=branding_id)
    for describe in (
        lambda: idp.describe_managed_login_branding(
            UserPoolId=pool_id, ManagedLoginBrandingId=branding_id
        ),
        lambda: idp.describe_managed_login_branding_by_client(
            UserPoolId=pool_id, ClientId=client_id
        ),
    ):
        with pytest.raises(ClientError) as missing:
            describe()
        assert _error(missing)[0] == "ResourceNotFoundException"
    # The client is free for a new style.
    idp.create_managed_login_branding(
        UserPoolId=pool_id, ClientId=client_id, UseCognitoProvidedValues=True
    )


def test_cognito_provided_values_exclude_settings_and_assets(idp: Any, shared_pool: str) -> None:
    pool_id = shared_pool
    client_id = _client(idp, pool_id)
    asset = {"Category": "FAVICON_ICO", "ColorMode": "DYNAMIC", "Extension": "ICO"}
    for extra in ({"Settings": SETTINGS}, {"Assets": [asset]}):
        with pytest.raises(ClientError) as refused:
            idp.create_managed_login_branding(
                UserPoolId=pool_id, ClientId=client_id, UseCognitoProvidedValues=True, **extra
            )
        assert _error(refused)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as refused:
        idp.create_managed_login_branding(
            UserPoolId=pool_id, ClientId=client_id, Assets=[{**asset, "Category": "BANNER"}]
        )
    assert _error(refused)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as refused:
        idp.create_managed_login_branding(
            UserPoolId=pool_id, ClientId="nosuchclient", UseCognitoProvidedValues=True
        )
    assert _error(refused)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as missing:
        idp.describe_managed_login_branding_by_client(UserPoolId=pool_id, ClientId=client_id)
    assert _error(missing)[0] == "ResourceNotFoundException"


# --- CloudFormation ------------------------------------------------------------------


def _template(
    domain: str,
    *,
    version: int | str = 2,
    custom: bool = False,
    settings: dict[str, Any] | None = None,
    branding_client: str = "AppClient",
    policy: str | None = None,
) -> dict[str, Any]:
    domain_props: dict[str, Any] = {
        "UserPoolId": {"Ref": "UserPool"},
        "Domain": domain,
        "ManagedLoginVersion": version,
    }
    if custom:
        domain_props["CustomDomainConfig"] = {"CertificateArn": CERTIFICATE}
    branding_props: dict[str, Any] = {
        "UserPoolId": {"Ref": "UserPool"},
        "ClientId": {"Ref": branding_client},
    }
    if settings is None:
        branding_props["UseCognitoProvidedValues"] = "true"  # a string, as templates may
    else:
        branding_props["Settings"] = settings
    resources: dict[str, Any] = {
        "UserPool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "branded"}},
        "AppClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {"UserPoolId": {"Ref": "UserPool"}, "ClientName": "app"},
        },
        "OtherClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {"UserPoolId": {"Ref": "UserPool"}, "ClientName": "other"},
        },
        "Domain": {"Type": "AWS::Cognito::UserPoolDomain", "Properties": domain_props},
        "Branding": {"Type": "AWS::Cognito::ManagedLoginBranding", "Properties": branding_props},
    }
    if policy:
        for resource in resources.values():
            resource["DeletionPolicy"] = policy
            resource["UpdateReplacePolicy"] = policy
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": resources,
        "Outputs": {
            "UserPoolId": {"Value": {"Ref": "UserPool"}},
            "AppClientId": {"Value": {"Ref": "AppClient"}},
            "OtherClientId": {"Value": {"Ref": "OtherClient"}},
            "Domain": {"Value": {"Ref": "Domain"}},
            "CloudFront": {"Value": {"Fn::GetAtt": ["Domain", "CloudFrontDistribution"]}},
            "Branding": {"Value": {"Ref": "Branding"}},
            "BrandingId": {"Value": {"Fn::GetAtt": ["Branding", "ManagedLoginBrandingId"]}},
        },
    }


def _stack(cfn: Any, name: str) -> dict[str, Any]:
    return cfn.describe_stacks(StackName=name)["Stacks"][0]


def _outputs(cfn: Any, name: str) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in _stack(cfn, name).get("Outputs", [])}


def _create_stack(cfn: Any, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
    name = f"domains-{_suffix()}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body))
    assert _stack(cfn, name)["StackStatus"] == "CREATE_COMPLETE"
    return name, _outputs(cfn, name)


def _update_stack(cfn: Any, name: str, body: dict[str, Any]) -> str:
    cfn.update_stack(StackName=name, TemplateBody=json.dumps(body))
    return str(_stack(cfn, name)["StackStatus"])


def _branding(idp: Any, pool_id: str, branding_id: str) -> dict[str, Any]:
    return idp.describe_managed_login_branding(
        UserPoolId=pool_id, ManagedLoginBrandingId=branding_id
    )["ManagedLoginBranding"]


def test_a_stack_creates_a_domain_and_a_branding_style(cfn: Any, idp: Any) -> None:
    domain = _prefix()
    name, out = _create_stack(cfn, _template(domain, version="2", settings=SETTINGS))
    pool_id = out["UserPoolId"]
    assert out["Domain"] == domain
    described = _described(idp, domain)
    assert described["UserPoolId"] == pool_id
    assert described["ManagedLoginVersion"] == 2
    assert out["CloudFront"] == described["CloudFrontDistribution"]
    assert idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Domain"] == domain

    assert out["Branding"] == out["BrandingId"]
    branding = idp.describe_managed_login_branding_by_client(
        UserPoolId=pool_id, ClientId=out["AppClientId"]
    )["ManagedLoginBranding"]
    assert branding["ManagedLoginBrandingId"] == out["BrandingId"]
    assert branding["Settings"] == SETTINGS

    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.describe_stack_resources(StackName=name)["StackResources"]
    }
    assert (physical["Domain"], physical["Branding"]) == (domain, out["BrandingId"])


def test_a_stack_updates_in_place_and_replaces_on_create_only_properties(
    cfn: Any, idp: Any
) -> None:
    prefix = _prefix()
    name, before = _create_stack(cfn, _template(prefix))
    pool_id = before["UserPoolId"]

    # In place: the version and the style change, the domain and the style id stay.
    assert _update_stack(cfn, name, _template(prefix, version=1, settings=SETTINGS)) == (
        "UPDATE_COMPLETE"
    )
    after = _outputs(cfn, name)
    assert (after["Domain"], after["BrandingId"]) == (prefix, before["BrandingId"])
    assert _described(idp, prefix)["ManagedLoginVersion"] == 1
    style = _branding(idp, pool_id, before["BrandingId"])
    assert (style["Settings"], style["UseCognitoProvidedValues"]) == (SETTINGS, False)

    # Replacement: a custom domain for the prefix one, a style for the other client. The
    # new one is made first, then the old one goes.
    custom = _custom()
    assert _update_stack(
        cfn, name, _template(custom, custom=True, settings=SETTINGS, branding_client="OtherClient")
    ) == "UPDATE_COMPLETE"
    replaced = _outputs(cfn, name)
    assert replaced["Domain"] == custom
    assert _described(idp, prefix) == {}
    assert _described(idp, custom)["CustomDomainConfig"] == {"CertificateArn": CERTIFICATE}
    assert replaced["BrandingId"] != before["BrandingId"]
    assert _branding(idp, pool_id, replaced["BrandingId"])["Settings"] == SETTINGS
    with pytest.raises(ClientError):
        _branding(idp, pool_id, before["BrandingId"])


def test_replacing_a_prefix_domain_by_another_fails_as_on_aws(cfn: Any, idp: Any) -> None:
    # CloudFormation creates the new domain while the pool still has the old one: AWS
    # refuses (aws-cdk#10062) and the stack rolls back.
    first = _prefix()
    name, _ = _create_stack(cfn, _template(first))
    second = _prefix()
    assert _update_stack(cfn, name, _template(second)) == "UPDATE_ROLLBACK_COMPLETE"
    reasons = [
        e.get("ResourceStatusReason", "")
        for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
        if e["LogicalResourceId"] == "Domain" and e["ResourceStatus"] == "UPDATE_FAILED"
    ]
    assert reasons == ["User pool already has a domain configured."]
    assert _outputs(cfn, name)["Domain"] == first
    assert _described(idp, first)["ManagedLoginVersion"] == 2
    assert _described(idp, second) == {}


def test_an_invalid_domain_rolls_the_stack_back(cfn: Any, idp: Any) -> None:
    name = f"domains-{_suffix()}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(_template("my-aws-login")))
    assert _stack(cfn, name)["StackStatus"] == "ROLLBACK_COMPLETE"
    failed = [
        e
        for e in cfn.describe_stack_events(StackName=name)["StackEvents"]
        if e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert [e["LogicalResourceId"] for e in failed] == ["Domain"]
    assert "reserved word aws" in failed[0]["ResourceStatusReason"]


def test_deleting_a_stack_deletes_its_domain_and_style(
    cfn: Any, idp: Any, endpoint: str
) -> None:
    domain = _prefix()
    name, out = _create_stack(cfn, _template(domain))
    # Whichever order moto visits them in, the pool goes once its domain has gone.
    cfn.delete_stack(StackName=name)
    assert _described(idp, domain) == {}
    with pytest.raises(ClientError) as gone:
        idp.describe_user_pool(UserPoolId=out["UserPoolId"])
    assert _error(gone)[0] == "ResourceNotFoundException"
    # moto's dashboard reads every model's attributes, deleted resources' too.
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
        assert response.status == 200


def test_deletion_policy_retain_keeps_domain_and_style(cfn: Any, idp: Any) -> None:
    domain = _prefix()
    name, out = _create_stack(cfn, _template(domain, policy="Retain"))
    cfn.delete_stack(StackName=name)
    assert _described(idp, domain)["UserPoolId"] == out["UserPoolId"]
    assert _branding(idp, out["UserPoolId"], out["BrandingId"])["UseCognitoProvidedValues"] is True
