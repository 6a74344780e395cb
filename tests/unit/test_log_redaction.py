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
