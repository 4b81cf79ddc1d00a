"""Fault injection and call counting, per caller access key, for tests of the operator.

The operator must cope with AWS throttling it, failing, going silent and refusing it;
moto does none of that. A test switches faults on and off over HTTP, on the emulator's
own port, and reads how many calls the operator made and how each ended.

Scope: many tests share one emulator, so faults and counters belong to the access key id
a request is signed with (SigV4's ``Credential=<key>/<date>/<region>/<service>/...``, from
the ``Authorization`` header or a presigned URL's ``X-Amz-Credential``). A test gives its
operator a key of its own (``chaos-<random>``); every other caller is untouched. Unsigned
requests (moto's own API, the emulated token endpoint) are neither faulted nor counted.

Control API, JSON in and out (``<key>`` is the access key id):

- ``PUT`` (or ``POST``) ``/_faults/<key>`` sets the key's faults, replacing any before::

    {"throttle": 0.3, "serverError": 0.2, "outageSeconds": 60,
     "operations": ["AdminCreateUser"], "services": ["cognito-idp"], "seed": 7,
     "accessDenied": ["AdminDeleteUser"], "principal": "arn:aws:iam::...:role/x",
     "accountId": "123456789012"}

  every field optional. ``throttle`` and ``serverError`` are the shares (0 to 1, at most
  1 together) of matching calls answered with throttling or an internal error; a call
  matches when its service (SigV4 signing name) is in ``services`` and its operation in
  ``operations``, an absent list matching all, and with neither list, all Cognito user
  pool calls (``services`` ``["cognito-idp"]``). One draw per matching call decides,
  from a generator seeded with ``seed`` when given, so that a sequence of calls meets
  the same faults every run. ``outageSeconds`` starts an outage: from now on, for that
  long, every call with the key gets no answer (see below). ``accessDenied`` names
  operations (of any service) always refused as IAM refuses them, with ``principal``
  (default ``arn:aws:iam::<accountId>:user/<key>``) in the message. Unknown fields and
  values out of range are 400. The answer (as ``GET``): ``{"faults": {...}}`` with every
  field, ``outageSeconds`` being what remains of the outage.
- ``GET /_faults/<key>``: the faults (``{"faults": null}`` for none).
- ``DELETE /_faults/<key>``: no more faults (204); an outage ends at once. Counters stay.
- ``GET /_faults/<key>/calls``: every signed call with the key since the last reset, by
  operation: ``{"calls": {"AdminCreateUser": {"ok": 10, "throttled": 3, "serverError":
  1, "outage": 0, "denied": 0}, ...}, "errors": {"AdminCreateUser": 1}, "byService":
  {"cognito-idp": {"AdminCreateUser": {...}}}}``. ``ok`` counts the calls moto answered,
  whatever it answered; the others, calls a fault answered instead. ``errors`` counts,
  of the ``ok`` calls, those moto answered with an error status (operations with none
  are left out). ``calls`` and ``errors`` add up each operation name across services
  (``TagResource`` is Cognito's and Lambda's); ``byService`` keeps them apart.
- ``DELETE /_faults/<key>/calls``: counters back to nothing (204).

Operations are named as AWS names them: from ``X-Amz-Target``
(``AWSCognitoIdentityProviderService.AdminCreateUser``: ``AdminCreateUser``), the query
protocol's ``Action`` (CloudFormation's ``CreateStack``), else from the method and path
by botocore's model of the service (Lambda's ``CreateFunction``); a path no operation
matches is counted as ``<METHOD> <path>``.

The answers are those AWS gives, in the caller's protocol, with an ``x-amzn-RequestId``
(Cognito: awsJson1.1; CloudFormation: query, in XML; Lambda: restJson):

- throttled: Cognito 400 ``TooManyRequestsException``, CloudFormation 400 ``Throttling``,
  Lambda 429 ``TooManyRequestsException``; "Rate exceeded".
- serverError: Cognito 500 ``InternalErrorException``, CloudFormation 500
  ``InternalFailure``, Lambda 500 ``ServiceException``.
- denied: Cognito 400 ``AccessDeniedException``, CloudFormation 403 ``AccessDenied``,
  Lambda 403 ``AccessDeniedException``.
- outage: 503 ``ServiceUnavailable``.
- other awsJson services: as Cognito, but 400 ``ThrottlingException`` and 500
  ``InternalFailure``.

JSON errors carry ``x-amzn-ErrorType`` and ``{"__type": code, "message": ...}``, which is how
the AWS SDKs read the code; the SDKs retry throttling and 5xx. An access-denied message
reads ``User: <principal> is not authorized to perform: cognito-idp:AdminCreateUser on
resource: arn:aws:cognito-idp:<region>:<account>:userpool/<UserPoolId> because no
identity-based policy allows the cognito-idp:AdminCreateUser action`` (``userpool/*``
without a pool; a stack's or function's ARN for CloudFormation and Lambda; else ``*``).

An outage holds each request without an answer until it ends, then answers 503
``ServiceUnavailable`` without moto having seen the request. To the caller that is a
paused emulator: the connection is accepted, nothing comes back; a client with an
attempt timeout (the operator's SDK config has 15 s) times out and retries into the same
silence, one without waits it out. Answering 503 rather than passing the request on
keeps an abandoned attempt from changing moto's state after the caller gave up on it,
which would make a test's outcome depend on timing. Holding happens before server.py's
request lock, so an outage never delays other callers. ``DELETE`` answers the held
requests at once; a new ``PUT`` holds them for its own outage, if it has one.

Order: an outage first, then ``accessDenied``, then the throttle/serverError draw
(denied calls draw nothing).

server.py wires this in: ``outside_the_lock`` wraps its serialized dispatcher, so the
control API and the faults are served before the request lock is taken.
"""

