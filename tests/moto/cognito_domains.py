"""User pool domains and managed login branding for moto, as Cognito has them.

moto 5.2.5 keeps a user pool domain but little of its rules: any string is a domain, one
name can be moved to another pool by creating it again, a pool can hold any number of
domains, ``ManagedLoginVersion`` is dropped, ``DescribeUserPool`` names one domain as
``Domain`` even when it is a custom one, and a pool with a domain deletes as if it had
none. It has no managed login branding actions, and its CloudFormation knows neither
``AWS::Cognito::UserPoolDomain`` nor ``AWS::Cognito::ManagedLoginBranding``. This module
adds, in the API (so that the CloudFormation types below get the same checks):

- ``CreateUserPoolDomain``: a prefix domain (no dot) must match
  ``^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$`` and contain none of the reserved words
  ``aws``, ``amazon``, ``cognito``; a custom domain (with dots) needs
  ``CustomDomainConfig.CertificateArn``, the ARN of an ACM certificate in us-east-1; a
  name another pool uses is refused ("Domain already associated with another user
  pool."); a pool has at most one prefix and one custom domain; ``ManagedLoginVersion``
  is 1 (the default, hosted UI classic) or 2 (managed login), and 2 is refused on a
  ``LITE`` pool (``FeatureUnavailableInTierException``). All else is
  ``InvalidParameterException``.
- ``UpdateUserPoolDomain`` changes ``ManagedLoginVersion`` and a custom domain's
  certificate, under the same rules; as on AWS, a request for a custom domain must repeat
  its ``CustomDomainConfig`` ("Cannot convert custom domain to prefix domain.").
  ``DescribeUserPoolDomain`` shows both, and the account id (moto: a random uuid).
- ``UpdateUserPoolDomain`` and ``DeleteUserPoolDomain`` act only on a domain of the
  ``UserPoolId`` they are given (moto ignores it): another pool's is
  ``ResourceNotFoundException``.
- ``CloudFrontDomain`` (Create/Update answers) only for a custom domain, as AWS
  documents; ``CloudFrontDistribution`` (Describe, ``Fn::GetAtt``): a name per custom
  domain, and for prefix domains one per region (AWS serves them from a shared regional
  distribution).
- ``DescribeUserPool``: ``Domain`` is the prefix domain, ``CustomDomain`` the custom one.
- ``DeleteUserPool`` refuses a pool that still has a domain, as AWS does (a stack's
  deletion still works: moto retries what failed once the domain is gone).
- The five managed login branding actions (Create, Describe, DescribeByClient, Update,
  Delete), one style per app client (``ManagedLoginBrandingExistsException``),
  ``UseCognitoProvidedValues`` exclusive with ``Settings`` and ``Assets``.

And two CloudFormation types on these, with cognito_cfn.py's DeletionPolicy and
UpdateReplacePolicy handling: ``AWS::Cognito::UserPoolDomain`` (Ref: the domain name;
``Fn::GetAtt CloudFrontDistribution``; a changed ``UserPoolId`` or ``Domain`` replaces it,
the rest updates in place) and ``AWS::Cognito::ManagedLoginBranding`` (Ref and
``Fn::GetAtt ManagedLoginBrandingId``: the style's id; a changed ``UserPoolId`` or
``ClientId`` replaces it; an update in place sets the template's style). A replacement
makes the new resource first, so replacing a prefix domain by another in the same pool
fails, as it does on AWS. ``ReturnMergedResources`` is accepted and ignored: the
emulator has no Cognito defaults to merge in.

Domain names are unique in the whole emulator, not per region: the emulator's OAuth
endpoints (cognito_oauth.py) find a pool by its domain alone.

Import this module before moto's server handles a request (server.py does); the patches
and the CloudFormation registration happen at import time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.session
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cognitoidp.exceptions import InvalidParameterException, ResourceNotFoundError
from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpUserPool,
    CognitoIdpUserPoolDomain,
    cognitoidp_backends,
)
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow

from cognito_cfn import _MOTO_MODULE, _as_bool, _CognitoResource

# --- domains -----------------------------------------------------------------

_PREFIX_PATTERN = r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$"
_PREFIX = re.compile(_PREFIX_PATTERN)
# The CloudFormation schema's pattern for a domain given with CustomDomainConfig.
_CUSTOM = re.compile(r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)+")
_DOMAIN_MAX = 63
_RESERVED = ("aws", "amazon", "cognito")
_CERTIFICATE = re.compile(r"arn:aws:acm:us-east-1:\d{12}:certificate/[0-9A-Za-z-]+")
_MANAGED_LOGIN_VERSIONS = (1, 2)


class FeatureUnavailableInTierException(JsonRESTError):
    """moto's cognitoidp has no such exception."""

    def __init__(self, message: str) -> None:
        super().__init__("FeatureUnavailableInTierException", message)


