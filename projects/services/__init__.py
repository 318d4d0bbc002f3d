"""Writes for projects, people, taxonomy versions, images and tasks, split by subject.

Import from here (``from projects.services import images_add``); the modules are the layout.
"""

from projects.services.images import (
    ACCEPTED_IMAGE_FORMATS,
    CheckedImage,
    ImageSource,
    batch_get_or_create,
    example_image_add,
    image_check,
    image_size_check,
    images_add,
)
from projects.services.projects import (
    membership_add,
    project_create,
    project_update,
    user_get_or_create,
)
from projects.services.tasks import (
    TASK_WORK_FIELDS,
    task_next_for_user,
    task_reassign,
    task_reassign_check,
    task_transition,
    task_update,
    task_update_check,
)
from projects.services.taxonomy import (
    CategoryIn,
    ConflictRuleIn,
    EdgeCaseIn,
    TaxonomyIn,
    taxonomy_freeze,
    taxonomy_parse,
    taxonomy_replace,
)

__all__ = [
    "ACCEPTED_IMAGE_FORMATS",
    "TASK_WORK_FIELDS",
    "CategoryIn",
    "CheckedImage",
    "ConflictRuleIn",
    "EdgeCaseIn",
    "ImageSource",
    "TaxonomyIn",
    "batch_get_or_create",
    "example_image_add",
    "image_check",
    "image_size_check",
    "images_add",
    "membership_add",
    "project_create",
    "project_update",
    "task_next_for_user",
    "task_reassign",
    "task_reassign_check",
    "task_transition",
    "task_update",
    "task_update_check",
    "taxonomy_freeze",
    "taxonomy_parse",
    "taxonomy_replace",
    "user_get_or_create",
]