from __future__ import annotations

import io
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import botocore.exceptions
import botocore.session
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

#: Where the control API is served.
CONTROL_PATH = "/_faults/"
#: The longest outage a test may ask for.
MAX_OUTAGE_SECONDS = 3600.0

OUTCOMES = ("ok", "throttled", "serverError", "outage", "denied")

StartResponse = Callable[..., Any]
Dispatch = Callable[[DomainDispatcherApplication, dict[str, Any], StartResponse], Iterable[bytes]]

_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/\d{8}/([^/\s,]+)/([^/\s,]+)/aws4_request")
_CONTROL = re.compile(r"/_faults/(?P<key>[^/]+)(?P<calls>/calls)?/?")
_FORM = "application/x-www-form-urlencoded"


# --- Which call a request is ----------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One signed request: who made it, to which service, and what it asks for."""

    key: str
    region: str
    service: str  # the SigV4 signing name: cognito-idp, cloudformation, lambda, ...
    operation: str
    protocol: str  # "json" (X-Amz-Target), "query" (Action) or "rest"
    params: dict[str, str] = field(default_factory=dict)  # query form or REST path


def _body(environ: dict[str, Any]) -> bytes:
    """The request body, read and put back for moto (as moto's dispatcher does)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _credential(environ: dict[str, Any]) -> tuple[str, str, str] | None:
    """The access key id, region and service a request is signed for."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        presigned = query.get("X-Amz-Credential", [""])[0]
        match = _CREDENTIAL.search(f"Credential={presigned}")
    return (match.group(1), match.group(2), match.group(3).lower()) if match else None


def _form(environ: dict[str, Any]) -> dict[str, str]:
    """The query protocol's parameters: the query string and a form body."""
    fields = parse_qs(environ.get("QUERY_STRING", ""))
    if environ.get("CONTENT_TYPE", "").startswith(_FORM):
        fields.update(parse_qs(_body(environ).decode("utf-8", "replace")))
    return {name: values[0] for name, values in fields.items()}


_LABEL = re.compile(r"\{(\w+)(\+?)\}")
_Route = tuple[str, str, re.Pattern[str]]


def _path_pattern(template: str) -> tuple[re.Pattern[str], int]:
    """A pattern for a request URI template (``/functions/{FunctionName}``; ``{Key+}``
    spans slashes), and how many literal characters it has."""
    parts, literal, at = [], 0, 0
    for label in _LABEL.finditer(template):
        text = template[at : label.start()]
        parts += [re.escape(text), f"(?P<{label[1]}>{'.+' if label[2] else '[^/]+'})"]
        literal, at = literal + len(text), label.end()
    parts.append(re.escape(template[at:]))
    return re.compile("".join(parts)), literal + len(template) - at


@cache
def _routes(service: str) -> tuple[_Route, ...]:
    """A REST service's operations as (method, name, path pattern), the most literal
    first, so that ``/functions/{FunctionName}/policy`` wins over ``{FunctionName+}``."""
    try:
        model = botocore.session.get_session().get_service_model(service)
    except botocore.exceptions.DataNotFoundError:
        return ()
    routes: list[tuple[int, _Route]] = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        pattern, literal = _path_pattern(http["requestUri"].partition("?")[0])
        routes.append((literal, (http["method"], name, pattern)))
    return tuple(route for _, route in sorted(routes, key=lambda r: -r[0]))


