"""The ``hub`` command: run the hub, manage the local Kafka, topics, schemas and dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar, cast, get_args

import typer

from hub.devtools import kafka_local
from hub.logging import configure_logging
from hub.pipeline.publisher import EventPublisher, TopicNames
from hub.settings import Settings, get_settings

app = typer.Typer(help="EHC integration hub", no_args_is_help=True, pretty_exceptions_enable=False)
kafka_app = typer.Typer(help="A local Apache Kafka broker for development and tests (needs Java 17+ and Maven)")
topics_app = typer.Typer(help="The topic catalogue")
schemas_app = typer.Typer(help="Canonical event contracts")
dlq_app = typer.Typer(help="Dead letters: list, show, redrive")
idp_app = typer.Typer(help="A local Keycloak as the OpenID Connect issuer for development (needs Java 17+ and Maven)")
app.add_typer(kafka_app, name="kafka")
app.add_typer(idp_app, name="idp")
app.add_typer(topics_app, name="topics")
app.add_typer(schemas_app, name="schemas")
deploy_app = typer.Typer(help="Deployment files generated from the topic catalogue")
app.add_typer(deploy_app, name="deploy")
app.add_typer(dlq_app, name="dlq")

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _bootstrap(settings: Settings) -> str:
    from hub.wiring import resolve_bootstrap

    try:
        return resolve_bootstrap(settings, start_local=False)[0]
    except kafka_local.LocalKafkaError as exc:
        _fail(str(exc))
        raise  # unreachable


def _print(doc: Any) -> None:
    typer.echo(json.dumps(doc, indent=2, default=str))


@app.command()
def run(
    local_kafka: Annotated[
        bool, typer.Option(help="start the local broker when KAFKA_BOOTSTRAP_SERVERS is unset")
    ] = True,
    roles: Annotated[
        str | None,
        typer.Option(
            help="route, dispatch or both (comma-separated), or intake alone for HTTP only; default HUB_ROLES,"
            " which is route and dispatch"
        ),
    ] = None,
) -> None:
    """Run the hub (consumers, HTTP ingress, ops API) on Kafka and the configured store."""
    from hub.devtools import keycloak_local
    from hub.wiring import StartupFailure, resolve_bootstrap, serve

    settings = get_settings()
    if roles is not None:
        chosen = [r.strip() for r in roles.split(",") if r.strip()]
        unknown = sorted(set(chosen) - {"intake", "route", "dispatch"})
        if unknown or not chosen:
            _fail(f"--roles takes route and/or dispatch, or intake, not {', '.join(unknown) or 'nothing'}")
            return
        settings.roles = chosen  # type: ignore[assignment]
    configure_logging(settings.log_format, settings.log_level)
    idp_started = False
    if settings.auth.issuer is None:
        if settings.http_host not in LOOPBACK:
            _fail(
                f"HUB_AUTH__ISSUER is unset, and the development identity provider serves only a hub on 127.0.0.1,"
                f" not {settings.http_host}: set HUB_AUTH__ISSUER and HUB_AUTH__CLIENTS_FILE (see README)"
            )
            return
        try:
            local = keycloak_local.status()
            if local is None:
                typer.echo("starting the local Keycloak (the first start downloads it)", err=True)
                local, idp_started = keycloak_local.up(), True
        except keycloak_local.LocalKeycloakError as exc:
            _fail(str(exc))
            return
        settings.auth.issuer = local.issuer
        settings.auth.clients_file = settings.auth.clients_file or keycloak_local.CLIENTS_FILE
        typer.echo(
            f"DEVELOPMENT IDENTITY PROVIDER at {local.issuer}: the realm in deploy/keycloak has published secrets"
            " and passwords; never use it beyond this machine (set HUB_AUTH__ISSUER for a real one)",
            err=True,
        )
    try:
        bootstrap, started = resolve_bootstrap(settings, start_local=local_kafka)
    except kafka_local.LocalKafkaError as exc:
        _fail(str(exc))
        return
    # uvicorn re-raises SIGTERM once it has shut down; exiting through SystemExit lets the
    # broker and identity provider this command started stop with it, as they do on Ctrl-C.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        serve(settings, bootstrap)
    except StartupFailure as exc:
        _fail(str(exc), code=1)
    finally:
        if started:  # a broker this command started goes down with it; one started by `hub kafka up` stays
            kafka_local.down()
        if idp_started:
            keycloak_local.down()


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@idp_app.command("up")
def idp_up() -> None:
    """Start Keycloak with the development realm (downloads it once) and print its issuer URL."""
    from hub.devtools import keycloak_local

    try:
        typer.echo(keycloak_local.up().issuer)
    except keycloak_local.LocalKeycloakError as exc:
        _fail(str(exc))


@idp_app.command("down")
def idp_down() -> None:
    from hub.devtools import keycloak_local

    typer.echo("stopped" if keycloak_local.down() else "not running")


@idp_app.command("status")
def idp_status() -> None:
    """Print the issuer URL of the running local Keycloak; exit 1 if none."""
    from hub.devtools import keycloak_local

    info = keycloak_local.status()
    if info is None:
        _fail("not running", 1)
        return
    typer.echo(info.issuer)


@kafka_app.command("up")
def kafka_up(
    nodes: Annotated[int, typer.Option(help="1, or 3 for failure tests")] = 1,
    secure: Annotated[
        bool, typer.Option(help="SASL/SCRAM-SHA-512 users and KRaft's StandardAuthorizer (deny unless an ACL allows)")
    ] = False,
) -> None:
    """Start the local broker (downloads the jars once) and print its bootstrap address."""
    try:
        info = kafka_local.up(nodes=nodes, secure=secure)
    except kafka_local.LocalKafkaError as exc:
        _fail(str(exc))
        return
    typer.echo(info.bootstrap_servers)
    if info.secure:
        hub = info.client_config("hub")
        typer.echo(
            "SASL users (development passwords): "
            + ", ".join(kafka_local.LOCAL_PRINCIPALS)
            + "\nrun the hub as its own principal, after applying the ACLs as admin:\n"
            + f"  export KAFKA_BOOTSTRAP_SERVERS={info.bootstrap_servers} HUB_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT"
            + f" HUB_KAFKA_SASL_MECHANISM={kafka_local.SCRAM}\n"
            + f"  HUB_KAFKA_SASL_USERNAME=admin HUB_KAFKA_SASL_PASSWORD={kafka_local.local_password('admin')}"
            + " hub topics apply --acls\n"
            + f"  HUB_KAFKA_SASL_USERNAME=hub HUB_KAFKA_SASL_PASSWORD={hub['sasl_plain_password']} hub run"
        )


@kafka_app.command("down")
def kafka_down() -> None:
    """Stop the local broker cleanly; its data is kept for the next `up`."""
    typer.echo("stopped" if kafka_local.down() else "not running")


@kafka_app.command("reset")
def kafka_reset(
    yes: Annotated[bool, typer.Option("--yes", help="do not ask: delete every topic and record")] = False,
) -> None:
    """Stop the local broker and delete its data: every topic and record. `down` keeps them."""
    if not yes and not typer.confirm("Delete the local broker's topics and records?", default=False):
        _fail("nothing deleted")
        return
    typer.echo("deleted" if kafka_local.reset() else "nothing to delete")


@kafka_app.command("status")
def kafka_status() -> None:
    """Print the bootstrap address of the running local broker; exit 1 if none."""
    info = kafka_local.status()
    if info is None:
        typer.echo("not running")
        raise typer.Exit(1)
    typer.echo(f"running: {info.bootstrap_servers} ({len(info.nodes)} node(s), cluster {info.cluster_id})")


@topics_app.command("apply")
def topics_apply(
    acls: Annotated[
        bool, typer.Option(help="also apply the catalogue's ACLs (needs an administrator's Kafka credentials)")
    ] = False,
) -> None:
    """Create missing topics and align configs of existing ones (safe to run any number of times)."""
    from hub.wiring import apply_catalogue_acls, ensure_topics

    settings = get_settings()
    bootstrap = _bootstrap(settings)
    created, existing = _run(ensure_topics(settings, bootstrap))
    typer.echo(f"created {len(created)}, already present {len(existing)}")
    for name in created:
        typer.echo(f"  + {name}")
    if acls:
        typer.echo(f"applied {apply_catalogue_acls(settings, bootstrap)} ACLs")


@topics_app.command("list")
def topics_list() -> None:
    """Show the catalogue: name, cleanup policy, retention and purpose."""
    from hub.topics import catalogue

    settings = get_settings()
    for spec in catalogue(len(settings.retry_delays_seconds)):
        policy = "compact" if spec.compacted else "delete"
        retention = "forever" if spec.retention_ms == "-1" else f"{int(spec.retention_ms) // 3600000}h"
        typer.echo(f"{settings.topic_prefix}{spec.name:45} {policy:8} {retention:8} {spec.purpose}")


@schemas_app.command("export")
def schemas_export(
    out: Annotated[Path, typer.Option(help="directory for the JSON Schema files")] = Path("build/schemas"),
) -> None:
    """Write one JSON Schema file per event version (and the envelope)."""
    from schemas.export import write_schemas

    for path in write_schemas(out):
        typer.echo(str(path))


@schemas_app.command("check")
def schemas_check() -> None:
    """Fail when a published event version changed in a way that old records could not be read."""
    from schemas.export import check_published, unpublished

    problems = check_published()
    for name, found in problems.items():
        for p in found:
            typer.echo(f"{name}: {p}", err=True)
    new = unpublished()
    if new:
        typer.echo("not yet published (run `hub schemas publish`): " + ", ".join(new))
    if problems:
        raise typer.Exit(1)
    typer.echo("published event versions are backward compatible")


@schemas_app.command("publish")
def schemas_publish() -> None:
    """Record the current schemas as published (only after `hub schemas check` passes)."""
    from schemas.export import PUBLISHED_DIR, check_published, write_schemas

    if check_published():
        _fail("breaking changes to published versions; add a new version instead")
    write_schemas(PUBLISHED_DIR)
    typer.echo(f"published to {PUBLISHED_DIR}")


@app.command("settings")
def settings_reference() -> None:
    """Every setting: its environment variable, its default and what it changes (Markdown)."""
    from hub.settings import reference_table

    typer.echo(reference_table(), nl=False)


@app.command()
def asyncapi(out: Annotated[Path | None, typer.Option(help="write to a file instead of stdout")] = None) -> None:
    """Print the AsyncAPI 3 document generated from the hub's FastStream app."""
    from hub.wiring import HubRuntime

    settings = get_settings()
    doc = HubRuntime(settings, settings.kafka_bootstrap_servers or "localhost:9092").asyncapi().to_json()
    if out:
        out.write_text(doc)
    else:
        typer.echo(doc)


