"""NHS providers with a FHIR endpoint: each record meant for them is POSTed to ``$process-message``
as a FHIR message, an advice request as its Task and ServiceRequest, anything else as a
notification (``adapters.nhs_fhir.notifications``). The Bundle id is the record's, the same on
every retry, so a provider that received it already can recognise it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from adapters.channels import HttpDelivery, Parcel, advice_receipts
from adapters.common import Submission
from adapters.nhs_fhir.codes import FHIR_JSON
from adapters.nhs_fhir.notifications import notification_message
from adapters.nhs_fhir.outbound import request_message
from schemas.common import Agency
from schemas.events import AdviceRequested


class FhirPushChannel:
    name = "fhir-push"

    def __init__(self, endpoints: dict[str, str], source_endpoint: str) -> None:
        self.endpoints = endpoints
        self.source_endpoint = source_endpoint

    def serves(self, agency: Agency, org_code: str, event_type: str) -> bool:
        return agency in (Agency.NHS, Agency.HEALTH_COMMISSIONER) and org_code in self.endpoints

    def request(self, parcel: Parcel, today: date) -> HttpDelivery:
        timestamp = datetime.now(UTC).isoformat(timespec="seconds")
        if parcel.event_type == AdviceRequested.event_type:
            event = AdviceRequested.model_validate(parcel.data)
            # The push is the provider's receipt (reg 8): its six weeks run from today, as the hub's
            # clock will have it once the receipt is recorded, so the Task says that date.
            due = today + (event.due_date - event.requested_date)
            bundle = request_message(event, parcel.dispatch_id, self.source_endpoint, timestamp, due=due)
        else:
            bundle = notification_message(
                parcel.dispatch_id, parcel.event_type, parcel.data, parcel.org_code, self.source_endpoint, timestamp
            )
        headers = {"content-type": FHIR_JSON, "accept": FHIR_JSON, "idempotency-key": parcel.dispatch_id}
        url = f"{self.endpoints[parcel.org_code].rstrip('/')}/$process-message"
        return HttpDelivery(url, json.dumps(bundle).encode(), headers)

    def delivered(self, parcel: Parcel, today: date) -> list[Submission]:
        return advice_receipts(parcel, today, "fhir-push")
