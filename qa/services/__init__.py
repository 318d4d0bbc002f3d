"""The QA workflow's writes, by subject."""

from qa.services.batches import POLICY_FIELDS, batch_decide, policy_update
from qa.services.measurement import (
    measurement_fail,
    measurement_give_up,
    measurement_note_retry,
    measurement_references,
    revision_measure,
)
from qa.services.production import (
    annotator_release,
    audit,
    calibration_assign,
    calibration_start,
    images_plan,
    task_next,
)
from qa.services.review import (
    PinIn,
    pins_parse,
    review_check_decider,
    review_claim,
    review_claim_next,
    review_decide,
    review_fix_accept,
    review_open,
    review_overturn,
)
from qa.services.routing import revision_route, sampling_draw
from qa.services.submission import gold_set, revision_import, revision_save, revision_submit

__all__ = [
    "POLICY_FIELDS",
    "PinIn",
    "annotator_release",
    "audit",
    "batch_decide",
    "calibration_assign",
    "calibration_start",
    "gold_set",
    "images_plan",
    "measurement_fail",
    "measurement_give_up",
    "measurement_note_retry",
    "measurement_references",
    "pins_parse",
    "policy_update",
    "review_check_decider",
    "review_claim",
    "review_claim_next",
    "review_decide",
    "review_fix_accept",
    "review_open",
    "review_overturn",
    "revision_import",
    "revision_measure",
    "revision_route",
    "revision_save",
    "revision_submit",
    "sampling_draw",
    "task_next",
]
