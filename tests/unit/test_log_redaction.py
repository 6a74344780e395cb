import io
import json

from hub.logging import bind_message_context, configure_logging, get_logger


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
    assert line["nhs_number"].startswith("h:")


def test_dashboard_masks_people_for_roles_that_do_not_need_them() -> None:
    from hub.http.dashboard import mask_person

    person = {
        "nhs_number": "9434765919",
        "given_name": "Amira",
        "family_name": "Okafor",
        "date_of_birth": "2010-03-14",
        "la_person_id": "P1",
        "la_code": "202",
    }
    assert mask_person(person, "admin") == person
    for role in ("viewer", "operator"):
        masked = mask_person(person, role) or {}
        assert all(masked[k] == "•••" for k in ("nhs_number", "given_name", "family_name", "date_of_birth"))
        assert masked["pseudonym"].startswith("h:") and masked["la_code"] == "202"
        assert "9434765919" not in str(masked)
