"""Large user pools for scale tests: bulk seeding, and listing in time proportional to a page.

A scale test needs a pool of 100,000 users, and moto 5.2.5 cannot serve one:

- Creating them through ``AdminCreateUser`` is 100,000 requests, one at a time (server.py
  serializes them). ``POST /_bulk/users`` inserts them into the backend instead:

  request  ``{"userPoolId": "...", "count": 100000, "prefix": "bulk-", "start": 0,
  "password": "...", "region": "...", "accountId": "..."}`` (only ``userPoolId`` and
  ``count`` are required; ``region`` defaults to the pool id's, and without
  ``accountId`` every account is searched);
  answer ``{"userPoolId", "created", "firstUsername", "lastUsername", "seconds"}``.

  User ``i`` (``start`` to ``start + count - 1``) is named ``<prefix><i>``, the number
  zero-padded to 6 digits; it is ``CONFIRMED`` and enabled, and has a ``sub``, ``email``
  ``<name>@example.com`` and ``email_verified`` ``true``, and the given password (none
  by default, as moto keeps it: in clear). In a pool with ``UsernameAttributes`` the
  user name is the ``sub``, as moto makes it. A name (or e-mail) already in the pool
  refuses the whole batch (409); an unknown pool is 404, a malformed request 400.
- moto's ``ListUsers`` and ``ListUsersInGroup`` (its ``@paginate``) copy and filter the
  whole pool for every page, then find the page's start by comparing every user before
  it with the token: each page costs O(pool), all pages O(pool²): paging through 100,000
  users took 6 minutes in the backend alone. Here a page costs O(page): every user gets
  a number, increasing in the pool's (insertion) order, and a token holds the number of
  the next user, which a binary search finds. A user deleted between pages is skipped,
  one added meanwhile is listed at the end, as with moto. With a ``Filter`` (moto's
  forms and checks, repeated here) or in a group, a page scans from its start until it
  is full: a whole listing costs O(pool), not O(pool²).

  The answers keep moto's shape (moto's serializer is bypassed for these two: it took
  40 ms for a page of 60 users); a token made for another pool, group or filter is
  moto's ``InvalidToken`` error, as is a malformed one.

Bulk users are built without ``BaseModel.__new__``, which appends every model instance
to a list that ``/moto-api/data.json`` dumps and that holds deleted users forever: 20,000
users already take 3.6 s to dump, longer than the 2 s ``tests/env/moto.sh`` waits for it.

Import this module before moto's server handles a request (server.py does): it patches
the backend and wraps the WSGI dispatcher, which server.py then serializes (seeding
changes moto's state, so it must not run beside a request).
"""

from __future__ import annotations

import gc
import hashlib
import json
import re
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from moto.cognitoidp.exceptions import InvalidParameterException
from moto.cognitoidp.models import (
    CognitoIdpBackend,
    CognitoIdpUser,
    CognitoIdpUserPool,
    UserStatus,
    cognitoidp_backends,
)
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.exceptions import InvalidToken
from moto.core.serialize import TimestampSerializer
from moto.core.utils import get_service_model, utcnow
from moto.moto_api._internal import mock_random
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.wrappers import Request

#: The seeding endpoint.
BULK_USERS_PATH = "/_bulk/users"
#: The most users one seeding request creates (a typo must not exhaust memory).
MAX_BULK = 1_000_000
# moto's page size for both listings, and AWS's maximum.
_PAGE = 60


