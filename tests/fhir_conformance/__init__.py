"""HAPI FHIR, the reference Java implementation, as a third party checking the hub's FHIR facade:
its instance validator (against the R4 core definitions, offline) and its generic client.

The jars come from Maven Central through ``pom.xml`` and the two programs in ``src`` are compiled
against them, once per version of the pom and the sources, into the same cache as the broker."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from hub.devtools.kafka_local import default_cache_dir, require_tools

HERE = Path(__file__).parent
POM = HERE / "pom.xml"
SOURCES = sorted((HERE / "src").glob("*.java"))


@dataclass(frozen=True)
class ValidationMessage:
    file: str
    severity: str
    location: str
    message: str


def classpath() -> str:
    """The jars and compiled programs, resolved and built on first use."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in (POM, *SOURCES))).hexdigest()[:16]
    home = default_cache_dir() / f"hapi-fhir-{digest}"
    lib, classes, marker = home / "lib", home / "classes", home / ".complete"
    if not marker.exists():
        _, mvn = require_tools()
        if home.exists():
            shutil.rmtree(home)
        classes.mkdir(parents=True)
        run = [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={lib}"]
        subprocess.run([*run, "-DincludeScope=runtime"], check=True, capture_output=True, text=True)
        javac = shutil.which("javac")
        if javac is None:
            raise RuntimeError(
                "javac (a JDK 17) is needed for the FHIR conformance tests: apt-get install openjdk-17-jdk"
            )
        subprocess.run([javac, "-cp", f"{lib}/*", "-d", str(classes), *map(str, SOURCES)], check=True)
        marker.write_text(digest)
    return f"{lib}/*:{classes}"


def validate(files: list[Path]) -> list[ValidationMessage]:
    """Every message HAPI's validator has about the files (one JVM for all of them)."""
    java, _ = require_tools()
    ran = subprocess.run(
        [java, "-cp", classpath(), "Validate", *map(str, files)], capture_output=True, text=True, timeout=600
    )
    if ran.returncode != 0:
        raise RuntimeError(f"the validator failed:\n{ran.stderr[-3000:]}")
    found = [ValidationMessage(*line.split("\t", 3)) for line in ran.stdout.splitlines() if line.count("\t") >= 3]
    done = {m.file for m in found if m.severity == "done"}
    missing = {str(f) for f in files} - done
    if missing:
        raise RuntimeError(f"the validator did not finish {sorted(missing)}:\n{ran.stderr[-3000:]}")
    return [m for m in found if m.severity != "done"]


def provider_client(base_url: str, token: str, ods_code: str, advice_bundle: Path) -> subprocess.CompletedProcess[str]:
    """HAPI's generic client playing an NHS provider's system (src/ProviderClient.java)."""
    java, _ = require_tools()
    command = [java, "-cp", classpath(), "ProviderClient", base_url, ods_code, str(advice_bundle)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={"HUB_TOKEN": token, "PATH": ""})