class ManagedLoginBrandingExistsException(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("ManagedLoginBrandingExistsException", message)


def is_custom(domain: str) -> bool:
    """A custom domain is a fully-qualified name; a prefix domain has no dot."""
    return "." in domain


def backends() -> Iterator[CognitoIdpBackend]:
    """Every cognito-idp backend made so far (indexing would make one per region)."""
    for account in cognitoidp_backends.values():
        yield from account.values()


def find_domain(name: str) -> tuple[CognitoIdpBackend, CognitoIdpUserPoolDomain] | None:
    for backend in backends():
        found = backend.user_pool_domains.get(name)
        if found is not None:
            return backend, found
    return None


def pool_domains(backend: CognitoIdpBackend, pool_id: str) -> list[CognitoIdpUserPoolDomain]:
    return [d for d in backend.user_pool_domains.values() if d.user_pool_id == pool_id]


def _version_of(domain: CognitoIdpUserPoolDomain) -> int:
    # Private: /moto-api/data.json lists public attributes of every model.
    return int(getattr(domain, "_managed_login_version", 1))


def _distribution(backend: CognitoIdpBackend, domain: CognitoIdpUserPoolDomain) -> str:
    """A CloudFront-like name: one per custom domain, one per region for prefix domains."""
    seed = domain.domain if is_custom(domain.domain) else f"prefix-domains.{backend.region_name}"
    return f"d{hashlib.sha256(seed.encode()).hexdigest()[:13]}.cloudfront.net"


def _check_version(pool: CognitoIdpUserPool, version: Any) -> int | None:
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int) or (
        version not in _MANAGED_LOGIN_VERSIONS
    ):
        raise InvalidParameterException(
            f"ManagedLoginVersion must be 1 (hosted UI classic) or 2 (managed login), "
            f"not {version!r}."
        )
    if version == 2 and pool.extended_config.get("UserPoolTier") == "LITE":
        raise FeatureUnavailableInTierException(
            "Managed login (ManagedLoginVersion 2) requires a feature plan other than Lite."
        )
    return version


def _check_certificate(config: Any) -> None:
    arn = config.get("CertificateArn") if isinstance(config, dict) else None
    if not isinstance(arn, str) or not _CERTIFICATE.fullmatch(arn):
        raise InvalidParameterException(
            "The specified SSL certificate doesn't exist, isn't in us-east-1 region, "
            "isn't valid, or doesn't include a valid certificate chain."
        )


def _check_name(domain: Any, custom_domain_config: Any) -> None:
    if not isinstance(domain, str) or not 0 < len(domain) <= _DOMAIN_MAX:
        raise InvalidParameterException(
            f"Domain must be a string of 1 to {_DOMAIN_MAX} characters."
        )
    if is_custom(domain):
        if not _CUSTOM.fullmatch(domain):
            raise InvalidParameterException(
                f"{domain} is not a valid domain name: lowercase letters, digits and "
                "hyphens, in labels separated by periods."
            )
        if custom_domain_config is None:
            raise InvalidParameterException(
                "A custom domain requires CustomDomainConfig with the CertificateArn of "
                "an ACM certificate in us-east-1."
            )
        _check_certificate(custom_domain_config)
        return
    if not _PREFIX.fullmatch(domain):
        raise InvalidParameterException(
            f"1 validation error detected: Value '{domain}' at 'domain' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: {_PREFIX_PATTERN}"
        )
    reserved = next((word for word in _RESERVED if word in domain), None)
    if reserved:
        raise InvalidParameterException(
            f"Domain prefix {domain} contains the reserved word {reserved}: a prefix "
            f"can't contain {', '.join(_RESERVED)}."
        )
    if custom_domain_config is not None:
        raise InvalidParameterException(
            "CustomDomainConfig is for a custom domain (a fully-qualified domain name), "
            f"not for the prefix domain {domain}."
        )


