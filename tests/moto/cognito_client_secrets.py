"""Client-secret rotation for Cognito app clients, which moto 5.2.5 lacks.

AWS lets a confidential app client hold up to two active secrets, so that a secret can
be rotated without downtime: add a second one, move every user of the client over, then
delete the old one. moto has no ``AddUserPoolClientSecret``,
``DeleteUserPoolClientSecret`` or ``ListUserPoolClientSecrets`` (its server answers
them with a 500), and an app client has exactly one secret for life. This module adds
the three actions, as AWS documents them:

- ``AddUserPoolClientSecret`` adds a secret: the caller's ``ClientSecret`` (24 to 64
  characters of ``[\\w+]``, else ``InvalidParameterException``), or one Cognito
  generates. The answer's ``ClientSecretDescriptor`` carries ``ClientSecretId``
  (``<client-id>--<epoch-create-time>``; AWS does not say in which unit, here
  milliseconds), ``ClientSecretCreateDate`` and, only for a generated secret,
  ``ClientSecretValue``. A third secret is ``LimitExceededException``; a client created
  without a secret (``GenerateSecret`` false) cannot get one
  (``InvalidParameterException``).
- ``DeleteUserPoolClientSecret`` deletes one by id; the last remaining one cannot be
  deleted (``InvalidParameterException``), an unknown id is
  ``ResourceNotFoundException``.
- ``ListUserPoolClientSecrets`` lists ids and creation dates, oldest first, never the
  values (empty for a client without a secret).
- A client created with ``GenerateSecret`` (by ``CreateUserPoolClient`` or by the
  CloudFormation plugin, cognito_cfn.py) starts with one secret: the one moto generated,
  dated when the client was created.
- ``SECRET_HASH`` (``InitiateAuth``, ``RespondToAuthChallenge``) is accepted with any
  active secret, as rotation needs; moto checks only its single one.

Emulator control (like cognito_cfn.py's ``emulator/update-seconds``): a pool tagged
``emulator/client-secret-age-days: "N"`` dates the first secret of each client created
in it N days back, so a test sees a scheduled rotation fall due without waiting days.

Not documented by AWS, chosen here: ``DescribeUserPoolClient``'s ``ClientSecret`` (and
the CloudFormation ``Fn::GetAtt ... ClientSecret``) is the OLDEST active secret, so it
changes to the new one once the old one is deleted.

Secret values are never put in an error message or a log line: the request log (werkzeug)
holds no bodies, and this module logs nothing.

Import this module before moto's server handles a request (server.py does); the patches
happen at import time.
"""

from __future__ import annotations

import re
import secrets
import string
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from moto.cognitoidp import models as cognitoidp_models
from moto.cognitoidp.exceptions import InvalidParameterException, ResourceNotFoundError
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUserPoolClient
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.exceptions import JsonRESTError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow

#: Active secrets an app client may hold at once.
MAX_SECRETS = 2

# ClientSecretType: 24 to 64 characters; AWS's (Java) \w is ASCII only.
_SECRET_PATTERN = re.compile(r"[\w+]+", re.ASCII)
_SECRET_MIN, _SECRET_MAX = 24, 64
# What Cognito generates: 51 lowercase letters and digits, inside the pattern above.
_GENERATED_ALPHABET = string.ascii_lowercase + string.digits
_GENERATED_LENGTH = 51


class LimitExceededException(JsonRESTError):
    """moto's cognitoidp has no LimitExceededException of its own."""

    def __init__(self, message: str) -> None:
        super().__init__("LimitExceededException", message)


@dataclass
class ClientSecret:
    """One secret of an app client."""

    secret_id: str
    value: str
    created: datetime

    def descriptor(self, *, with_value: bool = False) -> dict[str, Any]:
        """ClientSecretDescriptorType; moto's serializer turns the datetime into epoch
        seconds (with milliseconds), as the JSON protocol wants."""
        described: dict[str, Any] = {
            "ClientSecretId": self.secret_id,
            "ClientSecretCreateDate": self.created,
        }
        if with_value:
            described["ClientSecretValue"] = self.value
        return described


