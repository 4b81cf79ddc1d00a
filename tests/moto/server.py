"""Run moto's server with the Cognito CloudFormation plugin, on loopback only.

Usage: server.py [--port N] [--host 127.0.0.1] [--also-host ADDR ...] [--pid-file PATH]
Port defaults to $MOTO_PORT, else 5055. --also-host serves the same emulator (one
state) on another local address too: the local node's address, which its pods reach
while they cannot reach the machine's loopback. Runs in the foreground; SIGTERM or
SIGINT stops it with exit status 0.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import threading
from pathlib import Path
from typing import Any

# The plugin sits beside this file; make it importable however we are started.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from moto import backends as moto_backends  # noqa: E402
from moto import server as moto_server  # noqa: E402
from moto.core import responses as moto_responses  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

import cognito_cfn  # noqa: E402,F401  (import = registration, before any request)
# Before cognito_clients, whose flow check then wraps (and runs before) the SRP flow.
import cognito_sign_in  # noqa: E402,F401  (import = patch, before any request)
import cognito_clients  # noqa: E402,F401  (import = patch, before any request)
import cognito_client_secrets  # noqa: E402,F401  (import = patch, before any request)
import cognito_resources  # noqa: E402,F401  (import = registration and patch, before any request)
import cognito_oauth_clients  # noqa: E402,F401  (import = patch, before any request)
import cloudformation_noecho  # noqa: E402,F401  (import = patch, before any request)
import cognito_domains  # noqa: E402,F401  (import = registration and patch, before any request)
import cognito_oauth  # noqa: E402,F401  (import = patch, before _dispatch below wraps it)
import cognito_large_pools  # noqa: E402,F401  (import = patch, before _dispatch below wraps it)
# After the plugins that add actions: it wraps every action that takes an access token.
import cognito_revocation  # noqa: E402,F401  (import = patch, before any request)
import faults  # noqa: E402  (wraps the serialized dispatcher below, outside the lock)

DEFAULT_PORT = 5055

# For every request moto works out again what cannot change while it runs: it lists its
# own package directory (a stat per service, some 180, twice) to route the request, and
# inspects the response class for its action methods. Done once instead, that is a third
# of a small request's time. (The plugins above add their methods on import.)
_MOTO_MODULES = tuple(moto_backends.list_of_moto_modules())
moto_backends.list_of_moto_modules = lambda: _MOTO_MODULES
moto_responses.method_names_from_class = functools.cache(moto_responses.method_names_from_class)

# moto's backends are plain dicts that its threaded server reads and writes from many
# threads: a user lookup that scans a pool while another request adds a user fails with
# "OrderedDict mutated during iteration" (an HTML 500). AWS itself never answers like
# that, so requests are served one at a time; the GIL serialized the work anyway.
_REQUEST_LOCK = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__


def _serialized(self: DomainDispatcherApplication, environ: Any, start_response: Any) -> Any:
    with _REQUEST_LOCK:
        # moto builds whole responses, so the body is complete once this returns.
        return _dispatch(self, environ, start_response)


# Fault injection and call counting decide before the lock: a request held for an
# outage must not keep other callers waiting.
DomainDispatcherApplication.__call__ = faults.outside_the_lock(_serialized)  # type: ignore[method-assign,assignment]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("MOTO_PORT", DEFAULT_PORT)))
    # Loopback by default: an emulator that accepts any credentials must not
    # be reachable from other hosts.
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--also-host", action="append", default=[])
    parser.add_argument("--pid-file", type=Path, default=None)
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        # Checked here: the socket layer would silently wrap it (99999 -> 34463).
        parser.error(f"port out of range: {args.port}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.pid_file:
        # Written by the server itself, so the recorded pid is this process
        # however the caller wrapped it (setsid, nohup, ...).
        args.pid_file.parent.mkdir(parents=True, exist_ok=True)
        args.pid_file.write_text(f"{os.getpid()}\n")
    for host in args.also_host:
        # moto's backends are module state, so this listener serves the same accounts,
        # pools and users as the main one.
        server = make_server(
            host,
            args.port,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
    # moto's own entry point: werkzeug's threaded server in this (main)
    # thread, with SIGTERM/SIGINT handlers that exit 0. The host is passed
    # explicitly rather than relying on moto's default, which has differed
    # between entry points (ThreadedMotoServer binds 0.0.0.0).
    moto_server.main(["--host", args.host, "--port", str(args.port)])


if __name__ == "__main__":
    main()
