"""Agreements: the signed SLO and budget agreement of a service (k-of-n roles).

The document and its limits, its files and template, signing and verification."""

from govctl.agreements.agreement import (
    BUDGET,
    EXPIRING_SOON,
    SIGN,
    AgreementReport,
    diff,
    sign,
    signature_status,
    signed_agreement,
    verify_agreement,
    verify_all,
)
from govctl.agreements.files import (
    TEMPLATE,
    agreement_path,
    check_service_name,
    load_agreement,
    new,
    services,
    signature_path,
    signed_path,
)
from govctl.agreements.schema import (
    SCHEMA,
    SERVICE_RE,
    Agreement,
    Budget,
    Fallback,
    Governance,
    Latency,
    Ownership,
    Quality,
    Slo,
    SloCheck,
    check_measurements,
)

__all__ = [
    "BUDGET", "EXPIRING_SOON", "SCHEMA", "SERVICE_RE", "SIGN", "TEMPLATE", "Agreement",
    "AgreementReport", "Budget", "Fallback", "Governance", "Latency", "Ownership", "Quality",
    "Slo", "SloCheck", "agreement_path", "check_measurements", "check_service_name", "diff",
    "load_agreement", "new", "services", "sign", "signature_path", "signed_agreement",
    "signed_path", "signature_status", "verify_agreement", "verify_all",
]