_create_domain = CognitoIdpBackend.create_user_pool_domain


def create_user_pool_domain(
    self: CognitoIdpBackend,
    user_pool_id: str,
    domain: str,
    custom_domain_config: dict[str, str] | None = None,
    managed_login_version: int | None = None,
) -> CognitoIdpUserPoolDomain:
    # The request's own validity first, then what it meets, as AWS orders its errors.
    _check_name(domain, custom_domain_config)
    pool = self.describe_user_pool(user_pool_id)
    version = _check_version(pool, managed_login_version)
    taken = find_domain(domain)
    if taken is not None and taken[1].user_pool_id != user_pool_id:
        raise InvalidParameterException("Domain already associated with another user pool.")
    if any(is_custom(d.domain) == is_custom(domain) for d in pool_domains(self, user_pool_id)):
        # Also what a CloudFormation replacement of a prefix domain meets on AWS: the new
        # domain is created while the old one still exists.
        raise InvalidParameterException("User pool already has a domain configured.")
    created = _create_domain(self, user_pool_id, domain, custom_domain_config)
    created._managed_login_version = version or 1  # type: ignore[attr-defined]
    return created


def _own_domain(
    backend: CognitoIdpBackend, domain: str, user_pool_id: str | None
) -> CognitoIdpUserPoolDomain:
    found = backend.user_pool_domains.get(domain)
    # Another pool's domain is not this pool's to change: as unknown as a missing one.
    if found is None or (user_pool_id and found.user_pool_id != user_pool_id):
        raise ResourceNotFoundError(f"No such domain or user pool exists: {domain}.")
    return found


def update_user_pool_domain(
    self: CognitoIdpBackend,
    domain: str,
    custom_domain_config: dict[str, str] | None,
    user_pool_id: str | None = None,
    managed_login_version: int | None = None,
) -> CognitoIdpUserPoolDomain:
    found = _own_domain(self, domain, user_pool_id)
    version = _check_version(self.describe_user_pool(found.user_pool_id), managed_login_version)
    # AWS reads a request without CustomDomainConfig as one for a prefix domain, even when
    # it only changes the version of a custom one.
    if is_custom(domain) and custom_domain_config is None:
        raise InvalidParameterException("Cannot convert custom domain to prefix domain.")
    if not is_custom(domain) and custom_domain_config is not None:
        raise InvalidParameterException("Cannot convert prefix domain to custom domain.")
    if custom_domain_config is not None:
        _check_certificate(custom_domain_config)
        found.custom_domain_config = custom_domain_config
    if version is not None:
        found._managed_login_version = version  # type: ignore[attr-defined]
    return found


def delete_user_pool_domain(
    self: CognitoIdpBackend, domain: str, user_pool_id: str | None = None
) -> None:
    _own_domain(self, domain, user_pool_id)
    del self.user_pool_domains[domain]


_delete_pool = CognitoIdpBackend.delete_user_pool


def delete_user_pool(self: CognitoIdpBackend, user_pool_id: str) -> None:
    self.describe_user_pool(user_pool_id)
    if pool_domains(self, user_pool_id):
        raise InvalidParameterException(
            "User pool cannot be deleted. It has a domain configured that should be deleted first."
        )
    _delete_pool(self, user_pool_id)