@app.command()
def send(path: Annotated[str, typer.Argument(help="a CloudEvent JSON file, or - for standard input")]) -> None:
    """Validate one canonical event and publish it to its topic."""
    from hub.http.ingress import complete_envelope
    from hub.pipeline.kafka_client import AioKafkaProducerAdapter
    from schemas.envelope import EventRejected, decode

    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    settings = get_settings()
    try:
        doc = json.loads(text)
        envelope, event = decode(json.dumps(complete_envelope(doc, "/cli")).encode())
    except json.JSONDecodeError as exc:
        _fail(f"not JSON: {exc}")
        return
    except EventRejected as exc:
        _fail(f"invalid event: {exc.reason} (field {exc.field}, rule {exc.rule})")
        return

    async def publish(store: Any) -> Any:
        from hub.privacy.service import Privacy

        producer = AioKafkaProducerAdapter(_bootstrap(settings), settings)
        await producer.start()
        try:
            publisher = EventPublisher(
                producer, TopicNames(settings.topic_prefix), Privacy.configured(settings.privacy, store.db)
            )
            return await (await publisher.event(event, envelope))
        finally:
            await producer.stop()

    meta = _with_store(publish)
    typer.echo(f"sent {envelope.id} to {event.topic} partition {meta.partition} offset {meta.offset}")


