"""Resource servers and identity providers of Cognito user pools, in moto, as AWS has them.

moto 5.2.5 has no CloudFormation type for either, so a stack holding one would silently
create nothing; its API also falls short of AWS's:

- Resource servers: ``UpdateResourceServer`` and ``DeleteResourceServer`` answer a 500,
  and ``CreateResourceServer`` checks nothing but a duplicate identifier. AWS checks
  ``Identifier`` (1 to 256 of ``[\\x21\\x23-\\x5B\\x5D-\\x7E]``), ``Name`` (1 to 256 of
  ``[\\w\\s+=,.@-]``), at most 100 ``Scopes``, each with a ``ScopeName`` (1 to 256 of
  ``[\\x21\\x23-\\x2E\\x30-\\x5B\\x5D-\\x7E]``: no space, ``"``, ``/`` or ``\\``) and a
  ``ScopeDescription`` (1 to 256), and refuses the rest with
  ``InvalidParameterException``. ``UpdateResourceServer`` sets what it is not given to its
  default (no scopes), as AWS warns; a missing server is ``ResourceNotFoundException``.
- Identity providers: moto creates whatever it is given and overwrites a provider of the
  same name. AWS answers ``DuplicateProviderException`` for a name the pool already has,
  and ``InvalidParameterException`` for a ``ProviderType`` outside SAML, Facebook, Google,
  LoginWithAmazon, SignInWithApple and OIDC, for a social provider not named after its
  type, for a ``ProviderName`` outside its pattern, and for ``ProviderDetails`` that lack a
  key the type needs (named in the message). ``DescribeIdentityProvider`` returns the
  details with their secrets (``client_secret``, ``private_key``), as AWS's does.
  ``GetIdentityProviderByIdentifier`` (a 500 in moto) finds a provider by one of its
  ``IdpIdentifiers``.

The CloudFormation types ``AWS::Cognito::UserPoolResourceServer`` (``Ref``: the
identifier) and ``AWS::Cognito::UserPoolIdentityProvider`` (``Ref``: the provider name)
go through these same backend calls, so a template meets the same checks, and follow
cognito_cfn.py's deletion, replacement and rollback rules.

Import this module before moto's server handles a request (server.py does): the patches
and the registration happen at import time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cognito_cfn import _MOTO_MODULE, _CognitoResource
from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException
from moto.cognitoidp.exceptions import InvalidParameterException, ResourceNotFoundError
from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpIdentityProvider,
    CognitoResourceServer,
)
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.common_models import CloudFormationModel
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow

# --- AWS's validation of request members, shared with cognito_oauth_clients.py ----------


@dataclass(frozen=True)
class Pattern:
    """A pattern of the Cognito API model: its text, as AWS quotes it, and its test."""

    text: str
    test: Callable[[str], bool]


def regex(text: str) -> Pattern:
    # The model's patterns are Java regexes, whose \w and \s are ASCII only.
    compiled = re.compile(text, re.ASCII)
    return Pattern(text, lambda value: compiled.fullmatch(value) is not None)


def unicode_classes(text: str, majors: str) -> Pattern:
    """``[\\p{L}\\p{M}...]+``: every character in one of these major Unicode categories."""
    return Pattern(
        text, lambda value: all(unicodedata.category(c)[0] in majors for c in value)
    )


def violation(path: str, value: Any, constraint: str) -> InvalidParameterException:
    """AWS's answer to a request member outside the model's constraints."""
    if value is None:
        shown = "null"
    elif isinstance(value, list):
        shown = "'[" + ", ".join(str(v) for v in value) + "]'"
    else:
        shown = f"'{value}'"
    return InvalidParameterException(
        f"1 validation error detected: Value {shown} at '{path}' failed to satisfy "
        f"constraint: {constraint}"
    )


def check_text(value: Any, path: str, maximum: int, pattern: Pattern | None = None) -> None:
    """A required string member of 1 to `maximum` characters (and the pattern)."""
    if value is None:
        raise violation(path, value, "Member must not be null")
    if not isinstance(value, str):
        raise InvalidParameterException(f"{path} must be a string.")
    if not value:
        raise violation(path, value, "Member must have length greater than or equal to 1")
    if len(value) > maximum:
        raise violation(
            path, value, f"Member must have length less than or equal to {maximum}"
        )
    if pattern is not None and not pattern.test(value):
        raise violation(
            path, value, f"Member must satisfy regular expression pattern: {pattern.text}"
        )


def check_count(items: list[Any], path: str, maximum: int) -> None:
    if len(items) > maximum:
        raise violation(path, items, f"Member must have length less than or equal to {maximum}")


def check_range(value: Any, path: str, minimum: int, maximum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidParameterException(f"{path} must be an integer.")
    if value < minimum:
        raise violation(path, value, f"Member must have value greater than or equal to {minimum}")
    if value > maximum:
        raise violation(path, value, f"Member must have value less than or equal to {maximum}")


# --- resource servers -----------------------------------------------------------------

MAX_SCOPES = 100
_IDENTIFIER = regex(r"[\x21\x23-\x5B\x5D-\x7E]+")
_SERVER_NAME = regex(r"[\w\s+=,.@-]+")
_SCOPE_NAME = regex(r"[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]+")


def _check_resource_server(identifier: Any, name: Any, scopes: Any) -> list[dict[str, str]]:
    """Checks a CreateResourceServer/UpdateResourceServer request; returns its scopes."""
    check_text(identifier, "identifier", 256, _IDENTIFIER)
    check_text(name, "name", 256, _SERVER_NAME)
    listed: list[dict[str, str]] = list(scopes or [])
    check_count(listed, "scopes", MAX_SCOPES)
    for index, scope in enumerate(listed, 1):
        check_text(scope.get("ScopeName"), f"scopes.{index}.member.scopeName", 256, _SCOPE_NAME)
        check_text(scope.get("ScopeDescription"), f"scopes.{index}.member.scopeDescription", 256)
    return listed


_create_resource_server = CognitoIdpBackend.create_resource_server


def _create_checked_resource_server(
    self: CognitoIdpBackend,
    user_pool_id: str,
    identifier: str,
    name: str,
    scopes: list[dict[str, str]],
) -> CognitoResourceServer:
    checked = _check_resource_server(identifier, name, scopes)
    return _create_resource_server(self, user_pool_id, identifier, name, checked)


def update_resource_server(
    self: CognitoIdpBackend,
    user_pool_id: str,
    identifier: str,
    name: str,
    scopes: list[dict[str, str]] | None,
) -> CognitoResourceServer:
    checked = _check_resource_server(identifier, name, scopes)
    server = self.describe_resource_server(user_pool_id, identifier)
    server.name = name
    # Scopes left out are none, not the old ones: AWS resets what it is not given.
    server.scopes = checked
    return server


def delete_resource_server(self: CognitoIdpBackend, user_pool_id: str, identifier: str) -> None:
    self.describe_resource_server(user_pool_id, identifier)
    del self.user_pools[user_pool_id].resource_servers[identifier]


def _update_resource_server_response(self: CognitoIdpResponse) -> ActionResult:
    server = self.backend.update_resource_server(  # type: ignore[attr-defined]
        self._get_param("UserPoolId"),
        self._get_param("Identifier"),
        self._get_param("Name"),
        self._get_param("Scopes"),
    )
    return ActionResult({"ResourceServer": server.to_json()})


def _delete_resource_server_response(self: CognitoIdpResponse) -> EmptyResult:
    self.backend.delete_resource_server(  # type: ignore[attr-defined]
        self._get_param("UserPoolId"), self._get_param("Identifier")
    )
    return EmptyResult()


# --- identity providers ---------------------------------------------------------------

PROVIDER_TYPES = ("SAML", "Facebook", "Google", "LoginWithAmazon", "SignInWithApple", "OIDC")
#: Social providers, which a pool can have once each, named after their type.
SOCIAL_TYPES = ("Facebook", "Google", "LoginWithAmazon", "SignInWithApple")

# The ProviderDetails keys each type needs (CreateIdentityProvider's documentation). OIDC's
# client_secret is optional: a public OIDC client has none.
_OAUTH_KEYS = ("client_id", "client_secret", "authorize_scopes")
_REQUIRED_DETAILS: dict[str, tuple[str, ...]] = {
    "Google": _OAUTH_KEYS,
    "Facebook": _OAUTH_KEYS,
    "LoginWithAmazon": _OAUTH_KEYS,
    "SignInWithApple": ("client_id", "team_id", "key_id", "private_key", "authorize_scopes"),
    "OIDC": ("client_id", "attributes_request_method", "oidc_issuer", "authorize_scopes"),
    "SAML": (),
}
_SAML_METADATA = ("MetadataURL", "MetadataFile")
_ATTRIBUTES_REQUEST_METHODS = ("GET", "POST")
#: What moto (and AWS, for most types) maps when a provider is given no AttributeMapping.
DEFAULT_ATTRIBUTE_MAPPING = {"username": "sub"}

_IDP_IDENTIFIER = regex(r"[\w\s+=.@-]+")
MAX_IDP_IDENTIFIERS = 50


def _free(char: str) -> bool:
    return char != "_" and unicodedata.category(char)[0] != "Z"


def _provider_name_matches(value: str) -> bool:
    # [^_\p{Z}][\p{L}\p{M}\p{S}\p{N}\p{P}][^_\p{Z}]+, with Python's Unicode tables for
    # Java's: at least three characters, none of them an underscore or a separator.
    return (
        len(value) >= 3
        and _free(value[0])
        and unicodedata.category(value[1])[0] in "LMSNP"
        and all(_free(c) for c in value[2:])
    )


_PROVIDER_NAME = Pattern(
    r"[^_\p{Z}][\p{L}\p{M}\p{S}\p{N}\p{P}][^_\p{Z}]+", _provider_name_matches
)


class DuplicateProviderException(JsonRESTError):
    """moto's cognitoidp has no DuplicateProviderException of its own."""

    def __init__(self, message: str) -> None:
        super().__init__("DuplicateProviderException", message)


