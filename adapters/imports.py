"""CSV imports of any size, as jobs: the file streams to disk under a size limit, then its rows are
read, mapped and submitted a batch at a time, so memory stays flat however many rows there are
and the event loop keeps serving while a million rows go in.

Parsing and mapping run in a worker thread; only submitting a batch (judging, publishing) runs on
the event loop, one batch at a time. The answer gives the counts and the first problems; the full
list is a CSV report to download, its values neutralised against spreadsheet formulas. A client
that asks ``Prefer: respond-async`` is answered 202 as soon as the file is in, and follows the job.

Jobs live in the instance that took the file, and are kept for an hour after they finish.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, cast

from anyio import to_thread
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse

from adapters.access import Caller, own_organisation, permit, refuse_foreign_claims
from adapters.common import EventPort, Submission
from adapters.csv_rows import MappedRow, Row, RowMapper, RowProblem, map_row, neutralise, read_rows
from adapters.http import Port, row_id_for

BATCH_ROWS = 1000
PROBLEMS_INLINE = 100
KEEP_SECONDS = 3600.0
MAX_JOBS = 200
REPORT_COLUMNS = ("line", "field", "rule", "message")


@dataclass
class ImportJob:
    """One file's import: where it is, and how far it has got."""

    id: str
    kind: str
    owner: str
    upload: Path
    report: Path
    bytes_total: int = 0
    bytes_read: int = 0
    state: str = "receiving"  # receiving, running, done or failed
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    failure: Exception | None = None
    finished_at: float | None = None
    task: asyncio.Task[None] | None = None

    def summary(self) -> dict[str, Any]:
        link = f"/api/v1/imports/jobs/{self.id}"
        return {
            "job": link,
            "kind": self.kind,
            "state": self.state,
            "bytes": self.bytes_total,
            "bytes_read": self.bytes_read,
            "rows": self.rows,
            "imported": self.imported,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "problems": self.problems,
            "problems_shown": len(self.problems),
            "report": f"{link}/problems.csv",
            "error": self.error,
        }

    def note(self, problem: RowProblem, report: Any) -> None:
        found = problem.__dict__
        self.rejected += 1
        if len(self.problems) < PROBLEMS_INLINE:
            self.problems.append(found)
        report.writerow([neutralise(str(found[c] if found[c] is not None else "")) for c in REPORT_COLUMNS])


class ImportJobs:
    """The jobs this instance holds: bounded in number, each removed (files too) an hour after it ends."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._jobs: dict[str, ImportJob] = {}
        self._dir: Path | None = None

    def create(self, kind: str, owner: str) -> ImportJob:
        self._evict()
        if len(self._jobs) >= MAX_JOBS:
            raise HTTPException(429, "too many imports are running here; try again shortly", {"Retry-After": "60"})
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="ehc-hub-imports-"))
        job_id = uuid.uuid4().hex
        job = ImportJob(job_id, kind, owner, self._dir / f"{job_id}.csv", self._dir / f"{job_id}.problems.csv")
        self._jobs[job_id] = job
        return job

    def get(self, job_id: str, owner: str) -> ImportJob:
        """The caller's own job; another organisation's is as unknown as one that never was."""
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise HTTPException(404, f"no import job {job_id!r} here (jobs are kept for an hour)")
        return job

    def discard(self, job: ImportJob) -> None:
        self._jobs.pop(job.id, None)
        job.upload.unlink(missing_ok=True)
        job.report.unlink(missing_ok=True)

    def close(self) -> None:
        for job in list(self._jobs.values()):
            if job.task is not None:
                job.task.cancel()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._jobs.clear()

    def _evict(self) -> None:
        now = time.monotonic()
        for job in list(self._jobs.values()):
            if job.finished_at is not None and now - job.finished_at > KEEP_SECONDS:
                self.discard(job)


def _jobs(request: Request) -> ImportJobs:
    jobs: ImportJobs = request.app.state.import_jobs
    return jobs


Jobs = Annotated[ImportJobs, Depends(_jobs)]


class FileTooLarge(Exception):
    pass


class NotUtf8(Exception):
    pass


async def spool(request: Request, job: ImportJob, limit: int) -> None:
    """Stream the request body into the job's file, checking size and UTF-8 as it arrives."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with job.upload.open("wb") as out:
        async for chunk in request.stream():
            job.bytes_total += len(chunk)
            if job.bytes_total > limit:
                raise FileTooLarge
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                raise NotUtf8 from None
            out.write(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise NotUtf8 from None


class _Counted(io.RawIOBase):
    """A binary file that tells the job how far it has been read."""

    def __init__(self, raw: IO[bytes], job: ImportJob) -> None:
        self.raw, self.job = raw, job

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)  # type: ignore[attr-defined]
        self.job.bytes_read += n or 0
        return int(n or 0)


def _batches(job: ImportJob, mapper: RowMapper) -> Iterator[list[tuple[Row, MappedRow | RowProblem] | RowProblem]]:
    with job.upload.open("rb", buffering=0) as raw:
        text = io.TextIOWrapper(io.BufferedReader(_Counted(raw, job)), encoding="utf-8-sig", newline="")
        batch: list[tuple[Row, MappedRow | RowProblem] | RowProblem] = []
        for row in read_rows(cast(io.TextIOBase, text)):
            batch.append(row if isinstance(row, RowProblem) else (row, map_row(row, mapper)))
            if len(batch) == BATCH_ROWS:
                yield batch
                batch = []
        if batch:
            yield batch


