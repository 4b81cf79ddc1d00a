"""CloudFormation support for Cognito user pools in moto.

moto's CloudFormation implementation knows no AWS::Cognito::* types, so a
stack holding a user pool would silently create nothing. This module adds
AWS::Cognito::UserPool, AWS::Cognito::UserPoolClient and
AWS::Cognito::UserPoolGroup, backed by moto's real Cognito backend, so that a
stack creates pools that the cognito-idp API (and its JWKS endpoint) serves.

Import it before moto's server handles a request (server.py does), then call
nothing: registration happens at import time, see ``_register``.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import UnformattedGetAttTemplateException, ValidationError
from moto.cloudformation.models import Event as CloudFormationEvent
from moto.cloudformation.models import Stack as CloudFormationStack
from moto.cognitoidp.exceptions import ResourceNotFoundError
from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpUserPool,
    CognitoIdpUserPoolAttribute,
    CognitoIdpUserPoolClient,
    cognitoidp_backends,
)
from moto.core.common_models import CloudFormationModel
from moto.core.utils import utcnow

# DeletionPolicy values that keep the physical resource when CloudFormation
# deletes the logical one. moto's ResourceMap.delete() only skips "Retain",
# and not at all when a resource is dropped from the template by an update,
# so the resources check it themselves as well.
_RETAIN = ("Retain", "RetainExceptOnCreate")

# Pool properties whose change makes CloudFormation replace the pool (new id).
_POOL_REPLACE = ("UsernameAttributes", "AliasAttributes", "UsernameConfiguration")
# Pool properties that are not CreateUserPool arguments (or not kept as such).
_POOL_NOT_CONFIG = ("UserPoolName", "EnabledMfas")

_CLIENT_REPLACE = ("UserPoolId", "GenerateSecret")
_CLIENT_INT = (
    "AccessTokenValidity",
    "IdTokenValidity",
    "RefreshTokenValidity",
    "AuthSessionValidity",
)
_CLIENT_BOOL = (
    "AllowedOAuthFlowsUserPoolClient",
    "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData",
)
_SCHEMA_BOOL = ("Mutable", "Required", "DeveloperOnlyAttribute")

_GROUP_REPLACE = ("UserPoolId", "GroupName")

_PASSWORD_INT = ("MinimumLength", "MaximumLength", "TemporaryPasswordValidityDays")
_PASSWORD_BOOL = (
    "RequireUppercase",
    "RequireLowercase",
    "RequireNumbers",
    "RequireSymbols",
)


# moto's model metaclass (InstanceTrackerMeta) files every model class under
# the service named by the second part of its __module__ ("moto.<service>...."),
# for the /moto-api/data.json dashboard and for reset; for a module outside the
# moto package ("cognito_cfn") class creation fails with IndexError. So each
# class claims a module inside cognitoidp's namespace (nothing imports it).
_MOTO_MODULE = "moto.cognitoidp.cloudformation"


def _backend(account_id: str, region_name: str) -> CognitoIdpBackend:
    return cognitoidp_backends[account_id][region_name]


def _as_bool(value: Any) -> bool:
    # Templates may carry booleans as strings ("true"); the API wants JSON booleans.
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _coerce(props: dict[str, Any], ints: tuple[str, ...], bools: tuple[str, ...]) -> None:
    # Templates may carry numbers as strings ("8"); moto compares them with ints.
    for key in ints:
        if key in props and props[key] is not None:
            props[key] = int(props[key])
    for key in bools:
        if key in props and props[key] is not None:
            props[key] = _as_bool(props[key])


def _properties(cloudformation_json: dict[str, Any]) -> dict[str, Any]:
    return dict(cloudformation_json.get("Properties") or {})


def _changed(old: dict[str, Any], new: dict[str, Any], keys: tuple[str, ...]) -> bool:
    return any(old.get(k) != new.get(k) for k in keys)


class _CognitoResource:
    """What the three Cognito resource types share: ids, template properties, the
    deletion and replacement policies, and the create, update and delete paths around
    what each type does in the Cognito backend.

    A mixin, listed before CloudFormationModel, which the models must still subclass
    directly (see ``_register``).
    """

    #: CloudFormation type, e.g. "AWS::Cognito::UserPool".
    CFN_TYPE = ""
    #: The property that names the resource (the parser generates a name without it).
    NAME_PROPERTY = ""
    #: Properties whose change makes CloudFormation replace the resource (new id).
    REPLACE_ON: tuple[str, ...] = ()
    #: Fn::GetAtt attributes.
    ATTRIBUTES: tuple[str, ...] = ()

    def __init__(
        self,
        account_id: str,
        region_name: str,
        pool_id: str,
        resource_id: str,
        cloudformation_json: dict[str, Any],
    ) -> None:
        self.account_id = account_id
        self.region_name = region_name
        self.pool_id = pool_id
        #: The physical id: the pool id, the client id or the group name.
        self.resource_id = resource_id
        self._keep(cloudformation_json)

    def _keep(self, cloudformation_json: dict[str, Any]) -> None:
        """Remember the template's view of this resource (after a create or an update)."""
        self.properties = _properties(cloudformation_json)
        self.deletion_policy: str | None = cloudformation_json.get("DeletionPolicy")
        self.update_replace_policy: str | None = cloudformation_json.get("UpdateReplacePolicy")

    def _backend(self) -> CognitoIdpBackend:
        return _backend(self.account_id, self.region_name)

    # --- what each type does in the Cognito backend ---------------------------

    @classmethod
    def _create(
        cls, backend: CognitoIdpBackend, resource_name: str, props: dict[str, Any]
    ) -> tuple[str, str]:
        """Creates the resource; returns its pool id and its own id."""
        raise NotImplementedError

    def _update_in_place(self, backend: CognitoIdpBackend, props: dict[str, Any]) -> None:
        raise NotImplementedError

    @staticmethod
    def _delete_by_id(backend: CognitoIdpBackend, pool_id: str, resource_id: str) -> None:
        """Deletes the resource; `pool_id` is empty where the template held a Ref."""
        raise NotImplementedError

    # --- what the CloudFormation parser asks of every model -----------------

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.CFN_TYPE

    @property
    def physical_resource_id(self) -> str:
        return self.resource_id

    def is_created(self) -> bool:
        return True

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        # resource_name is the NAME_PROPERTY value, or a name the parser generated.
        backend = _backend(account_id, region_name)
        pool_id, resource_id = cls._create(
            backend, resource_name, _properties(cloudformation_json)
        )
        return cls(account_id, region_name, pool_id, resource_id, cloudformation_json)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        props = _properties(cloudformation_json)
        if _changed(original_resource.properties, props, cls.REPLACE_ON):
            # Replacement, as in AWS: the new resource first, then the old one goes
            # (unless its UpdateReplacePolicy keeps it). Caveat: moto does not
            # re-resolve dependents whose template text did not change, so a client or
            # group keeps pointing at a replaced pool.
            new = cls.create_from_cloudformation_json(
                new_resource_name, cloudformation_json, account_id, region_name
            )
            if original_resource.update_replace_policy not in _RETAIN:
                original_resource._delete_quietly()
            return new
        original_resource._update_in_place(_backend(account_id, region_name), props)
        original_resource._keep(cloudformation_json)
        return original_resource

    def _delete_quietly(self) -> None:
        # Already gone (deleted out of band, or with its pool: stack deletion visits
        # resources in no particular order) is deleted: deletion is idempotent.
        try:
            self._delete_by_id(self._backend(), self.pool_id, self.resource_id)
        except ResourceNotFoundError:
            pass

    def delete(self, account_id: str, region_name: str) -> None:
        # ResourceMap._delete_resource calls this first, for stack deletion and for
        # resources dropped from the template by an update.
        if self.deletion_policy not in _RETAIN:
            self._delete_quietly()

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> None:
        # Fallback path of the parser: resource_name is the physical id, and the raw
        # template may still hold a Ref where the pool id would be.
        if cloudformation_json.get("DeletionPolicy") in _RETAIN or not resource_name:
            return
        pool_id = _properties(cloudformation_json).get("UserPoolId")
        try:
            cls._delete_by_id(
                _backend(account_id, region_name),
                pool_id if isinstance(pool_id, str) else "",
                resource_name,
            )
        except ResourceNotFoundError:
            pass