def _check_identifiers(identifiers: Any) -> None:
    listed = list(identifiers or [])
    check_count(listed, "idpIdentifiers", MAX_IDP_IDENTIFIERS)
    for index, identifier in enumerate(listed, 1):
        check_text(identifier, f"idpIdentifiers.{index}.member", 40, _IDP_IDENTIFIER)


def _check_details(provider_type: str, details: Any) -> None:
    # Messages name keys, never values: the details hold client secrets and private keys.
    given = details or {}
    for key in _REQUIRED_DETAILS[provider_type]:
        if not given.get(key):
            raise InvalidParameterException(
                f"ProviderDetails of a {provider_type} identity provider require {key}."
            )
    method = given.get("attributes_request_method")
    if provider_type == "OIDC" and method not in _ATTRIBUTES_REQUEST_METHODS:
        raise InvalidParameterException(
            f"attributes_request_method must be GET or POST, not {method}."
        )
    if provider_type == "SAML" and sum(1 for key in _SAML_METADATA if given.get(key)) != 1:
        raise InvalidParameterException(
            "ProviderDetails of a SAML identity provider require exactly one of "
            "MetadataURL and MetadataFile."
        )


_create_identity_provider = CognitoIdpBackend.create_identity_provider
_update_identity_provider = CognitoIdpBackend.update_identity_provider