def _with_store(fn: Callable[[Any], Awaitable[T]]) -> T:
    from hub.store import Store

    async def go() -> T:
        store = Store(get_settings().database_url)
        await store.create_schema()
        try:
            return await fn(store)
        finally:
            await store.close()

    return _run(go())


@app.command()
def demo(url: Annotated[str, typer.Option(help="the running hub")] = "") -> None:
    """Play synthetic journeys through every agency on the running hub (start it with `hub run`)."""
    import contextlib

    import httpx

    from hub.auth.client_credentials import BearerAuth, TokenSource
    from hub.devtools import keycloak_local
    from hub.devtools.demo import DEMO_CLIENTS, Demo
    from hub.ops.scheduler import london_today

    settings = get_settings()
    base = url or f"http://{settings.http_host}:{settings.http_port}"
    bootstrap = _bootstrap(settings)
    local = keycloak_local.status()
    issuer = settings.auth.issuer or (local.issuer if local else None)
    if issuer is None:
        _fail("no identity provider: `hub run` starts the local Keycloak, or set HUB_AUTH__ISSUER")
        return

    async def go() -> dict[str, Any]:
        async with contextlib.AsyncExitStack() as stack:
            clients = {
                part: await stack.enter_async_context(
                    httpx.AsyncClient(
                        base_url=base,
                        timeout=30,
                        auth=BearerAuth(TokenSource(keycloak_local.dev_credentials(client_id, issuer))),
                    )
                )
                for part, client_id in DEMO_CLIENTS.items()
            }
            return await Demo(clients, bootstrap, settings.topic_prefix, typer.echo).run(london_today())

    try:
        result = _run(go())
    except (httpx.ConnectError, RuntimeError) as exc:
        _fail(f"{exc} (is `hub run` serving {base}?)")
        return
    typer.echo(f"\nSee for yourself: {base}/ (sign in as oscar.operator), or")
    for case_id in result["cases"]:
        typer.echo(f"  hub trace {case_id}")
    typer.echo("  hub dlq list")