async def run_import(job: ImportJob, mapper: RowMapper, port: EventPort, caller: Caller) -> None:
    """Read, map and submit the job's rows a batch at a time; every problem goes to the report."""
    org = own_organisation(caller)
    job.state = "running"
    batches = _batches(job, mapper)
    ahead: asyncio.Future[Any] | None = None
    try:
        with job.report.open("w", newline="", encoding="utf-8") as out:
            report = csv.writer(out)
            report.writerow(REPORT_COLUMNS)
            ahead = asyncio.ensure_future(to_thread.run_sync(next, batches, None))
            while (batch := await ahead) is not None:
                ahead = asyncio.ensure_future(to_thread.run_sync(next, batches, None))  # read on while this goes in
                submissions, rows = [], []
                for item in batch:
                    job.rows += 1
                    if isinstance(item, RowProblem):
                        job.note(item, report)
                        continue
                    row, mapped = item
                    if isinstance(mapped, RowProblem):
                        job.note(mapped, report)
                        continue
                    try:
                        refuse_foreign_claims(caller, mapped.event)
                    except HTTPException as exc:
                        job.note(RowProblem(row.line, "(row)", "sender-authority", str(exc.detail)), report)
                        continue
                    submissions.append(Submission(mapped.event, org.source, row_id_for(job.kind, row.text), sender=org))
                    rows.append(row)
                for row, result in zip(rows, await port.submit_many(submissions), strict=True):
                    if result.outcome == "rejected":
                        job.note(
                            RowProblem(row.line, result.field or "(row)", result.rule or "", result.message), report
                        )
                    else:
                        job.imported += result.outcome == "accepted"
                        job.unchanged += result.outcome == "unchanged"
        job.state = "done"
    except Exception as exc:  # the job reports what stopped it; rows submitted before it stand
        job.state, job.error, job.failure = "failed", f"{type(exc).__name__}: {exc}", exc
    finally:
        if ahead is not None:
            ahead.cancel()  # a batch read ahead of a failure is not wanted
        job.finished_at = time.monotonic()
        job.upload.unlink(missing_ok=True)


def add_csv_endpoint(router: APIRouter, kinds: Mapping[str, RowMapper]) -> None:
    """POST /imports/{kind} with a CSV body: good rows are imported, bad ones reported by line.

    Each row is held to the same rules as the same event sent alone: a row for another council,
    or one the caller may not submit, is reported as refused and the rest go ahead."""

    async def import_csv(
        kind: str,
        request: Request,
        port: Port,
        jobs: Jobs,
        prefer: str | None = Header(default=None, description="respond-async: answer 202 once the file is in"),
        caller: Caller = permit("import:csv"),
    ) -> JSONResponse:
        mapper = kinds.get(kind)
        if mapper is None:
            return JSONResponse(status_code=404, content={"error": f"unknown import {kind!r}", "kinds": sorted(kinds)})
        job = jobs.create(kind, own_organisation(caller).source)
        limit = jobs.max_bytes
        try:
            await spool(request, job, limit)
        except FileTooLarge:
            jobs.discard(job)
            return JSONResponse(status_code=413, content={"error": f"file exceeds {limit} bytes", "rule": "max-size"})
        except NotUtf8:
            jobs.discard(job)
            return JSONResponse(status_code=400, content={"error": "file is not UTF-8 text", "rule": "utf-8"})
        job.task = asyncio.create_task(run_import(job, mapper, port, caller))
        if prefer and "respond-async" in prefer.lower():
            summary = job.summary()
            return JSONResponse(status_code=202, content=summary, headers={"Location": summary["job"]})
        await asyncio.shield(job.task)  # a client that goes away does not stop the import
        if job.failure is not None:
            raise job.failure  # Unavailable answers 503; the rows before it stand, and a resend skips them
        return JSONResponse(content=job.summary())

    router.add_api_route(
        "/imports/{kind}",
        import_csv,
        methods=["POST"],
        summary="Import a CSV export",
        responses={
            200: {"description": "the report: rows imported, unchanged and refused, the first problems by line"},
            202: {"description": "with Prefer: respond-async, the job to follow (its Location)"},
            400: {"description": "the file is not UTF-8 text"},
            404: {"description": "no such import; the body lists the kinds"},
            413: {"description": "the file is too large"},
        },
        openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )


router = APIRouter(prefix="/api/v1/imports/jobs", tags=["imports"])


@router.get("/{job_id}", summary="How far an import has got: rows read, imported and refused")
async def import_job(job_id: str, jobs: Jobs, caller: Caller = permit("import:csv")) -> dict[str, Any]:
    return jobs.get(job_id, own_organisation(caller).source).summary()


@router.get(
    "/{job_id}/problems.csv",
    summary="Every problem an import found, by line, as CSV",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def import_problems(job_id: str, jobs: Jobs, caller: Caller = permit("import:csv")) -> FileResponse:
    job = jobs.get(job_id, own_organisation(caller).source)
    return FileResponse(job.report, media_type="text/csv", filename=f"import-{job.id}-problems.csv")