def _create_checked_identity_provider(
    self: CognitoIdpBackend, user_pool_id: str, name: str, extended_config: dict[str, Any]
) -> CognitoIdpIdentityProvider:
    provider_type = extended_config.get("ProviderType")
    check_text(name, "providerName", 32, _PROVIDER_NAME)
    if provider_type not in PROVIDER_TYPES:
        raise violation(
            "providerType",
            provider_type,
            "Member must satisfy enum value set: [" + ", ".join(PROVIDER_TYPES) + "]",
        )
    _check_identifiers(extended_config.get("IdpIdentifiers"))
    if provider_type in SOCIAL_TYPES and name != provider_type:
        raise InvalidParameterException(
            f"A {provider_type} identity provider must be named {provider_type}, not {name}."
        )
    _check_details(provider_type, extended_config.get("ProviderDetails"))
    if name in self.describe_user_pool(user_pool_id).identity_providers:
        # moto would replace it.
        raise DuplicateProviderException(
            f"A provider with the name {name} already exists in this user pool."
        )
    return _create_identity_provider(self, user_pool_id, name, extended_config)


def _update_checked_identity_provider(
    self: CognitoIdpBackend, user_pool_id: str, name: str, extended_config: dict[str, Any]
) -> CognitoIdpIdentityProvider:
    provider = self.describe_identity_provider(user_pool_id, name)
    if "IdpIdentifiers" in extended_config:
        _check_identifiers(extended_config["IdpIdentifiers"])
    if "ProviderDetails" in extended_config:
        _check_details(provider.extended_config["ProviderType"], extended_config["ProviderDetails"])
    updated = _update_identity_provider(self, user_pool_id, name, extended_config)
    updated.last_modified_date = utcnow()
    return updated


def get_identity_provider_by_identifier(
    self: CognitoIdpBackend, user_pool_id: str, identifier: str
) -> CognitoIdpIdentityProvider:
    for provider in self.describe_user_pool(user_pool_id).identity_providers.values():
        if identifier in (provider.extended_config.get("IdpIdentifiers") or []):
            return provider
    raise ResourceNotFoundError(f"Identity provider with identifier {identifier} does not exist.")


def _get_identity_provider_by_identifier_response(self: CognitoIdpResponse) -> ActionResult:
    provider = self.backend.get_identity_provider_by_identifier(  # type: ignore[attr-defined]
        self._get_param("UserPoolId"), self._get_param("IdpIdentifier")
    )
    return ActionResult({"IdentityProvider": provider.to_json(extended=True)})


# --- CloudFormation types ---------------------------------------------------------------


