"""Running the real `hub` command as a separate process, as an operator would."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from hub.devtools.kafka_local import free_port
from hub.settings import Settings


def hub_env(settings: Settings, bootstrap: str, port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        HUB_TOPIC_PREFIX=settings.topic_prefix,
        HUB_GROUP_ID=settings.group_id,
        HUB_DATABASE_URL=settings.database_url,
        HUB_HTTP_PORT=str(port),
        HUB_LOG_FORMAT="json",
        HUB_RETRY_DELAYS_SECONDS="[0.2, 0.5]",
    )
    return env


def hub_cli(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )


class HubProcess:
    """`hub run` in a child process, with its log captured to a file."""

    def __init__(self, settings: Settings, bootstrap: str, log_path: Path, *, piped_log: bool = False) -> None:
        self.piped_log = piped_log  # through a pipe the test copies: the hub's writes to it never touch a file
        self.port = free_port()
        self.env = hub_env(settings, bootstrap, self.port)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.env.get("HUB_AUTH__TLS_CERT_FILE") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self, timeout: float = 60) -> None:
        log = self.log_path.open("ab")
        out = subprocess.PIPE if self.piped_log else log
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "run"], env=self.env, stdout=out, stderr=out, stdin=subprocess.DEVNULL
        )
        if self.piped_log:
            source = self.proc.stdout
            assert source is not None
            threading.Thread(target=shutil.copyfileobj, args=(source, log, 1), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1, verify=False).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("hub did not become ready")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
