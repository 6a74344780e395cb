"""A real Keycloak, from Maven Central, as the local OpenID Connect issuer for development and tests.

The ``keycloak-quarkus-dist`` zip is resolved once with Maven into the same cache as the broker
jars and unpacked there. Each start runs ``kc.sh start-dev`` on a free loopback port with an
in-memory database and imports the development realm from ``deploy/keycloak``, so every start
begins from exactly that realm. Like the local broker, a ``keycloak.json`` in the state directory
lets ``status`` and ``down`` find the process from another shell.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from hub.auth.client_credentials import ClientCredentials
from hub.devtools.kafka_local import LocalKafkaError, default_cache_dir, free_port, pid_alive, require_tools

KEYCLOAK_VERSION = "26.5.6"
REALM = "ehc-hub"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "keycloak"
REALM_FILE = DEPLOY / "ehc-hub-realm.json"
CLIENTS_FILE = DEPLOY / "clients.json"
ADMIN_USER = "hub-admin"
ADMIN_PASSWORD = "hub-admin-local-only"


class LocalKeycloakError(LocalKafkaError):
    """Raised when the local Keycloak cannot be prepared, started or reached."""


@dataclass
class KeycloakInfo:
    url: str
    pid: int
    port: int

    @property
    def issuer(self) -> str:
        return f"{self.url}/realms/{REALM}"


def default_state_dir() -> Path:
    return default_cache_dir() / "keycloak-state"


def ensure_dist(cache_dir: Path | None = None, version: str = KEYCLOAK_VERSION) -> Path:
    """Resolve and unpack the Keycloak distribution once per version; its home directory."""
    cache = cache_dir or default_cache_dir()
    home = cache / f"keycloak-{version}"
    if (home / "bin" / "kc.sh").exists():
        return home
    _, mvn = require_tools()
    download = cache / "downloads"
    download.mkdir(parents=True, exist_ok=True)
    zip_path = download / f"keycloak-quarkus-dist-{version}.zip"
    if not zip_path.exists():
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{version}:zip",
                f"-DoutputDirectory={download}",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0 or not zip_path.exists():
            raise LocalKeycloakError(f"Maven could not fetch Keycloak {version}:\n{result.stdout[-2000:]}")
    partial = cache / f".keycloak-{version}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(partial)
    [top] = list(partial.iterdir())
    for script in (top / "bin").glob("*.sh"):
        script.chmod(0o755)
    top.rename(home)
    shutil.rmtree(partial, ignore_errors=True)
    return home


def status(state_dir: Path | None = None) -> KeycloakInfo | None:
    path = (state_dir or default_state_dir()) / "keycloak.json"
    if not path.exists():
        return None
    info = KeycloakInfo(**json.loads(path.read_text()))
    return info if pid_alive(info.pid) else None


def up(
    state_dir: Path | None = None, port: int | None = None, realm_file: Path = REALM_FILE, timeout: float = 180
) -> KeycloakInfo:
    """Start Keycloak with the realm imported, and wait until the realm's discovery document answers."""
    state = state_dir or default_state_dir()
    running = status(state)
    if running is not None:
        return running
    java, _ = require_tools()
    home = ensure_dist()
    state.mkdir(parents=True, exist_ok=True)
    imports = home / "data" / "import"  # where --import-realm looks
    imports.mkdir(parents=True, exist_ok=True)
    shutil.copy(realm_file, imports / f"{REALM}-realm.json")
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "JAVA_HOME": str(Path(java).resolve().parent.parent),
        "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
        "KC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "JAVA_OPTS_KC_HEAP": "-Xms128m -Xmx768m",
    }
    log = (state / "keycloak.log").open("ab")
    proc = subprocess.Popen(
        [
            str(home / "bin" / "kc.sh"),
            "start-dev",
            "--db=dev-mem",
            "--http-host=127.0.0.1",
            f"--http-port={port}",
            f"--http-management-port={free_port()}",
            f"--hostname={url}",
            "--import-realm",
            "--log-level=warn,org.keycloak.services:info",
        ],
        cwd=state,
        env=env,
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    info = KeycloakInfo(url=url, pid=proc.pid, port=port)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalKeycloakError(
                f"Keycloak exited with {proc.returncode}; see {state / 'keycloak.log'}:\n"
                + (state / "keycloak.log").read_text(errors="replace")[-3000:]
            )
        try:
            if httpx.get(f"{info.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                (state / "keycloak.json").write_text(json.dumps(asdict(info)))
                return info
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    _stop(proc.pid)
    raise LocalKeycloakError(f"Keycloak did not answer within {timeout:.0f} s; see {state / 'keycloak.log'}")


def down(state_dir: Path | None = None) -> bool:
    state = state_dir or default_state_dir()
    info = status(state)
    (state / "keycloak.json").unlink(missing_ok=True)
    if info is None:
        return False
    _stop(info.pid)
    return True


def _stop(pid: int, timeout: float = 30) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):  # an exited child of this process stays a zombie: not alive
            return
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)


def dev_credentials(client_id: str, issuer: str) -> ClientCredentials:
    """A client of the development realm, with the secret or key the realm was made with."""
    known = json.loads((DEPLOY / "dev-credentials.json").read_text())
    key_file = known["private_keys"].get(client_id)
    return ClientCredentials(
        client_id=client_id,
        token_endpoint=f"{issuer}/protocol/openid-connect/token",
        secret=known["secrets"].get(client_id),
        private_key_pem=(DEPLOY / key_file).read_text() if key_file else None,
    )