class PoolUsers(OrderedDict[str, CognitoIdpUser]):
    """A pool's users by user name, in insertion order as moto keeps them, each numbered
    when its name is inserted, so that a page can start by binary search.

    Beside the mapping, ``_names`` and ``_numbers`` list every insertion in order: a name
    and its number, increasing. A deleted user's entry stays until the log holds more than
    twice as many entries as the pool has users (then it is rebuilt, numbers kept); pages
    skip it (its name is gone, or back under a later number). Overwriting a name keeps
    its place and its number, as the dict keeps its place. ``pop``, ``popitem`` and
    ``clear`` bypass ``__delitem__`` in CPython's OrderedDict, so they are overridden
    too; ``move_to_end`` would break the order, and neither moto nor a plugin calls it.
    """

    def __init__(self) -> None:
        super().__init__()
        self._number_of: dict[str, int] = {}
        self._names: list[str] = []
        self._numbers: list[int] = []
        self._next_number = 0

    def __setitem__(self, name: str, user: CognitoIdpUser) -> None:
        if name not in self:
            self._number_of[name] = self._next_number
            self._names.append(name)
            self._numbers.append(self._next_number)
            self._next_number += 1
        super().__setitem__(name, user)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        del self._number_of[name]
        if len(self._names) > 2 * len(self):
            self._names = list(self)
            self._numbers = [self._number_of[n] for n in self._names]

    def pop(self, name: str, *default: Any) -> Any:
        if name not in self:
            if default:
                return default[0]
            raise KeyError(name)
        user = self[name]
        del self[name]
        return user

    def popitem(self, last: bool = True) -> tuple[str, CognitoIdpUser]:
        if not self:
            raise KeyError("dictionary is empty")
        name = next(reversed(self)) if last else next(iter(self))
        return name, self.pop(name)

    def clear(self) -> None:
        super().clear()
        self._number_of.clear()
        self._names.clear()
        self._numbers.clear()

    def page(
        self, first: int, limit: int, keep: Callable[[CognitoIdpUser], bool] | None
    ) -> tuple[list[CognitoIdpUser], int | None]:
        """Up to ``limit`` users numbered ``first`` or later that ``keep`` accepts, in
        order, and the number of the next one after them (None if there is none)."""
        found: list[CognitoIdpUser] = []
        for index in range(bisect_left(self._numbers, first), len(self._names)):
            name, number = self._names[index], self._numbers[index]
            if self._number_of.get(name) != number:
                continue  # deleted since it was listed here
            user = self[name]
            if keep is None or keep(user):
                if len(found) == limit:
                    return found, number
                found.append(user)
        return found, None


_init_pool = CognitoIdpUserPool.__init__


def _init_pool_with_numbered_users(self: CognitoIdpUserPool, *args: Any, **kwargs: Any) -> None:
    _init_pool(self, *args, **kwargs)
    self.users = PoolUsers()


# --- ListUsers and ListUsersInGroup -------------------------------------------------

# moto 5.2.5's Filter: the same syntax, attribute names, matching and messages.
_FILTER = re.compile(r"([\w:]+)\s*(=|\^=)\s*\"(.*)\"")
_SEARCHABLE = (
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
)
_INHERENT: dict[str, Callable[[CognitoIdpUser], str]] = {
    "cognito:user_status": lambda user: user.status,
    "status": lambda user: "Enabled" if user.enabled else "Disabled",
    "username": lambda user: user.username,
}
_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "=": lambda found, wanted: found == wanted,
    "^=": lambda found, wanted: found.startswith(wanted),
}


def _filter(text: str | None) -> Callable[[CognitoIdpUser], bool] | None:
    if not text:
        return None
    match = _FILTER.match(text)
    if not match:
        raise InvalidParameterException("Error while parsing filter")
    name, operator, value = match.groups()
    if name not in _SEARCHABLE:
        raise InvalidParameterException(f"Invalid search attribute: {name}")
    compare = _COMPARE[operator]
    inherent = _INHERENT.get(name)

    def keep(user: CognitoIdpUser) -> bool:
        return any(a["Name"] == name and compare(a["Value"], value) for a in user.attributes) or (
            inherent is not None and compare(inherent(user), value)
        )

    return keep


def _listing(*parts: str | None) -> str:
    """What a token is valid for: the same pool, and the same group or filter."""
    return hashlib.sha256("\0".join(p or "" for p in parts).encode()).hexdigest()[:16]


def _first_number(token: str | None, listing: str) -> int:
    """The number a token resumes at: ``<listing>.<number>``. Not botocore's base64 JSON
    (moto's form), which botocore's paginators take for their own resume tokens and
    unpack into request parameters."""
    if not token:
        return 0
    for_listing, dot, number = token.rpartition(".")
    if not dot or not number.isdigit():
        raise InvalidToken("Invalid token")
    if for_listing != listing:
        raise InvalidToken(f"Input inconsistent with page token: {token}")
    return int(number)


def _page(
    pool: CognitoIdpUserPool,
    listing: str,
    first: int,
    limit: int | None,
    keep: Callable[[CognitoIdpUser], bool] | None,
) -> tuple[list[CognitoIdpUser], str | None]:
    users: PoolUsers = pool.users  # type: ignore[assignment]
    found, next_number = users.page(first, limit or _PAGE, keep)
    if next_number is None:
        return found, None
    return found, f"{listing}.{next_number}"