class CognitoUserPoolResource(_CognitoResource, CloudFormationModel):
    """AWS::Cognito::UserPool. Ref is the pool id."""

    __module__ = _MOTO_MODULE
    CFN_TYPE = "AWS::Cognito::UserPool"
    NAME_PROPERTY = "UserPoolName"
    REPLACE_ON = _POOL_REPLACE
    ATTRIBUTES = ("Arn", "ProviderName", "ProviderURL", "UserPoolId")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        provider_name = f"cognito-idp.{self.region_name}.amazonaws.com/{self.pool_id}"
        if attribute_name == "Arn":
            return self._pool().arn
        if attribute_name == "ProviderName":
            return provider_name
        if attribute_name == "ProviderURL":
            return f"https://{provider_name}"
        if attribute_name == "UserPoolId":
            return self.pool_id
        raise UnformattedGetAttTemplateException()

    def _pool(self) -> CognitoIdpUserPool:
        # A method, not a property: /moto-api/data.json getattr()s every public
        # attribute and would fail on ResourceNotFoundError once the pool is gone.
        return self._backend().describe_user_pool(self.pool_id)

    @staticmethod
    def _config(props: dict[str, Any]) -> dict[str, Any]:
        """CFN properties -> CreateUserPool/UpdateUserPool arguments (minus PoolName)."""
        config = {k: v for k, v in props.items() if k not in _POOL_NOT_CONFIG}
        policy = (config.get("Policies") or {}).get("PasswordPolicy")
        if policy:
            policy = dict(policy)
            _coerce(policy, _PASSWORD_INT, _PASSWORD_BOOL)
            config["Policies"] = {**config["Policies"], "PasswordPolicy": policy}
        if config.get("Schema"):
            schema = [dict(attr) for attr in config["Schema"]]
            for attr in schema:
                _coerce(attr, (), _SCHEMA_BOOL)
            config["Schema"] = schema
        if "DeletionProtection" not in config:
            config["DeletionProtection"] = "INACTIVE"
        return config

    @staticmethod
    def _apply_mfa(pool: CognitoIdpUserPool, props: dict[str, Any]) -> None:
        # EnabledMfas is SetUserPoolMfaConfig territory in the API, not CreateUserPool.
        pool.mfa_config = props.get("MfaConfiguration") or "OFF"
        enabled = props.get("EnabledMfas") or []
        pool.token_mfa_config = {"Enabled": True} if "SOFTWARE_TOKEN_MFA" in enabled else None
        if "SMS_MFA" in enabled:
            pool.sms_mfa_config = {
                "SmsAuthenticationMessage": props.get("SmsAuthenticationMessage"),
                "SmsConfiguration": props.get("SmsConfiguration"),
            }
        else:
            pool.sms_mfa_config = None

    @classmethod
    def _create(
        cls, backend: CognitoIdpBackend, resource_name: str, props: dict[str, Any]
    ) -> tuple[str, str]:
        pool = backend.create_user_pool(resource_name, cls._config(props))
        cls._apply_mfa(pool, props)
        return pool.id, pool.id

    def _update_in_place(self, backend: CognitoIdpBackend, props: dict[str, Any]) -> None:
        config = self._config(props)
        # Schema is consumed by the pool constructor, not kept in its config;
        # in place we can only add custom attributes, as AWS does.
        schema = config.pop("Schema", None) or []
        backend.update_user_pool(self.pool_id, config)
        pool = backend.describe_user_pool(self.pool_id)
        if "UserPoolName" in props:
            pool.name = props["UserPoolName"]
        known = {name.removeprefix("dev:") for name in pool.schema_attributes}
        new_custom = [
            attr
            for attr in schema
            if attr["Name"] not in CognitoIdpUserPoolAttribute.STANDARD_SCHEMA
            and f"custom:{attr['Name']}" not in known
        ]
        if new_custom:
            pool.add_custom_attributes(new_custom)
        self._apply_mfa(pool, props)
        pool.last_modified_date = utcnow()

    @staticmethod
    def _delete_by_id(backend: CognitoIdpBackend, pool_id: str, resource_id: str) -> None:
        backend.delete_user_pool(resource_id)