def identify(environ: dict[str, Any]) -> Call | None:
    """The call a request makes, or None when it is not signed."""
    credential = _credential(environ)
    if credential is None:
        return None
    key, region, service = credential
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return Call(key, region, service, target.rpartition(".")[2], "json")
    form = _form(environ)
    if "Action" in form:
        return Call(key, region, service, form["Action"], "query", form)
    method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
    for route_method, name, pattern in _routes(service):
        found = pattern.fullmatch(path) if route_method == method else None
        if found is not None:
            return Call(key, region, service, name, "rest", found.groupdict())
    return Call(key, region, service, f"{method} {path}", "rest")


# --- Faults and counters of one key ----------------------------------------------------


@dataclass
class Profile:
    """The faults a test set for one key."""

    throttle: float
    server_error: float
    outage_until: float  # time.monotonic(); 0 for none
    operations: frozenset[str] | None  # None: all
    services: frozenset[str] | None
    access_denied: frozenset[str]
    principal: str | None
    account_id: str
    seed: int | None
    draws: random.Random

    def matches(self, call: Call) -> bool:
        return (self.services is None or call.service in self.services) and (
            self.operations is None or call.operation in self.operations
        )

    def describe(self) -> dict[str, Any]:
        return {
            "throttle": self.throttle,
            "serverError": self.server_error,
            "outageSeconds": round(max(0.0, self.outage_until - time.monotonic()), 3),
            "operations": None if self.operations is None else sorted(self.operations),
            "services": None if self.services is None else sorted(self.services),
            "accessDenied": sorted(self.access_denied),
            "principal": self.principal,
            "accountId": self.account_id,
            "seed": self.seed,
        }


class Refused(Exception):
    """A control request that cannot be served; the status says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _names(body: dict[str, Any], name: str) -> frozenset[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Refused(400, f"{name} must be a list of names")
    return frozenset(value)


def _share(body: dict[str, Any], name: str) -> float:
    value = body.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise Refused(400, f"{name} must be a number from 0 to 1")
    return float(value)


def parse_profile(body: Any) -> Profile:
    """A Profile from a PUT body; Refused (400) if it is not one."""
    if not isinstance(body, dict):
        raise Refused(400, "the body must be a JSON object")
    known = {"throttle", "serverError", "outageSeconds", "operations", "services", "seed"}
    known |= {"accessDenied", "principal", "accountId"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise Refused(400, f"unknown fields: {', '.join(unknown)}")
    throttle, server_error = _share(body, "throttle"), _share(body, "serverError")
    if throttle + server_error > 1:
        raise Refused(400, "throttle and serverError add up to more than 1")
    outage = body.get("outageSeconds", 0)
    if isinstance(outage, bool) or not isinstance(outage, (int, float)):
        raise Refused(400, "outageSeconds must be a number")
    if not 0 <= outage <= MAX_OUTAGE_SECONDS:
        raise Refused(400, f"outageSeconds must be from 0 to {MAX_OUTAGE_SECONDS:g}")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise Refused(400, "seed must be an integer")
    principal, account_id = body.get("principal"), body.get("accountId", DEFAULT_ACCOUNT_ID)
    if principal is not None and not (isinstance(principal, str) and principal.startswith("arn:")):
        raise Refused(400, "principal must be an ARN")
    if not (isinstance(account_id, str) and re.fullmatch(r"\d{12}", account_id)):
        raise Refused(400, "accountId must be 12 digits")
    operations, services = _names(body, "operations"), _names(body, "services")
    if operations is None and services is None:
        services = frozenset({"cognito-idp"})
    return Profile(
        throttle=throttle,
        server_error=server_error,
        outage_until=time.monotonic() + outage if outage else 0.0,
        operations=operations,
        services=services,
        access_denied=_names(body, "accessDenied") or frozenset(),
        principal=principal,
        account_id=account_id,
        seed=seed,
        draws=random.Random(seed),
    )


class Scope:
    """Faults and counters of one access key. Requests with a key arrive concurrently
    (nothing is serialized yet where this runs), so both are kept under one lock, which
    is also the condition that held requests wait on."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._profile: Profile | None = None
        self._calls: dict[tuple[str, str], dict[str, int]] = {}
        self._errors: dict[tuple[str, str], int] = {}

    def set(self, profile: Profile | None) -> None:
        with self._lock:
            self._profile = profile
            self._lock.notify_all()  # held requests look at the outage anew

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"faults": None if self._profile is None else self._profile.describe()}

    def decide(self, call: Call) -> tuple[str, Profile] | None:
        """The fault that answers this call (and the profile that chose it), or None to
        let moto answer. During an outage this holds the caller until the outage ends."""
        with self._lock:
            profile = self._profile
            if profile is None:
                return None
            if profile.outage_until > time.monotonic():
                while self._profile is not None:
                    left = self._profile.outage_until - time.monotonic()
                    if left <= 0:
                        break
                    self._lock.wait(left)
                return "outage", profile
            if call.operation in profile.access_denied:
                return "denied", profile
            if not profile.matches(call):
                return None
            draw = profile.draws.random()
            if draw < profile.throttle:
                return "throttled", profile
            if draw < profile.throttle + profile.server_error:
                return "serverError", profile
            return None

    def count(self, call: Call, outcome: str, *, error: bool = False) -> None:
        """Counts a call; ``error``: moto answered it with an error status."""
        operation = (call.service, call.operation)
        with self._lock:
            self._calls.setdefault(operation, dict.fromkeys(OUTCOMES, 0))[outcome] += 1
            if error:
                self._errors[operation] = self._errors.get(operation, 0) + 1

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()
            self._errors.clear()

    def calls(self) -> dict[str, Any]:
        with self._lock:
            flat: dict[str, dict[str, int]] = {}
            by_service: dict[str, dict[str, dict[str, int]]] = {}
            for (service, operation), counts in sorted(self._calls.items()):
                by_service.setdefault(service, {})[operation] = dict(counts)
                total = flat.setdefault(operation, dict.fromkeys(OUTCOMES, 0))
                for outcome, n in counts.items():
                    total[outcome] += n
            errors: dict[str, int] = {}
            for (_, operation), n in sorted(self._errors.items()):
                errors[operation] = errors.get(operation, 0) + n
            return {"calls": flat, "errors": errors, "byService": by_service}


