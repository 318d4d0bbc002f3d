"""Deliveries' writes, by subject: imports of existing annotations, releases and verdicts."""

from deliveries.services.imports import (
    ImportRefused,
    import_check_request,
    import_run_execute,
    import_run_from_upload,
)
from deliveries.services.releases import (
    release_build,
    release_create,
    release_decide,
    release_fail,
    release_formats,
    release_retry,
)

__all__ = [
    "ImportRefused",
    "import_check_request",
    "import_run_execute",
    "import_run_from_upload",
    "release_build",
    "release_create",
    "release_decide",
    "release_fail",
    "release_formats",
    "release_retry",
]