class CognitoUserPoolClientResource(_CognitoResource, CloudFormationModel):
    """AWS::Cognito::UserPoolClient. Ref is the client id."""

    __module__ = _MOTO_MODULE
    CFN_TYPE = "AWS::Cognito::UserPoolClient"
    NAME_PROPERTY = "ClientName"
    REPLACE_ON = _CLIENT_REPLACE
    ATTRIBUTES = ("ClientId", "ClientSecret", "Name")

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "ClientId":
            return self.resource_id
        client = self._client()
        if attribute_name == "Name":
            return client.extended_config.get("ClientName") or ""
        if attribute_name == "ClientSecret" and client.generate_secret:
            return client.secret
        raise UnformattedGetAttTemplateException()

    def _client(self) -> CognitoIdpUserPoolClient:  # a method: see _pool
        return self._backend().describe_user_pool_client(self.pool_id, self.resource_id)

    @staticmethod
    def _config(resource_name: str, props: dict[str, Any]) -> dict[str, Any]:
        """CFN properties -> CreateUserPoolClient arguments (minus pool id, secret flag)."""
        config = {k: v for k, v in props.items() if k not in _CLIENT_REPLACE}
        config["ClientName"] = props.get("ClientName") or resource_name
        _coerce(config, _CLIENT_INT, _CLIENT_BOOL)
        return config

    @classmethod
    def _create(
        cls, backend: CognitoIdpBackend, resource_name: str, props: dict[str, Any]
    ) -> tuple[str, str]:
        pool_id = props["UserPoolId"]
        client = backend.create_user_pool_client(
            pool_id,
            _as_bool(props.get("GenerateSecret", False)),
            cls._config(resource_name, props),
        )
        return pool_id, client.id

    def _update_in_place(self, backend: CognitoIdpBackend, props: dict[str, Any]) -> None:
        # UpdateUserPoolClient, as AWS's CloudFormation calls it: it checks the settings
        # and resets what it is not given (cognito_oauth_clients.py makes moto's do both).
        name = props.get("ClientName") or self._client().extended_config.get("ClientName")
        backend.update_user_pool_client(self.pool_id, self.resource_id, self._config(name, props))

    @staticmethod
    def _delete_by_id(backend: CognitoIdpBackend, pool_id: str, resource_id: str) -> None:
        if pool_id:
            backend.delete_user_pool_client(pool_id, resource_id)
            return
        # Without the pool id, find the pool by the client id (unique across pools).
        for pool in backend.user_pools.values():
            pool.clients.pop(resource_id, None)


