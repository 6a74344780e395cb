"""FHIR errors: every refusal is an OperationOutcome whose issues name the element and the problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import ValidationError

from adapters.nhs_fhir.codes import FHIR_JSON


@dataclass(frozen=True)
class Issue:
    code: str  # FHIR issue-type: invalid, structure, required, value, not-found, duplicate, not-supported, too-long
    diagnostics: str
    expression: str | None = None
    severity: str = "error"


@dataclass
class FhirProblem(Exception):
    status: int
    issues: list[Issue] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(i.diagnostics for i in self.issues)


def operation_outcome(issues: list[Issue]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": i.severity,
                "code": i.code,
                "diagnostics": i.diagnostics,
                **({"expression": [i.expression]} if i.expression else {}),
            }
            for i in issues
        ],
    }


def fhir_response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def problem_response(problem: FhirProblem) -> JSONResponse:
    return fhir_response(operation_outcome(problem.issues), problem.status)


def fhirpath(root: str, loc: tuple[Any, ...]) -> str:
    """A pydantic error location as a FHIRPath-like expression: Bundle.entry[1].resource.status."""
    path = root
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("__root__",):
            continue
        else:
            path += f".{part}".replace("for_fhir", "for")
    return path


def from_validation_error(root: str, exc: ValidationError, prefix: tuple[Any, ...] = ()) -> FhirProblem:
    issues = [
        Issue(
            "structure" if e["type"] in ("missing", "extra_forbidden", "model_type") else "value",
            e["msg"],
            fhirpath(root, (*prefix, *e["loc"])),
        )
        for e in exc.errors()[:20]
    ]
    return FhirProblem(400, issues)