def list_users(
    self: CognitoIdpBackend,
    user_pool_id: str,
    filt: str | None,
    limit: int | None = None,
    pagination_token: str | None = None,
) -> tuple[list[CognitoIdpUser], str | None]:
    pool = self.describe_user_pool(user_pool_id)
    listing = _listing("ListUsers", pool.id, filt)
    first = _first_number(pagination_token, listing)  # moto checks it before the filter
    return _page(pool, listing, first, limit, _filter(filt))


def list_users_in_group(
    self: CognitoIdpBackend,
    user_pool_id: str,
    group_name: str,
    limit: int | None = None,
    next_token: str | None = None,
) -> tuple[list[CognitoIdpUser], str | None]:
    pool = self.describe_user_pool(user_pool_id)
    members = self.get_group(user_pool_id, group_name).users
    listing = _listing("ListUsersInGroup", pool.id, group_name)
    return _page(pool, listing, _first_number(next_token, listing), limit, members.__contains__)


# moto's serializer walks the API model for every value: about 0.7 ms a user, so that a
# page of 60 cost 40 ms (of 55) here. A page is the same JSON built directly: UserType's
# members in the model's order, None left out, timestamps as moto writes them.
_USER_TYPE = get_service_model("cognito-idp").shape_for("UserType")
_USER_MEMBERS = tuple(
    (name, shape.type_name == "timestamp") for name, shape in _USER_TYPE.members.items()
)
_epoch = TimestampSerializer._timestamp_unixtimestamp
_JSON_HEADERS = {"Content-Type": "application/x-amz-json-1.1"}


def user_document(user: CognitoIdpUser, attributes_to_get: list[str] | None) -> dict[str, Any]:
    """A UserType as moto's serializer writes it in ListUsers and ListUsersInGroup."""
    described = user.to_json(extended=True, attributes_to_get=attributes_to_get)
    document: dict[str, Any] = {}
    for name, is_timestamp in _USER_MEMBERS:
        value = described.get(name)
        if value is not None:
            document[name] = _epoch(value) if is_timestamp else value
    return document


def _users_answer(
    users: list[CognitoIdpUser],
    attributes_to_get: list[str] | None,
    token_name: str,
    token: str | None,
) -> tuple[int, dict[str, str], str]:
    answer: dict[str, Any] = {"Users": [user_document(u, attributes_to_get) for u in users]}
    if token:
        answer[token_name] = token
    return 200, dict(_JSON_HEADERS), json.dumps(answer)


def _list_users_response(self: CognitoIdpResponse) -> tuple[int, dict[str, str], str]:
    users, token = self.backend.list_users(
        self._get_param("UserPoolId"),
        self._get_param("Filter"),
        limit=self._get_param("Limit"),
        pagination_token=self._get_param("PaginationToken"),
    )
    return _users_answer(users, self._get_param("AttributesToGet"), "PaginationToken", token)


def _list_users_in_group_response(self: CognitoIdpResponse) -> tuple[int, dict[str, str], str]:
    users, token = self.backend.list_users_in_group(
        self._get_param("UserPoolId"),
        self._get_param("GroupName"),
        limit=self._get_param("Limit"),
        next_token=self._get_param("NextToken"),
    )
    # ListUsersInGroup has no AttributesToGet: every attribute.
    return _users_answer(users, None, "NextToken", token)


# --- Bulk seeding -------------------------------------------------------------------


