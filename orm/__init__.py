"""ORM of the reference data-portal project: the schema at the head of the migrations."""

from orm.enums import (
    CollectionVisibility,
    DatasetArtifactType,
    ProcessingStatus,
    UploadStatus,
    ValidationStatus,
)
from orm.models import (
    NAMING_CONVENTION,
    SCHEMA,
    Base,
    CollectionCanonical,
    CollectionVersion,
    DatasetArtifact,
    DatasetCanonical,
    DatasetVersion,
    DatasetVersionToArtifact,
)

__all__ = [
    "NAMING_CONVENTION",
    "SCHEMA",
    "Base",
    "CollectionCanonical",
    "CollectionVersion",
    "CollectionVisibility",
    "DatasetArtifact",
    "DatasetArtifactType",
    "DatasetCanonical",
    "DatasetVersion",
    "DatasetVersionToArtifact",
    "ProcessingStatus",
    "UploadStatus",
    "ValidationStatus",
]