class CognitoUserPoolGroupResource(_CognitoResource, CloudFormationModel):
    """AWS::Cognito::UserPoolGroup. Ref is the group name."""

    __module__ = _MOTO_MODULE
    CFN_TYPE = "AWS::Cognito::UserPoolGroup"
    NAME_PROPERTY = "GroupName"
    REPLACE_ON = _GROUP_REPLACE
    ATTRIBUTES = ()  # AWS documents no Fn::GetAtt attributes for groups

    def get_cfn_attribute(self, attribute_name: str) -> str:
        raise UnformattedGetAttTemplateException()

    @staticmethod
    def _precedence(props: dict[str, Any]) -> int | None:
        value = props.get("Precedence")
        return None if value is None else int(value)

    @classmethod
    def _create(
        cls, backend: CognitoIdpBackend, resource_name: str, props: dict[str, Any]
    ) -> tuple[str, str]:
        pool_id = props["UserPoolId"]
        group = backend.create_group(
            pool_id,
            resource_name,
            props.get("Description"),
            props.get("RoleArn"),
            cls._precedence(props),
        )
        return pool_id, group.group_name

    def _update_in_place(self, backend: CognitoIdpBackend, props: dict[str, Any]) -> None:
        group = backend.get_group(self.pool_id, self.resource_id)
        # Set fields directly: moto's update_group cannot clear a field (None = keep).
        group.description = props.get("Description") or ""
        group.role_arn = props.get("RoleArn")
        group.precedence = self._precedence(props)
        group.last_modified_date = utcnow()

    @staticmethod
    def _delete_by_id(backend: CognitoIdpBackend, pool_id: str, resource_id: str) -> None:
        # Without a literal pool id (the fallback path with a Ref), nothing finds it.
        if pool_id:
            backend.delete_group(pool_id, resource_id)


MODELS: tuple[type[CloudFormationModel], ...] = (
    CognitoUserPoolResource,
    CognitoUserPoolClientResource,
    CognitoUserPoolGroupResource,
)



class ResourceFailure(Exception):
    """A resource's create or update failed: which one, and the service's words."""

    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


