"""Fixtures shared by the emulator plugin tests: one real moto server (server.py, with
every plugin) on a free loopback port for the session, and boto3 clients for it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    # A file, not a pipe: nobody reads a pipe while tests run, and a full one blocks the
    # server on its next request log line.
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{url}/moto-api/data.json"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"moto server did not come up on {url}:\n{log.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        # SIGTERM must stop it cleanly: that is how tests/env/moto.sh stops it.
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, f"server exited with {code} on SIGTERM"


@pytest.fixture(scope="session")
def client(endpoint: str) -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make


@pytest.fixture(scope="session")
def cfn(client: Callable[[str], Any]) -> Any:
    return client("cloudformation")


@pytest.fixture(scope="session")
def idp(client: Callable[[str], Any]) -> Any:
    return client("cognito-idp")
