import io
import json
import logging

from hub.logging import RepeatLimit, bind_message_context, configure_logging, get_logger


def test_personal_fields_and_number_shapes_never_reach_the_output() -> None:
    out = io.StringIO()
    configure_logging("json", "DEBUG", stream=out)
    bind_message_context(correlation_id="corr-1", causation_id="cause-1")
    log = get_logger("t")
    log.info(
        "processing",
        nhs_number="9434765919",
        given_name="Amira",
        date_of_birth="2010-03-14",
        detail="patient 943 476 5919 born 2010-03-14",
        person={"family_name": "Okafor"},
    )
    text = out.getvalue()
    for secret in ("9434765919", "943 476 5919", "Amira", "Okafor", "2010-03-14"):
        assert secret not in text
    line = json.loads(text.splitlines()[-1])
    assert line["correlation_id"] == "corr-1" and line["causation_id"] == "cause-1"
    assert line["nhs_number"].startswith("p:")


def test_masking_replaces_identifying_fields_with_a_keyed_pseudonym() -> None:
    from hub.auth.masking import holds_personal_data, mask
    from hub.auth.pseudonyms import pseudonym, set_key

    person = {
        "nhs_number": "9434765919",
        "given_name": "Amira",
        "family_name": "Okafor",
        "date_of_birth": "2010-03-14",
        "la_person_id": "P1",
        "la_code": "202",
    }
    doc = {"cases": [{"case_id": "C-1", "person": person}]}
    assert holds_personal_data(doc)
    masked = mask(doc)["cases"][0]["person"]
    assert all(masked[k] == "•••" for k in ("nhs_number", "given_name", "family_name", "date_of_birth"))
    assert masked["la_code"] == "202" and "9434765919" not in str(masked)
    assert not holds_personal_data(mask(doc)), "what masking leaves is not personal data"
    set_key(b"key one")
    first = pseudonym("9434765919")
    set_key(b"key two")
    assert pseudonym("9434765919") != first, "the pseudonym depends on the key: no bare hash to reverse"
    import hashlib

    assert hashlib.sha256(b"9434765919").hexdigest()[:16] not in first


def test_a_repeated_fault_is_logged_once_then_reminded_with_its_count() -> None:
    now = [0.0]
    limit = RepeatLimit(interval=30, clock=lambda: now[0])

    def record(message: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
        return logging.LogRecord("aiokafka", level, __file__, 1, message, args, None)

    passed = []
    for second in range(0, 61):
        now[0] = float(second)
        for node in (1, 2):
            r = record("Unable connect to node with id %s: %s", node, "refused")
            if limit.filter(r):
                passed.append((second, r.getMessage()))
    assert passed == [
        (0, "Unable connect to node with id 1: refused"),
        (30, "Unable connect to node with id 1: refused (and 59 more like it in the last 30 s)"),
        (60, "Unable connect to node with id 1: refused (and 59 more like it in the last 30 s)"),
    ]
    assert limit.filter(record("Got error produce response: %s", "x", level=logging.WARNING)), "another fault passes"
    assert all(limit.filter(record("routine", level=logging.INFO)) for _ in range(5)), "info is never limited"
