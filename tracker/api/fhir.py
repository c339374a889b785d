"""How the API describes a treatment's HL7 FHIR R4 Bundle (built in `services.flags.fhir`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class FhirEntry(BaseModel):
    fullUrl: str
    resource: dict[str, Any]


class FhirBundle(BaseModel):
    """An HL7 FHIR R4 Bundle (served as application/fhir+json); described, not validated here."""

    resourceType: Literal["Bundle"]
    id: str
    type: Literal["collection"]
    timestamp: str
    entry: list[FhirEntry]