@app.command("import")
def import_file(
    path: Annotated[Path, typer.Argument(help="the CSV file", exists=True, dir_okay=False)],
    kind: Annotated[str, typer.Option(help="what the file holds, e.g. assessment-requests")],
    client_id: Annotated[str, typer.Option(envvar="HUB_CLIENT_ID", help="the agency's client id")],
    client_secret: Annotated[
        str | None, typer.Option(envvar="HUB_CLIENT_SECRET", help="its secret; without one, the development realm's")
    ] = None,
    url: Annotated[str, typer.Option(help="the running hub")] = "",
) -> None:
    """Import a CSV export through the running hub, following it with a progress bar; every problem
    found is saved beside the file as FILE.problems.csv."""
    import httpx

    from adapters.childrens_social_care.mapping import CSV_KINDS as CSC_KINDS
    from adapters.education.mapping import CSV_KINDS as EDUCATION_KINDS
    from hub.auth.client_credentials import BearerAuth, ClientCredentials, TokenSource
    from hub.devtools import keycloak_local

    routes = {
        **{k: "/api/v1/imports" for k in EDUCATION_KINDS},
        **{k: "/api/v1/social-care/imports" for k in CSC_KINDS},
    }
    if kind not in routes:
        _fail(f"unknown import {kind!r}; one of {', '.join(sorted(routes))}")
    settings = get_settings()
    base = url or f"http://{settings.http_host}:{settings.http_port}"
    local = keycloak_local.status()
    issuer = settings.auth.issuer or (local.issuer if local else None)
    if issuer is None:
        _fail("no identity provider: set HUB_AUTH__ISSUER")
        return
    credentials = (
        ClientCredentials(client_id, f"{issuer}/protocol/openid-connect/token", secret=client_secret)
        if client_secret
        else keycloak_local.dev_credentials(client_id, issuer)
    )

    async def go() -> dict[str, Any]:
        auth = BearerAuth(TokenSource(credentials))
        async with httpx.AsyncClient(base_url=base, timeout=60, auth=auth) as client:

            async def chunks() -> AsyncIterator[bytes]:
                with path.open("rb") as upload:
                    while block := upload.read(1024 * 1024):
                        yield block

            answer = await client.post(
                f"{routes[kind]}/{kind}",
                content=chunks(),
                headers={"content-type": "text/csv", "Prefer": "respond-async"},
            )
            if answer.status_code != 202:
                _fail(f"{answer.status_code}: {answer.text[:500]}")
            job = answer.headers["location"]
            with typer.progressbar(length=path.stat().st_size, label=f"importing {path.name}", file=sys.stderr) as bar:
                done = 0
                while True:
                    progress = (await client.get(job)).json()
                    bar.update(progress["bytes_read"] - done)
                    done = progress["bytes_read"]
                    if progress["state"] not in ("receiving", "running"):
                        break
                    await asyncio.sleep(0.5)
            report = await client.get(progress["report"])
            path.with_suffix(".problems.csv").write_bytes(report.content)
            return dict(progress)

    try:
        result = _run(go())
    except httpx.HTTPError as exc:
        _fail(f"{exc} (is `hub run` serving {base}?)")
        return
    for key in ("problems", "problems_shown", "job", "report", "bytes", "bytes_read"):
        result.pop(key, None)
    _print(result)
    typer.echo(f"problems: {path.with_suffix('.problems.csv')}", err=True)
    if result["state"] != "done":
        raise typer.Exit(1)