def _naming_failures(parse: Any) -> Any:
    """Wrap a moto parse_and_* function so that failures name their resource."""

    def wrapped(logical_id: str, resource_json: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return parse(logical_id, resource_json, *args, **kwargs)
        except ResourceFailure:
            raise
        except Exception as error:  # the service's own exception, whatever its class
            reason = getattr(error, "message", None) or str(error)
            resource_type = resource_json.get("Type", "") if isinstance(resource_json, dict) else ""
            raise ResourceFailure(logical_id, resource_type, reason) from error

    return wrapped


def _resource_event(stack: Any, failure: ResourceFailure, status: str) -> None:
    stack.events.append(
        CloudFormationEvent(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=failure.logical_id,
            physical_resource_id="",
            resource_type=failure.resource_type,
            resource_status=status,
            resource_status_reason=failure.reason,
            resource_properties=None,
        )
    )


UPDATE_SECONDS_TAG = "emulator/update-seconds"
"""Stack tag: seconds a successful update stays UPDATE_IN_PROGRESS (default 0)."""

FAIL_UPDATE_TAG = "emulator/fail-update"
"""Stack tag given with an update: fail (and roll back) that update with this reason."""


def _complete_later(stack: Any) -> None:
    """Report a finished update as in progress for the seconds the stack's tag asks for.

    moto applies an update within the request, while CloudFormation takes minutes; the
    tag lets a test act while an update runs. The resources are already updated.
    """
    try:
        seconds = float((stack.tags or {}).get(UPDATE_SECONDS_TAG, 0))
    except (TypeError, ValueError):
        return
    if seconds <= 0:
        return
    finished = stack.status
    stack.status = "UPDATE_IN_PROGRESS"
    timer = threading.Timer(seconds, setattr, args=(stack, "status", finished))
    timer.daemon = True
    timer.start()


def _roll_back_failures() -> None:
    """Make a failed resource fail the stack operation, as CloudFormation does.

    Without this, moto's CreateStack/UpdateStack answer the service's exception
    directly (with a body the client cannot parse) and leave no stack events.
    With it, a failed create ends in ROLLBACK_COMPLETE and a failed update in
    UPDATE_ROLLBACK_COMPLETE (back on its previous template), each with a *_FAILED
    event giving the reason. Limitation: a rolled-back update keeps the resource changes
    moto applied before the failure.
    """
    parsing.parse_and_create_resource = _naming_failures(parsing.parse_and_create_resource)
    parsing.parse_and_update_resource = _naming_failures(parsing.parse_and_update_resource)
    original_create = CloudFormationStack.create_resources
    original_update = CloudFormationStack.update

    def create_resources(self: Any) -> None:
        try:
            original_create(self)
        except ResourceFailure as failure:
            _resource_event(self, failure, "CREATE_FAILED")
            self._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=failure.reason)
            try:
                self.resource_map.delete()
            except Exception:  # best effort: a half-created resource may not delete
                pass
            # A rolled-back create has no outputs (they would point at deleted resources).
            self.output_map = parsing.OutputMap(self.resource_map, {"Outputs": {}}, self.stack_id)
            self._add_stack_event("ROLLBACK_COMPLETE")
            self.status = "ROLLBACK_COMPLETE"

    def update(
        self: Any,
        template: str,
        role_arn: str | None = None,
        parameters: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        # CloudFormation refuses an update that changes nothing; moto checks this only
        # when parameters are passed.
        if template == self.template and not parameters and (tags is None or tags == self.tags):
            raise ValidationError(self.name, message="No updates are to be performed.")
        previous_template = self.template
        try:
            injected = (tags or {}).get(FAIL_UPDATE_TAG)
            if injected:
                self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
                raise ResourceFailure("UserPool", "AWS::Cognito::UserPool", injected)
            original_update(self, template, role_arn, parameters=parameters, tags=tags)
        except ResourceFailure as failure:
            _resource_event(self, failure, "UPDATE_FAILED")
            # The stack keeps running its previous template, as GetTemplate then shows.
            self.template = previous_template
            self._parse_template()
            self._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
            self.status = "UPDATE_ROLLBACK_COMPLETE"
            return
        _complete_later(self)

    CloudFormationStack.create_resources = create_resources  # type: ignore[method-assign]
    CloudFormationStack.update = update  # type: ignore[method-assign]


def _register() -> None:
    """Make moto's CloudFormation parser see the models above.

    moto 5.x has no registry to add to: parsing.get_model_list() is
    ``CloudFormationModel.__subclasses__()``, and get_model_map() /
    get_name_type_map() are dicts built from that list. Defining the classes
    is therefore the registration, with two conditions this module meets:
    - they must subclass CloudFormationModel *directly*: __subclasses__() does
      not recurse, so a shared intermediate base class would hide them;
    - the three functions are @lru_cache'd, so if anything called them before
      this import, the cached lists lack our classes: clear them.
    If moto ever ships its own AWS::Cognito types, ours still win: they are
    later in __subclasses__() order and the map keeps the last one per type.
    """
    for cached in (
        parsing.get_model_list,
        parsing.get_model_map,
        parsing.get_name_type_map,
    ):
        cached.cache_clear()
    model_map = parsing.get_model_map()
    for model in MODELS:
        # Fail loudly at import if a moto upgrade changed the mechanism.
        if model_map.get(model.cloudformation_type()) is not model:
            raise RuntimeError(
                f"moto did not pick up {model.cloudformation_type()}: "
                "its CloudFormation model registration has changed"
            )


_register()
_roll_back_failures()