def _millis(moment: datetime) -> datetime:
    # The id carries the time in milliseconds, and so does the JSON answer: keep both
    # the same by dropping what neither shows.
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _epoch_millis(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=moment.tzinfo)) / timedelta(milliseconds=1))


def _new_secret(client_id: str, value: str, after: ClientSecret | None) -> ClientSecret:
    created = _millis(utcnow())
    if after is not None and created <= after.created:
        # Two secrets in one millisecond would share an id: keep ids unique and the
        # order of creation strict.
        created = after.created + timedelta(milliseconds=1)
    return ClientSecret(f"{client_id}--{_epoch_millis(created)}", value, created)


# Clients by id, for the SECRET_HASH check (which moto hands only the client id and its
# one secret). Weak: a client's entry goes with the client.
_CLIENTS: weakref.WeakValueDictionary[str, CognitoIdpUserPoolClient] = (
    weakref.WeakValueDictionary()
)


def client_secrets(client: CognitoIdpUserPoolClient) -> list[ClientSecret]:
    """The client's active secrets, oldest first (kept on the client, under a private
    name so that /moto-api/data.json does not list them)."""
    kept: list[ClientSecret] | None = getattr(client, "_client_secrets", None)
    if kept is None:
        # A client made before this module was imported: its one secret, dated now.
        kept = [_new_secret(client.id, client.secret, None)] if client.generate_secret else []
        client._client_secrets = kept  # type: ignore[attr-defined]
    return kept


def _sync(client: CognitoIdpUserPoolClient) -> None:
    # moto's `secret` is what DescribeUserPoolClient (and Fn::GetAtt) show: the oldest.
    kept = client_secrets(client)
    if kept:
        client.secret = kept[0].value


_client_init = CognitoIdpUserPoolClient.__init__


def _init_with_secret(
    self: CognitoIdpUserPoolClient,
    user_pool_id: str,
    generate_secret: bool,
    extended_config: dict[str, Any] | None,
) -> None:
    _client_init(self, user_pool_id, generate_secret, extended_config)
    self._client_secrets = (  # type: ignore[attr-defined]
        [_new_secret(self.id, self.secret, None)] if self.generate_secret else []
    )
    _CLIENTS[self.id] = self


def _check_value(value: Any) -> None:
    # AWS's validation messages name the field, never a sensitive value.
    if not isinstance(value, str):
        raise InvalidParameterException("ClientSecret must be a string.")
    prefix = "1 validation error detected: Value at 'clientSecret' failed to satisfy constraint: "
    if len(value) < _SECRET_MIN:
        raise InvalidParameterException(
            prefix + f"Member must have length greater than or equal to {_SECRET_MIN}"
        )
    if len(value) > _SECRET_MAX:
        raise InvalidParameterException(
            prefix + f"Member must have length less than or equal to {_SECRET_MAX}"
        )
    if not _SECRET_PATTERN.fullmatch(value):
        raise InvalidParameterException(
            prefix + r"Member must satisfy regular expression pattern: [\w+]+"
        )


def add_user_pool_client_secret(
    self: CognitoIdpBackend, user_pool_id: str, client_id: str, value: str | None
) -> tuple[ClientSecret, bool]:
    """Adds a secret; returns it and whether Cognito generated its value."""
    generated = value is None
    if generated:
        value = "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(_GENERATED_LENGTH))
    else:
        # First, as AWS validates a request before it looks anything up.
        _check_value(value)
    client = self.describe_user_pool_client(user_pool_id, client_id)
    if not client.generate_secret:
        raise InvalidParameterException(
            f"Client {client_id} has no client secret: a client created without one "
            "cannot be given one."
        )
    kept = client_secrets(client)
    if len(kept) >= MAX_SECRETS:
        raise LimitExceededException(
            f"Client {client_id} already has {MAX_SECRETS} client secrets, the most it can "
            "have: delete one first."
        )
    added = _new_secret(client.id, str(value), kept[-1] if kept else None)
    kept.append(added)
    _sync(client)
    return added, generated


def delete_user_pool_client_secret(
    self: CognitoIdpBackend, user_pool_id: str, client_id: str, secret_id: str
) -> None:
    client = self.describe_user_pool_client(user_pool_id, client_id)
    kept = client_secrets(client)
    found = next((s for s in kept if s.secret_id == secret_id), None)
    if found is None:
        raise ResourceNotFoundError(f"Client secret {secret_id} does not exist.")
    if len(kept) == 1:
        raise InvalidParameterException(
            "The last remaining client secret of an app client cannot be deleted."
        )
    kept.remove(found)
    _sync(client)