@app.command()
def trace(
    case_id: str,
    show_personal_data: Annotated[bool, typer.Option(help="show names, NHS number and date of birth")] = False,
) -> None:
    """Show everything that happened to one case: events in, deliveries out, dead letters."""
    from hub.auth.masking import mask

    result = _with_store(lambda store: store.trace(case_id))
    if result["case"] is None and not result["dead_letters"]:
        _fail(f"no case {case_id!r} is known to the hub", 1)
    _print(result if show_personal_data else mask(result))


@app.command()
def sar(
    identifier: Annotated[str, typer.Argument(help="the person's identifier, e.g. an NHS number")],
    identifier_type: Annotated[str, typer.Option("--type", help="nhs_number, upn, uln or la_person_id")] = "nhs_number",
    la_code: Annotated[str | None, typer.Option(help="the council of an la_person_id")] = None,
    html: Annotated[Path | None, typer.Option(help="also write the export as a printable page here")] = None,
    show_third_parties: Annotated[
        bool, typer.Option(help="show other people in the records, for review before release")
    ] = False,
    actor: Annotated[str, typer.Option(help="who is making the export (audited)", envvar="USER")] = "operator",
) -> None:
    """Everything the hub holds on one person (a subject access request), as JSON on standard
    output; audited on the operator audit topic, so the broker must be reachable."""
    from fastapi.encoders import jsonable_encoder

    from hub.ops.subject_access import audit_record, export_for
    from hub.ops.subject_access_report import render_html

    key = _subject(identifier_type, identifier, la_code)
    settings = get_settings()
    bootstrap = _bootstrap(settings)

    async def go(store: Any) -> dict[str, Any]:
        export = await export_for(
            store, key, actor=f"cli {actor}", third_parties="shown" if show_third_parties else "redacted"
        )
        await _audited(settings, bootstrap, store, audit_record(export, key, f"cli {actor}"))
        return export

    export = jsonable_encoder(_with_store(go))
    if html is not None:
        html.write_text(render_html(export))
    _print(export)


