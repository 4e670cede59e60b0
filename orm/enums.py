"""Enumerations stored as PostgreSQL enum types in ``persistence_schema``.

The database labels are the member *values*, in declaration order; the ORM columns pass
``values_callable=enum_values`` so that SQLAlchemy writes and reads those labels.
"""

from __future__ import annotations

import enum


def enum_values(enum_cls: type[enum.Enum]) -> list[str]:
    """Return the database labels of ``enum_cls`` in declaration order."""
    return [str(member.value) for member in enum_cls]


class ProcessingStatus(enum.StrEnum):
    """Overall state of a dataset version's processing pipeline (``processingstatus``)."""

    PENDING = "PENDING"
    INITIALIZED = "INITIALIZED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELED = "CANCELED"


class UploadStatus(enum.StrEnum):
    """State of the upload of a dataset file (``uploadstatus``)."""

    NA = "NA"
    WAITING = "WAITING"
    UPLOADING = "UPLOADING"
    UPLOADED = "UPLOADED"
    FAILED = "FAILED"
    CANCEL_PENDING = "CANCEL_PENDING"
    CANCELED = "CANCELED"


class ValidationStatus(enum.StrEnum):
    """State of the schema validation of a dataset (``validationstatus``)."""

    NA = "NA"
    VALIDATING = "VALIDATING"
    VALID = "VALID"
    INVALID = "INVALID"


class DatasetArtifactType(enum.StrEnum):
    """Kind of file a dataset artifact points at (``datasetartifacttype``)."""

    RAW_H5AD = "raw_h5ad"
    H5AD = "h5ad"
    RDS = "rds"
    CXG = "cxg"


class CollectionVisibility(enum.StrEnum):
    """Whether a collection version is publicly listed (``collectionvisibility``)."""

    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"