def _domain_answer(backend: CognitoIdpBackend, domain: CognitoIdpUserPoolDomain) -> dict[str, Any]:
    """CreateUserPoolDomain's and UpdateUserPoolDomain's answer."""
    answer: dict[str, Any] = {"ManagedLoginVersion": _version_of(domain)}
    if is_custom(domain.domain):
        # AWS documents no CloudFrontDomain (null) for a prefix domain.
        answer["CloudFrontDomain"] = _distribution(backend, domain)
    return answer


def _create_domain_response(self: CognitoIdpResponse) -> ActionResult:
    created = self.backend.create_user_pool_domain(
        self._get_param("UserPoolId"),
        self._get_param("Domain"),
        self._get_param("CustomDomainConfig"),
        self._get_param("ManagedLoginVersion"),
    )
    return ActionResult(_domain_answer(self.backend, created))


def _update_domain_response(self: CognitoIdpResponse) -> ActionResult:
    updated = self.backend.update_user_pool_domain(
        self._get_param("Domain"),
        self._get_param("CustomDomainConfig"),
        self._get_param("UserPoolId"),
        self._get_param("ManagedLoginVersion"),
    )
    return ActionResult(_domain_answer(self.backend, updated))


def _delete_domain_response(self: CognitoIdpResponse) -> EmptyResult:
    self.backend.delete_user_pool_domain(
        self._get_param("Domain"), self._get_param("UserPoolId")
    )
    return EmptyResult()


def _describe_domain_response(self: CognitoIdpResponse) -> ActionResult:
    found = self.backend.user_pool_domains.get(self._get_param("Domain"))
    if found is None:
        # AWS answers an unknown domain with an empty description, not an error.
        return ActionResult({"DomainDescription": {}})
    return ActionResult(
        {
            "DomainDescription": {
                "UserPoolId": found.user_pool_id,
                "AWSAccountId": self.backend.account_id,
                "Domain": found.domain,
                "CloudFrontDistribution": _distribution(self.backend, found),
                "Status": "ACTIVE",
                "CustomDomainConfig": found.custom_domain_config or {},
                "ManagedLoginVersion": _version_of(found),
            }
        }
    )


_pool_json = CognitoIdpUserPool.to_json


def _pool_json_with_domains(self: CognitoIdpUserPool, extended: bool = False) -> dict[str, Any]:
    described = _pool_json(self, extended)
    # moto names whichever domain it finds first as Domain; AWS separates the two kinds.
    described.pop("Domain", None)
    for domain in pool_domains(self.backend, self.id):
        described["CustomDomain" if is_custom(domain.domain) else "Domain"] = domain.domain
    return described


# --- managed login branding ----------------------------------------------------

_ASSET_SHAPE = (
    botocore.session.get_session()
    .get_service_model("cognito-idp")
    .shape_for("AssetType")
)
# The asset enums, from the API model rather than copied (they grow).
_ASSET_ENUMS = {
    name: tuple(_ASSET_SHAPE.members[name].enum) for name in ("Category", "ColorMode", "Extension")
}
_ASSETS_MAX = 40


@dataclass
class ManagedLoginBranding:
    """A branding style: kept on its pool, so it goes with the pool."""

    branding_id: str
    user_pool_id: str
    client_id: str
    use_cognito_provided_values: bool
    settings: dict[str, Any] | None
    assets: list[dict[str, Any]]
    created: datetime
    modified: datetime

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "ManagedLoginBrandingId": self.branding_id,
            "UserPoolId": self.user_pool_id,
            "UseCognitoProvidedValues": self.use_cognito_provided_values,
            "Assets": self.assets,
            "CreationDate": self.created,
            "LastModifiedDate": self.modified,
        }
        if self.settings is not None:
            described["Settings"] = self.settings
        return described

    def restyle(
        self, use: bool, settings: dict[str, Any] | None, assets: list[dict[str, Any]]
    ) -> None:
        self.use_cognito_provided_values = use
        self.settings = settings
        self.assets = assets
        self.modified = utcnow()