_SCOPES: dict[str, Scope] = {}
_SCOPES_LOCK = threading.Lock()


def scope(key: str) -> Scope:
    """The scope of an access key, made on first use."""
    with _SCOPES_LOCK:
        found = _SCOPES.get(key)
        if found is None:
            found = _SCOPES[key] = Scope()
        return found


# --- Answers ---------------------------------------------------------------------------

# (HTTP status, error code) of each fault, by protocol; Cognito's own codes override.
_ERRORS: dict[str, dict[str, tuple[int, str]]] = {
    "json": {
        "throttled": (400, "ThrottlingException"),
        "serverError": (500, "InternalFailure"),
        "denied": (400, "AccessDeniedException"),
        "outage": (503, "ServiceUnavailable"),
    },
    "query": {
        "throttled": (400, "Throttling"),
        "serverError": (500, "InternalFailure"),
        "denied": (403, "AccessDenied"),
        "outage": (503, "ServiceUnavailable"),
    },
    # As Lambda, the one REST service the operator calls, answers.
    "rest": {
        "throttled": (429, "TooManyRequestsException"),
        "serverError": (500, "ServiceException"),
        "denied": (403, "AccessDeniedException"),
        "outage": (503, "ServiceUnavailable"),
    },
}
_COGNITO_ERRORS = {
    "throttled": (400, "TooManyRequestsException"),
    "serverError": (500, "InternalErrorException"),
}
_MESSAGES = {
    "throttled": "Rate exceeded",
    "serverError": "An internal error occurred.",
    "outage": "Service Unavailable",
}


def _arn(value: str, arn: str) -> str:
    # Stack names and function names may be given as ARNs already.
    return value if value.startswith("arn:") else arn


def _resource(call: Call, environ: dict[str, Any], account: str) -> str:
    """The resource IAM would have refused the call on."""
    params: dict[str, Any] = dict(call.params)
    if call.protocol != "query":
        try:
            decoded = json.loads(_body(environ) or b"{}")
        except ValueError:
            decoded = {}
        if isinstance(decoded, dict):
            params.update(decoded)
    where = f"{call.region}:{account}"
    if call.service == "cognito-idp":
        return f"arn:aws:cognito-idp:{where}:userpool/{params.get('UserPoolId') or '*'}"
    if call.service == "cloudformation" and params.get("StackName"):
        name = params["StackName"]
        return _arn(name, f"arn:aws:cloudformation:{where}:stack/{name}/*")
    if call.service == "lambda" and params.get("FunctionName"):
        name = params["FunctionName"]
        return _arn(name, f"arn:aws:lambda:{where}:function:{name}")
    return "*"