def _subject(identifier_type: str, identifier: str, la_code: str | None) -> tuple[str, str]:
    """A person's identifier from the command line, checked as the ops API checks it."""
    from hub.ops.subject_access import IdentifierRefused, IdentifierType, subject_identifier

    if identifier_type not in get_args(IdentifierType):
        _fail(f"--type must be one of {', '.join(get_args(IdentifierType))}, not {identifier_type!r}")
    try:
        return subject_identifier(identifier_type, identifier, la_code)  # type: ignore[arg-type]
    except IdentifierRefused as exc:
        _fail(f"identifier: {exc}")


async def _audited(settings: Settings, bootstrap: str, store: Any, record: dict[str, Any]) -> None:
    """An operator action done from the command line, on the audit topic and in the store's index."""
    from hub.ops.audit import record_operator_action
    from hub.pipeline.kafka_client import AioKafkaProducerAdapter

    producer = AioKafkaProducerAdapter(bootstrap, settings)
    await producer.start()
    try:
        await record_operator_action(EventPublisher(producer, TopicNames(settings.topic_prefix)), store, record)
    finally:
        await producer.stop()


@app.command()
def erase(
    identifier: Annotated[str, typer.Argument(help="the person's identifier, e.g. an NHS number")],
    reason: Annotated[str, typer.Option(help="subject-request, retention or other (recorded in the erasure log)")],
    identifier_type: Annotated[str, typer.Option("--type", help="nhs_number, upn, uln or la_person_id")] = "nhs_number",
    la_code: Annotated[str | None, typer.Option(help="the council of an la_person_id")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask first")] = False,
    actor: Annotated[str, typer.Option(help="who is erasing (audited)", envvar="USER")] = "operator",
) -> None:
    """Erase one person: their data keys destroyed, so every sealed copy of their details on the
    topics is unreadable, and the store redacted. Cannot be undone; asks first unless --yes."""
    from fastapi.encoders import jsonable_encoder

    from hub.privacy.erasure import Ground, erase_person, erasure_audit
    from hub.privacy.service import Privacy

    if reason not in get_args(Ground):
        _fail(f"--reason must be one of {', '.join(get_args(Ground))}, not {reason!r}")
    key = _subject(identifier_type, identifier, la_code)
    settings = get_settings()
    if not settings.privacy.seal_personal_data:
        _fail("this hub does not seal personal data (HUB_PRIVACY__SEAL_PERSONAL_DATA): the topics would keep it")
    if not yes and not typer.confirm(f"Erase the person with this {key[0]} for good?", err=True):
        _fail("nothing erased", code=1)
    bootstrap = _bootstrap(settings)

    async def go(store: Any) -> dict[str, Any]:
        privacy = Privacy.configured(settings.privacy, store.db)
        person_key = await store.person_key_for(*key)
        if person_key is None or privacy is None:
            _fail("no person with that identifier is known to the hub (or they were erased before)", code=1)
        ground = cast(Ground, reason)
        erasure = await erase_person(store, privacy, person_key, actor=f"cli {actor}", reason=ground)
        await _audited(settings, bootstrap, store, erasure_audit(erasure, key[0], f"cli {actor}", ground))
        return jsonable_encoder(erasure)

    _print(_with_store(go))


@app.command()
def rebuild() -> None:
    """Rebuild the projection store from the topics, showing progress: a bar on a terminal, a log
    line every ten seconds otherwise."""
    from hub.domain.addressing import Directory
    from hub.ops.rebuild import Progress
    from hub.ops.rebuild import rebuild as do_rebuild
    from hub.pipeline.kafka_client import kafka_client_config
    from hub.privacy.service import Privacy

    settings = get_settings()
    bootstrap = _bootstrap(settings)
    with contextlib.ExitStack() as stack:
        progress: Callable[[int, int], None] = Progress()
        if sys.stderr.isatty():
            progress = _bar_for(stack, "replaying the topics")
        counts = _with_store(
            lambda store: do_rebuild(
                store,
                bootstrap,
                TopicNames(settings.topic_prefix),
                settings.source_uri,
                settings.rules,
                Directory(settings.health_commissioners),
                progress=progress,
                privacy=Privacy.configured(settings.privacy, store.db),
                **kafka_client_config(settings),
            )
        )
    _print(counts)


@app.command("seal-history")
def seal_history(
    from_prefix: Annotated[str, typer.Option(help="the topic prefix the history was written under")],
    delete_old: Annotated[
        bool, typer.Option(help="delete the old topics once every record is on the new ones")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before deleting")] = False,
) -> None:
    """Copy a hub's history from the topics under --from-prefix to this hub's own (HUB_TOPIC_PREFIX),
    sealing the personal parts of every record written before sealing was on, so that an erasure
    reaches them too. Run `hub topics apply` first; the new topics must be empty."""
    from hub.ops.seal_history import HistoryRefused
    from hub.ops.seal_history import seal_history as move
    from hub.pipeline.kafka_client import kafka_client_config
    from hub.privacy.service import Privacy

    settings = get_settings()
    if not settings.privacy.seal_personal_data:
        _fail("this hub does not seal personal data (HUB_PRIVACY__SEAL_PERSONAL_DATA): nothing would be sealed")
    if delete_old and not yes and not typer.confirm(f"Delete the topics under {from_prefix!r} after?", err=True):
        _fail("nothing copied", code=1)
    bootstrap = _bootstrap(settings)

    def progress(topic: str, copied: int) -> None:
        typer.echo(f"{topic}: {copied} records", err=True)

    async def go(store: Any) -> dict[str, Any]:
        privacy = Privacy.configured(settings.privacy, store.db)
        assert privacy is not None
        try:
            report = await move(
                bootstrap,
                TopicNames(from_prefix),
                TopicNames(settings.topic_prefix),
                store,
                privacy,
                len(settings.retry_delays_seconds),
                client_config=kafka_client_config(settings),
                delete_old=delete_old,
                progress=progress,
            )
        except HistoryRefused as exc:
            _fail(str(exc), code=1)
        return dataclasses.asdict(report)

    _print(_with_store(go))


def _bar_for(stack: contextlib.ExitStack, label: str) -> Callable[[int, int], None]:
    """A progress bar that learns its length from the first report."""
    bars: list[Any] = []

    def update(read: int, total: int) -> None:
        if not bars:
            bars.append(stack.enter_context(typer.progressbar(length=total, label=label, file=sys.stderr)))
        if read - bars[0].pos >= 1000 or read == total:  # drawing each record would cost more than reading it
            bars[0].update(read - bars[0].pos)

    return update


@deploy_app.command("manifests")
def deploy_manifests(
    out: Annotated[Path, typer.Option(help="where to write them")] = Path("deploy/kubernetes"),
    image: Annotated[str, typer.Option(help="the hub's container image")] = "ghcr.io/ehc-hub/hub:latest",
    check: Annotated[bool, typer.Option(help="write nothing; exit 1 if the files differ from the catalogue")] = False,
) -> None:
    """Kubernetes manifests: Strimzi Kafka, a KafkaTopic per catalogue entry, a KafkaUser per
    principal with its ACLs, and the hub's Deployments per role."""
    from hub.ops.manifests import differences, kubernetes_manifests, production_settings, write_manifests

    files = kubernetes_manifests(production_settings(), image)
    if check:
        stale = differences(out, files)
        if stale:
            _fail(f"{', '.join(stale)} in {out} differ from the catalogue: run `hub deploy manifests`", 1)
        typer.echo(f"{out}: up to date with the catalogue")
        return
    for path in write_manifests(out, files):
        typer.echo(f"wrote {path}")


@dlq_app.command("list")
def dlq_list(
    case: Annotated[str | None, typer.Option(help="only this case")] = None,
    pending: Annotated[bool, typer.Option(help="only those not yet redriven")] = False,
) -> None:
    """One line per dead letter: id, stage, error, original position, redrives."""
    rows = _with_store(lambda store: store.dead_letters(case, pending_only=pending))
    for r in rows:
        typer.echo(
            f"{r['dlq_id']:10} {r['stage']:9} {r['original_topic']}[{r['original_partition']}]@{r['original_offset']}"
            f" attempts={r['attempts']} redriven={r['redrive_count']} case={r['case_id'] or '-'}"
            f"  {r['exception_class'].rsplit('.', 1)[-1]}: {r['exception_message'][:100]}"
        )
    typer.echo(f"{len(rows)} dead letter(s)")


@dlq_app.command("show")
def dlq_show(dlq_id: str) -> None:
    """A dead letter with all its headers and its value, read from the dead-letter topic."""
    from hub.ops import dlq
    from hub.pipeline.kafka_client import kafka_client_config

    settings = get_settings()
    records = _run(
        dlq.dead_letter_records(
            _bootstrap(settings), TopicNames(settings.topic_prefix), **kafka_client_config(settings)
        )
    )
    counts = {r["dlq_id"]: r["redrive_count"] for r in _with_store(lambda store: store.dead_letters())}
    for record in records:
        if f"{record.partition}-{record.offset}" == dlq_id:
            _print(dlq.describe(record, counts.get(dlq_id, 0)))
            return
    _fail(f"no dead letter {dlq_id!r}", 1)


@dlq_app.command("redrive")
def dlq_redrive(
    ids: Annotated[list[str] | None, typer.Argument(help="dead-letter ids (partition-offset)")] = None,
    all_pending: Annotated[bool, typer.Option("--all", help="every dead letter not yet redriven")] = False,
    case: Annotated[str | None, typer.Option(help="those of one case")] = None,
    event_type: Annotated[str | None, typer.Option("--type", help="those of one event type")] = None,
    stage: Annotated[str | None, typer.Option(help="those that failed at one stage")] = None,
    actor: Annotated[str, typer.Option(help="who is redriving (audited)", envvar="USER")] = "operator",
    reason: Annotated[str, typer.Option(help="why (audited)")] = "",
) -> None:
    """Send dead letters back to their original topics, with lineage, audited."""
    from hub.ops import dlq
    from hub.pipeline.kafka_client import AioKafkaProducerAdapter, kafka_client_config
    from hub.store import Store

    if not (ids or all_pending or case or event_type or stage):
        _fail("say which dead letters: ids, --all, --case, --type or --stage")
    settings = get_settings()
    bootstrap = _bootstrap(settings)

    async def go() -> list[dict[str, Any]]:
        store = Store(settings.database_url)
        producer = AioKafkaProducerAdapter(bootstrap, settings)
        await store.create_schema()
        await producer.start()
        try:
            return await dlq.redrive(
                bootstrap_servers=bootstrap,
                names=TopicNames(settings.topic_prefix),
                store=store,
                producer=producer,
                selection=dlq.Selection(tuple(ids or ()), case, event_type, stage),
                actor=actor,
                reason=reason,
                client_config=kafka_client_config(settings),
            )
        finally:
            await producer.stop()
            await store.close()

    audits = _run(go())
    for a in audits:
        typer.echo(f"redriven {a['detail']['dlq_id']} -> {a['detail']['original_topic']} (audit {a['audit_id']})")
    typer.echo(f"{len(audits)} redriven")


def main() -> None:
    app()
