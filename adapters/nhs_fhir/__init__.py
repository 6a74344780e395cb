"""NHS FHIR R4 adapter: health advice requests out as Task + ServiceRequest, advice back as
QuestionnaireResponse or DocumentReference/Composition in message Bundles (UK Core identifiers)."""