def list_user_pool_client_secrets(
    self: CognitoIdpBackend, user_pool_id: str, client_id: str
) -> list[ClientSecret]:
    client = self.describe_user_pool_client(user_pool_id, client_id)
    return list(client_secrets(client))


def _add_response(self: CognitoIdpResponse) -> ActionResult:
    added, generated = self.backend.add_user_pool_client_secret(  # type: ignore[attr-defined]
        self._get_param("UserPoolId"),
        self._get_param("ClientId"),
        self._get_param("ClientSecret"),
    )
    # The value goes back only when Cognito made it: the caller knows its own.
    return ActionResult({"ClientSecretDescriptor": added.descriptor(with_value=generated)})


def _delete_response(self: CognitoIdpResponse) -> EmptyResult:
    self.backend.delete_user_pool_client_secret(  # type: ignore[attr-defined]
        self._get_param("UserPoolId"),
        self._get_param("ClientId"),
        self._get_param("ClientSecretId"),
    )
    return EmptyResult()


def _list_response(self: CognitoIdpResponse) -> ActionResult:
    kept = self.backend.list_user_pool_client_secrets(  # type: ignore[attr-defined]
        self._get_param("UserPoolId"), self._get_param("ClientId")
    )
    # Never the values; no NextToken: there are two at most.
    return ActionResult({"ClientSecrets": [s.descriptor() for s in kept]})


#: Pool tag that backdates the first secret of its new clients (an emulator control).
AGE_TAG = "emulator/client-secret-age-days"

_create_client = CognitoIdpBackend.create_user_pool_client


def _create_client_of_age(
    self: CognitoIdpBackend,
    user_pool_id: str,
    generate_secret: bool,
    extended_config: dict[str, str],
) -> CognitoIdpUserPoolClient:
    client = _create_client(self, user_pool_id, generate_secret, extended_config)
    tags = self.describe_user_pool(user_pool_id).extended_config.get("UserPoolTags") or {}
    days = float(tags.get(AGE_TAG) or 0)
    kept = client_secrets(client)
    if days and kept:
        kept[0].created = _millis(kept[0].created - timedelta(days=days))
    return client


_check_secret_hash = cognitoidp_models.check_secret_hash


def _any_active_secret(
    app_client_secret: str, app_client_id: str, username: str, secret_hash: str | None
) -> bool:
    client = _CLIENTS.get(app_client_id)
    if client is not None and client.secret == app_client_secret:
        candidates = [s.value for s in client_secrets(client)]
    else:
        # Not the client moto checks (ids repeat under moto's HASH id strategy): its one.
        candidates = [app_client_secret]
    return any(
        _check_secret_hash(value, app_client_id, username, secret_hash) for value in candidates
    )


CognitoIdpUserPoolClient.__init__ = _init_with_secret  # type: ignore[method-assign]
CognitoIdpBackend.create_user_pool_client = _create_client_of_age  # type: ignore[method-assign]
# moto's CognitoIdpResponse dispatches an action to the method named after it in
# snake_case (BaseResponse.call_action), so defining the methods adds the actions; the
# answers are serialized against botocore's model, which knows all three.
CognitoIdpBackend.add_user_pool_client_secret = add_user_pool_client_secret  # type: ignore[attr-defined]
CognitoIdpBackend.delete_user_pool_client_secret = delete_user_pool_client_secret  # type: ignore[attr-defined]
CognitoIdpBackend.list_user_pool_client_secrets = list_user_pool_client_secrets  # type: ignore[attr-defined]
CognitoIdpResponse.add_user_pool_client_secret = _add_response  # type: ignore[attr-defined]
CognitoIdpResponse.delete_user_pool_client_secret = _delete_response  # type: ignore[attr-defined]
CognitoIdpResponse.list_user_pool_client_secrets = _list_response  # type: ignore[attr-defined]
# models.py imported the function by name: replace it where it is called from.
cognitoidp_models.check_secret_hash = _any_active_secret