def _denial(call: Call, profile: Profile, environ: dict[str, Any]) -> str:
    action = f"{call.service}:{call.operation}"
    principal = profile.principal or f"arn:aws:iam::{profile.account_id}:user/{call.key}"
    resource = _resource(call, environ, profile.account_id)
    return (
        f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


def fault_answer(
    call: Call, outcome: str, message: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers and body AWS answers a fault with, in the call's protocol."""
    status, code = _ERRORS[call.protocol][outcome]
    if call.service == "cognito-idp" and outcome in _COGNITO_ERRORS:
        status, code = _COGNITO_ERRORS[outcome]
    headers = [("x-amzn-RequestId", str(uuid.uuid4()))]
    if call.protocol == "query":
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>"
            f"<Message>{escape(message)}</Message></Error>"
            f"<RequestId>{headers[0][1]}</RequestId></ErrorResponse>"
        ).encode()
        return status, [*headers, ("Content-Type", "text/xml")], body
    headers.append(("x-amzn-ErrorType", code))
    if call.protocol == "json":
        document = {"__type": code, "message": message}
        content_type = "application/x-amz-json-1.1"
    else:
        document = {"Type": "User" if status < 500 else "Service", "message": message}
        content_type = "application/json"
    return status, [*headers, ("Content-Type", content_type)], json.dumps(document).encode()


def _respond(
    start_response: StartResponse,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> list[bytes]:
    start_response(
        f"{status} {HTTPStatus(status).phrase}",
        [*headers, ("Content-Length", str(len(body)))],
    )
    return [body]


def _json(start_response: StartResponse, status: int, document: Any = None) -> list[bytes]:
    body = b"" if document is None else json.dumps(document).encode()
    return _respond(start_response, status, [("Content-Type", "application/json")], body)


# --- Control API and dispatch ------------------------------------------------------------


def _control(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    route = _CONTROL.fullmatch(environ.get("PATH_INFO", ""))
    if route is None:
        return _json(start_response, 404, {"error": "/_faults/<access-key-id>[/calls]"})
    key_scope, method = scope(route["key"]), environ.get("REQUEST_METHOD", "GET")
    if route["calls"]:
        if method == "GET":
            return _json(start_response, 200, key_scope.calls())
        if method == "DELETE":
            key_scope.reset_calls()
            return _json(start_response, 204)
        return _json(start_response, 405, {"error": "GET or DELETE"})
    if method == "GET":
        return _json(start_response, 200, key_scope.describe())
    if method == "DELETE":
        key_scope.set(None)
        return _json(start_response, 204)
    if method not in ("PUT", "POST"):
        return _json(start_response, 405, {"error": "GET, PUT, POST or DELETE"})
    try:
        key_scope.set(parse_profile(json.loads(_body(environ) or b"null")))
    except ValueError:
        return _json(start_response, 400, {"error": "the body must be JSON"})
    except Refused as refused:
        return _json(start_response, refused.status, {"error": str(refused)})
    return _json(start_response, 200, key_scope.describe())


def outside_the_lock(serialized: Dispatch) -> Dispatch:
    """Wraps server.py's serialized dispatcher: the control API, the counting and the
    faults run before its request lock is taken, so a held request never holds it."""

    def dispatch(
        self: DomainDispatcherApplication, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(CONTROL_PATH):
            return _control(environ, start_response)
        call = identify(environ)
        if call is None:
            return serialized(self, environ, start_response)
        key_scope = scope(call.key)
        decided = key_scope.decide(call)
        if decided is not None:
            outcome, profile = decided
            message = _denial(call, profile, environ) if outcome == "denied" else None
            key_scope.count(call, outcome)
            answer = fault_answer(call, outcome, message or _MESSAGES[outcome])
            return _respond(start_response, *answer)
        statuses: list[str] = []

        def recording(status: str, *rest: Any) -> Any:
            statuses.append(status)
            return start_response(status, *rest)

        body = serialized(self, environ, recording)
        # moto builds whole responses: the status is known once the call returns.
        key_scope.count(call, "ok", error=not statuses or statuses[0][0] not in "123")
        return body

    return dispatch