class BadRequest(Exception):
    """A seeding request that cannot be served; the status says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _find_pool(pool_id: str, region: str | None, account_id: str | None) -> CognitoIdpUserPool:
    region = region or pool_id.partition("_")[0]
    if account_id is not None:
        candidates: Iterable[CognitoIdpBackend] = [cognitoidp_backends[account_id][region]]
    else:
        # Not cognitoidp_backends[account][region] for each account: indexing makes one.
        candidates = (b for a in cognitoidp_backends.values() for b in a.values())
        candidates = (b for b in candidates if b.region_name == region)
    for backend in candidates:
        pool = backend.user_pools.get(pool_id)
        if pool is not None:
            return pool
    raise BadRequest(404, f"User pool {pool_id} does not exist.")


def _template() -> dict[str, Any]:
    """The fields moto gives a new user, so that bulk users have every one of them even
    when moto adds one. Built without BaseModel.__new__, which would track it."""
    user = object.__new__(CognitoIdpUser)
    user.__init__("template", "template", None, UserStatus.CONFIRMED, [])  # type: ignore[misc]
    return vars(user)


def _check(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object")
    types = {
        "userPoolId": str,
        "count": int,
        "prefix": str,
        "start": int,
        "password": str,
        "region": str,
        "accountId": str,
    }
    unknown = sorted(set(body) - set(types))
    if unknown:
        raise BadRequest(400, f"unknown fields: {', '.join(unknown)}")
    for name, kind in types.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise BadRequest(400, f"{name} must be a {kind.__name__}")
    if not body.get("userPoolId"):
        raise BadRequest(400, "userPoolId is required")
    if not 1 <= body.get("count", 0) <= MAX_BULK:
        raise BadRequest(400, f"count must be 1 to {MAX_BULK}")
    if body.get("start", 0) < 0:
        raise BadRequest(400, "start must not be negative")
    return body


def seed_users(body: Any) -> dict[str, Any]:
    """Creates the users a ``POST /_bulk/users`` body asks for; returns the answer."""
    began = time.monotonic()
    request = _check(body)
    pool = _find_pool(request["userPoolId"], request.get("region"), request.get("accountId"))
    prefix, start, count = request.get("prefix", "bulk-"), request.get("start", 0), request["count"]
    names = [f"{prefix}{i:06d}" for i in range(start, start + count)]
    by_sub = bool(pool.extended_config.get("UsernameAttributes"))
    if by_sub:
        # The e-mail is how these users sign in: it must be unique in the pool.
        taken = {u.attribute_lookup.get("email") for u in pool.users.values()}
        clash = next((n for n in names if f"{n}@example.com" in taken), None)
    else:
        clash = next((n for n in names if n in pool.users), None)
    if clash is not None:
        raise BadRequest(409, f"User {clash} already exists in {pool.id}.")

    template, now, password = _template(), utcnow(), request.get("password")
    # So many new objects set off full garbage collections, each scanning the whole heap
    # as it grows: without them seeding takes a third of the time. Nothing made here is
    # garbage.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for name in names:
            sub = str(mock_random.uuid4())
            lookup = {"email": f"{name}@example.com", "email_verified": "true", "sub": sub}
            user = object.__new__(CognitoIdpUser)  # untracked: see the module's docstring
            user.__dict__.update(
                template,
                id=sub,
                user_pool_id=pool.id,
                username=sub if by_sub else name,
                password=password,
                attributes=[{"Name": k, "Value": v} for k, v in lookup.items()],
                attribute_lookup=lookup,
                groups=set(),
                create_date=now,
                last_modified_date=now,
            )
            pool.users[user.username] = user
    finally:
        if collecting:
            gc.enable()
    return {
        "userPoolId": pool.id,
        "created": count,
        "firstUsername": names[0],
        "lastUsername": names[-1],
        "seconds": round(time.monotonic() - began, 3),
    }


def _respond(start_response: Callable[..., Any], status: int, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
    )
    return [payload]


_dispatch = DomainDispatcherApplication.__call__


def _with_bulk_seeding(
    self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    # Before moto's routing, which would take the path for an S3 bucket.
    if environ.get("PATH_INFO", "") != BULK_USERS_PATH:
        return _dispatch(self, environ, start_response)
    if environ.get("REQUEST_METHOD") != "POST":
        return _respond(start_response, 405, {"error": "POST only"})
    try:
        body = json.loads(Request(environ).get_data() or b"null")
        return _respond(start_response, 200, seed_users(body))
    except json.JSONDecodeError:
        return _respond(start_response, 400, {"error": "the body must be JSON"})
    except BadRequest as refused:
        return _respond(start_response, refused.status, {"error": str(refused)})


CognitoIdpUserPool.__init__ = _init_pool_with_numbered_users  # type: ignore[method-assign]
CognitoIdpBackend.list_users = list_users  # type: ignore[assignment,method-assign]
CognitoIdpBackend.list_users_in_group = list_users_in_group  # type: ignore[assignment,method-assign]
CognitoIdpResponse.list_users = _list_users_response  # type: ignore[assignment,method-assign]
CognitoIdpResponse.list_users_in_group = _list_users_in_group_response  # type: ignore[assignment,method-assign]
DomainDispatcherApplication.__call__ = _with_bulk_seeding  # type: ignore[method-assign]