class PropertiesValidationFailed(Exception):
    """A template property CloudFormation itself refuses, before calling the service."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _require(props: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if props.get(key) in (None, ""):
            raise PropertiesValidationFailed(f"#: required key [{key}] not found")


class CognitoUserPoolResourceServerResource(_CognitoResource, CloudFormationModel):
    """AWS::Cognito::UserPoolResourceServer. Ref is the identifier."""

    __module__ = _MOTO_MODULE
    CFN_TYPE = "AWS::Cognito::UserPoolResourceServer"
    NAME_PROPERTY = "Identifier"
    REPLACE_ON = ("UserPoolId", "Identifier")
    ATTRIBUTES = ()  # AWS documents no Fn::GetAtt attributes

    def get_cfn_attribute(self, attribute_name: str) -> str:
        raise UnformattedGetAttTemplateException()

    @classmethod
    def _create(
        cls, backend: CognitoIdpBackend, resource_name: str, props: dict[str, Any]
    ) -> tuple[str, str]:
        _require(props, "UserPoolId", "Identifier", "Name")
        server = backend.create_resource_server(
            props["UserPoolId"], props["Identifier"], props["Name"], props.get("Scopes") or []
        )
        return server.user_pool_id, server.identifier

    def _update_in_place(self, backend: CognitoIdpBackend, props: dict[str, Any]) -> None:
        backend.update_resource_server(  # type: ignore[attr-defined]
            self.pool_id, self.resource_id, props.get("Name"), props.get("Scopes")
        )

    @staticmethod
    def _delete_by_id(backend: CognitoIdpBackend, pool_id: str, resource_id: str) -> None:
        # Identifiers repeat across pools: without a literal pool id, nothing finds it.
        if pool_id:
            backend.delete_resource_server(pool_id, resource_id)  # type: ignore[attr-defined]


class CognitoUserPoolIdentityProviderResource(_CognitoResource, CloudFormationModel):
    """AWS::Cognito::UserPoolIdentityProvider. Ref is the provider name.

    A change of ProviderType alone replaces the provider under the same name, which the
    pool still holds while the new one is created: the update fails (and rolls back)
    with DuplicateProviderException, where CloudFormation refuses to replace a
    custom-named resource. Rename it to change its type.
    """

    __module__ = _MOTO_MODULE
    CFN_TYPE = "AWS::Cognito::UserPoolIdentityProvider"
    NAME_PROPERTY = "ProviderName"
    REPLACE_ON = ("UserPoolId", "ProviderName", "ProviderType")
    ATTRIBUTES = ()  # AWS documents no Fn::GetAtt attributes

    def get_cfn_attribute(self, attribute_name: str) -> str:
        raise UnformattedGetAttTemplateException()

    @staticmethod
    def _settings(props: dict[str, Any]) -> dict[str, Any]:
        """What an update may change; a setting the template leaves out is its default."""
        return {
            "ProviderDetails": props.get("ProviderDetails") or {},
            "AttributeMapping": props.get("AttributeMapping") or dict(DEFAULT_ATTRIBUTE_MAPPING),
            "IdpIdentifiers": props.get("IdpIdentifiers") or [],
        }

    @classmethod
    def _create(
        cls, backend: CognitoIdpBackend, resource_name: str, props: dict[str, Any]
    ) -> tuple[str, str]:
        _require(props, "UserPoolId", "ProviderName", "ProviderType")
        pool_id, name = props["UserPoolId"], props["ProviderName"]
        backend.create_identity_provider(
            pool_id,
            name,
            {"UserPoolId": pool_id, "ProviderType": props["ProviderType"], **cls._settings(props)},
        )
        return pool_id, name

    def _update_in_place(self, backend: CognitoIdpBackend, props: dict[str, Any]) -> None:
        backend.update_identity_provider(self.pool_id, self.resource_id, self._settings(props))

    @staticmethod
    def _delete_by_id(backend: CognitoIdpBackend, pool_id: str, resource_id: str) -> None:
        # Provider names repeat across pools: without a literal pool id, nothing finds it.
        if pool_id:
            backend.delete_identity_provider(pool_id, resource_id)


MODELS: tuple[type[CloudFormationModel], ...] = (
    CognitoUserPoolResourceServerResource,
    CognitoUserPoolIdentityProviderResource,
)


def _register() -> None:
    """Make moto's CloudFormation parser see MODELS, as cognito_cfn._register does for its
    own (see there why defining the classes registers them, and why the caches go)."""
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
    backend.create_resource_server = _create_checked_resource_server
    backend.create_identity_provider = _create_checked_identity_provider
    backend.update_identity_provider = _update_checked_identity_provider
    # moto's CognitoIdpResponse dispatches an action to the method named after it in
    # snake_case, so defining the methods adds the actions (botocore's model knows them).
    backend.update_resource_server = update_resource_server
    backend.delete_resource_server = delete_resource_server
    backend.get_identity_provider_by_identifier = get_identity_provider_by_identifier
    response: Any = CognitoIdpResponse
    response.update_resource_server = _update_resource_server_response
    response.delete_resource_server = _delete_resource_server_response
    response.get_identity_provider_by_identifier = _get_identity_provider_by_identifier_response


_patch()
_register()
