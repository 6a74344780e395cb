"""FHIR errors: every refusal is an OperationOutcome whose issues name the element and the problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

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


def fhirpath(root: str, loc: tuple[Any, ...], doc: Any = None) -> str:
    """A pydantic error location as FHIRPath: ``Bundle.entry[1].resource.ofType(Task).status``.
    Given the document, each nested resource is named by its type, as FHIRPath needs to say which
    of the resources a Bundle entry may hold the path goes through."""
    path, node = root, doc
    for part in loc:
        if part in ("__root__",):
            continue
        node = _step(node, part)
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        path += f".{part}".replace("for_fhir", "for")
        if part == "resource" and isinstance(node, dict) and isinstance(node.get("resourceType"), str):
            path += f".ofType({node['resourceType']})"
    return path


def entry_path(index: int, resource: dict[str, Any]) -> str:
    """FHIRPath of a Bundle entry's resource, by its type: ``Bundle.entry[2].resource.ofType(Patient)``."""
    return fhirpath("Bundle", ("entry", index, "resource"), {"entry": {index: {"resource": resource}}})


def _step(node: Any, part: Any) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return None


def validate_resource(
    model: type[BaseModel], value: Any, root: str, prefix: tuple[Any, ...] = (), doc: Any = None
) -> None:
    """Validate ``value`` (at ``prefix`` within ``doc``) with a fhir.resources model, refusing it
    with an OperationOutcome naming the element. Some of the models' own validators fail with a
    TypeError or AttributeError on a value of the wrong JSON type (a number where a url belongs):
    that is bad input too, named as far as the resource."""
    try:
        model.model_validate(value)
    except ValidationError as exc:
        raise from_validation_error(root, exc, prefix, doc) from None
    except (TypeError, AttributeError, ValueError):
        where = fhirpath(root, prefix, doc)
        raise FhirProblem(400, [Issue("value", f"{where} holds a value of the wrong type", where)]) from None


def from_validation_error(
    root: str, exc: ValidationError, prefix: tuple[Any, ...] = (), doc: Any = None
) -> FhirProblem:
    issues = [
        Issue(
            "structure" if e["type"] in ("missing", "extra_forbidden", "model_type") else "value",
            e["msg"],
            fhirpath(root, (*prefix, *e["loc"]), doc),
        )
        for e in exc.errors()[:20]
    ]
    return FhirProblem(400, issues)