def _brandings(pool: CognitoIdpUserPool) -> dict[str, ManagedLoginBranding]:
    """The pool's branding styles by id (private: see _version_of)."""
    kept: dict[str, ManagedLoginBranding] | None = getattr(pool, "_managed_login_brandings", None)
    if kept is None:
        kept = {}
        pool._managed_login_brandings = kept  # type: ignore[attr-defined]
    return kept


def _asset(given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise InvalidParameterException("Each asset must be an object.")
    asset = dict(given)
    for name, allowed in _ASSET_ENUMS.items():
        if asset.get(name) not in allowed:
            raise InvalidParameterException(
                f"Asset {name} must be one of {', '.join(allowed)}, not {asset.get(name)!r}."
            )
    if "Bytes" in asset:
        # Kept as the bytes they stand for: the answer's serializer base64-encodes blobs.
        try:
            asset["Bytes"] = base64.b64decode(asset["Bytes"], validate=True)
        except (binascii.Error, TypeError, ValueError) as error:
            raise InvalidParameterException("Asset Bytes must be base64.") from error
    return asset


def _style(
    use_cognito_provided_values: Any, settings: Any, assets: Any
) -> tuple[bool, dict[str, Any] | None, list[dict[str, Any]] | None]:
    """A request's style values, checked (settings and assets None when not given)."""
    use = use_cognito_provided_values is not None and _as_bool(use_cognito_provided_values)
    if use and (settings is not None or assets):
        raise InvalidParameterException(
            "When UseCognitoProvidedValues is true, omit Settings and Assets."
        )
    if settings is not None and not isinstance(settings, dict):
        raise InvalidParameterException("Settings must be a JSON object.")
    if assets is not None:
        if not isinstance(assets, list) or len(assets) > _ASSETS_MAX:
            raise InvalidParameterException(f"Assets must be a list of at most {_ASSETS_MAX}.")
        assets = [_asset(a) for a in assets]
    return use, settings, assets


def _pool_with_client(
    backend: CognitoIdpBackend, user_pool_id: str, client_id: str
) -> CognitoIdpUserPool:
    pool = backend.describe_user_pool(user_pool_id)
    if client_id not in pool.clients:
        raise ResourceNotFoundError(
            f"Client {client_id} does not exist in user pool {user_pool_id}."
        )
    return pool


def _create_branding(
    backend: CognitoIdpBackend,
    user_pool_id: str,
    client_id: str,
    use_cognito_provided_values: Any,
    settings: Any,
    assets: Any,
) -> ManagedLoginBranding:
    use, settings, assets = _style(use_cognito_provided_values, settings, assets)
    kept = _brandings(_pool_with_client(backend, user_pool_id, client_id))
    if any(b.client_id == client_id for b in kept.values()):
        raise ManagedLoginBrandingExistsException(
            f"App client {client_id} already has a managed login branding style."
        )
    now = utcnow()
    created = ManagedLoginBranding(
        str(uuid.uuid4()), user_pool_id, client_id, use, settings, assets or [], now, now
    )
    kept[created.branding_id] = created
    return created


def _branding(
    backend: CognitoIdpBackend, user_pool_id: str, branding_id: str
) -> ManagedLoginBranding:
    found = _brandings(backend.describe_user_pool(user_pool_id)).get(branding_id)
    if found is None:
        raise ResourceNotFoundError(f"Managed login branding {branding_id} does not exist.")
    return found


def _branding_of_client(
    backend: CognitoIdpBackend, user_pool_id: str, client_id: str
) -> ManagedLoginBranding:
    kept = _brandings(_pool_with_client(backend, user_pool_id, client_id))
    found = next((b for b in kept.values() if b.client_id == client_id), None)
    if found is None:
        raise ResourceNotFoundError(
            f"App client {client_id} has no managed login branding style."
        )
    return found


def _update_branding(
    backend: CognitoIdpBackend,
    user_pool_id: str,
    branding_id: str,
    use_cognito_provided_values: Any,
    settings: Any,
    assets: Any,
) -> ManagedLoginBranding:
    # Both optional in the API model, but nothing names a style without them.
    if not user_pool_id or not branding_id:
        raise InvalidParameterException("UserPoolId and ManagedLoginBrandingId are required.")
    found = _branding(backend, user_pool_id, branding_id)
    use, settings, assets = _style(use_cognito_provided_values, settings, assets)
    if use:
        # Back to Cognito's values: nothing of the old style remains.
        found.restyle(True, None, [])
    else:
        # AWS keeps what a request does not give.
        found.restyle(
            False,
            found.settings if settings is None else settings,
            found.assets if assets is None else assets,
        )
    return found


def _delete_branding(backend: CognitoIdpBackend, user_pool_id: str, branding_id: str) -> None:
    _branding(backend, user_pool_id, branding_id)
    del _brandings(backend.describe_user_pool(user_pool_id))[branding_id]


def _branding_answer(found: ManagedLoginBranding) -> ActionResult:
    # ReturnMergedResources is accepted and ignored: the emulator has no Cognito defaults
    # to merge in, so every answer holds only what was set.
    return ActionResult({"ManagedLoginBranding": found.describe()})


def _create_branding_response(self: CognitoIdpResponse) -> ActionResult:
    return _branding_answer(
        _create_branding(
            self.backend,
            self._get_param("UserPoolId"),
            self._get_param("ClientId"),
            self._get_param("UseCognitoProvidedValues"),
            self._get_param("Settings"),
            self._get_param("Assets"),
        )
    )


def _describe_branding_response(self: CognitoIdpResponse) -> ActionResult:
    return _branding_answer(
        _branding(
            self.backend, self._get_param("UserPoolId"), self._get_param("ManagedLoginBrandingId")
        )
    )


def _describe_branding_by_client_response(self: CognitoIdpResponse) -> ActionResult:
    return _branding_answer(
        _branding_of_client(
            self.backend, self._get_param("UserPoolId"), self._get_param("ClientId")
        )
    )


def _update_branding_response(self: CognitoIdpResponse) -> ActionResult:
    return _branding_answer(
        _update_branding(
            self.backend,
            self._get_param("UserPoolId"),
            self._get_param("ManagedLoginBrandingId"),
            self._get_param("UseCognitoProvidedValues"),
            self._get_param("Settings"),
            self._get_param("Assets"),
        )
    )


def _delete_branding_response(self: CognitoIdpResponse) -> EmptyResult:
    _delete_branding(
        self.backend, self._get_param("UserPoolId"), self._get_param("ManagedLoginBrandingId")
    )
    return EmptyResult()


# --- CloudFormation ----------------------------------------------------------------


def _version_property(props: dict[str, Any]) -> int | None:
    # Templates may carry numbers as strings ("2").
    value = props.get("ManagedLoginVersion")
    return None if value is None else int(value)


class CognitoUserPoolDomainResource(_CognitoResource, CloudFormationModel):
    """AWS::Cognito::UserPoolDomain. Ref is the domain name."""

    __module__ = _MOTO_MODULE
    CFN_TYPE = "AWS::Cognito::UserPoolDomain"
    NAME_PROPERTY = "Domain"
    REPLACE_ON = ("UserPoolId", "Domain")
    ATTRIBUTES = ("CloudFrontDistribution",)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "CloudFrontDistribution":
            backend = self._backend()
            return _distribution(backend, _own_domain(backend, self.resource_id, self.pool_id))
        raise UnformattedGetAttTemplateException()

    @classmethod
    def _create(
        cls, backend: CognitoIdpBackend, resource_name: str, props: dict[str, Any]
    ) -> tuple[str, str]:
        created = backend.create_user_pool_domain(
            props["UserPoolId"],
            resource_name,
            props.get("CustomDomainConfig"),
            _version_property(props),
        )
        return created.user_pool_id, created.domain

    def _update_in_place(self, backend: CognitoIdpBackend, props: dict[str, Any]) -> None:
        # The template's state: a version no longer given goes back to the default.
        backend.update_user_pool_domain(
            self.resource_id,
            props.get("CustomDomainConfig"),
            self.pool_id,
            _version_property(props) or 1,
        )

    @staticmethod
    def _delete_by_id(backend: CognitoIdpBackend, pool_id: str, resource_id: str) -> None:
        backend.delete_user_pool_domain(resource_id, pool_id or None)


class CognitoManagedLoginBrandingResource(_CognitoResource, CloudFormationModel):
    """AWS::Cognito::ManagedLoginBranding. Ref is the ManagedLoginBrandingId."""

    __module__ = _MOTO_MODULE
    CFN_TYPE = "AWS::Cognito::ManagedLoginBranding"
    NAME_PROPERTY = ""  # nothing names a branding style: its id is generated
    REPLACE_ON = ("UserPoolId", "ClientId")
    ATTRIBUTES = ("ManagedLoginBrandingId",)

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "ManagedLoginBrandingId":
            return self.resource_id
        raise UnformattedGetAttTemplateException()

    @classmethod
    def _create(
        cls, backend: CognitoIdpBackend, resource_name: str, props: dict[str, Any]
    ) -> tuple[str, str]:
        if not props.get("ClientId"):
            # Optional in the resource schema, but CreateManagedLoginBranding requires it.
            raise InvalidParameterException("ClientId is required: a style is for an app client.")
        created = _create_branding(
            backend,
            props["UserPoolId"],
            props["ClientId"],
            props.get("UseCognitoProvidedValues"),
            props.get("Settings"),
            props.get("Assets"),
        )
        return created.user_pool_id, created.branding_id

    def _update_in_place(self, backend: CognitoIdpBackend, props: dict[str, Any]) -> None:
        found = _branding(backend, self.pool_id, self.resource_id)
        # The template's state, not UpdateManagedLoginBranding's merge: a property
        # dropped from the template is dropped from the style.
        use, settings, assets = _style(
            props.get("UseCognitoProvidedValues"), props.get("Settings"), props.get("Assets")
        )
        found.restyle(use, settings, assets or [])

    @staticmethod
    def _delete_by_id(backend: CognitoIdpBackend, pool_id: str, resource_id: str) -> None:
        if pool_id:
            _delete_branding(backend, pool_id, resource_id)
            return
        # Without the pool id (the fallback path with a Ref), find it by its unique id.
        for pool in backend.user_pools.values():
            _brandings(pool).pop(resource_id, None)


MODELS: tuple[type[CloudFormationModel], ...] = (
    CognitoUserPoolDomainResource,
    CognitoManagedLoginBrandingResource,
)


def _register() -> None:
    """Make moto's CloudFormation parser see MODELS: see cognito_cfn._register, whose
    conditions (direct CloudFormationModel subclasses, cleared caches) hold here too."""
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    model_map = parsing.get_model_map()
    for model in MODELS:
        if model_map.get(model.cloudformation_type()) is not model:
            raise RuntimeError(
                f"moto did not pick up {model.cloudformation_type()}: "
                "its CloudFormation model registration has changed"
            )


def _patch() -> None:
    backend: Any = CognitoIdpBackend  # Any: mypy forbids assigning to methods
    backend.create_user_pool_domain = create_user_pool_domain
    backend.update_user_pool_domain = update_user_pool_domain
    backend.delete_user_pool_domain = delete_user_pool_domain
    backend.delete_user_pool = delete_user_pool
    pool: Any = CognitoIdpUserPool
    pool.to_json = _pool_json_with_domains
    # moto's CognitoIdpResponse dispatches an action to the method named after it in
    # snake_case: these replace moto's domain answers and add the branding actions.
    response: Any = CognitoIdpResponse
    response.create_user_pool_domain = _create_domain_response
    response.update_user_pool_domain = _update_domain_response
    response.delete_user_pool_domain = _delete_domain_response
    response.describe_user_pool_domain = _describe_domain_response
    response.create_managed_login_branding = _create_branding_response
    response.describe_managed_login_branding = _describe_branding_response
    response.describe_managed_login_branding_by_client = _describe_branding_by_client_response
    response.update_managed_login_branding = _update_branding_response
    response.delete_managed_login_branding = _delete_branding_response


_patch()
_register()
