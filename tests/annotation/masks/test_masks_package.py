import subprocess
import sys
from pathlib import Path

import annotation.masks

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def test_every_name_in_all_is_importable_from_the_package():
    missing = [name for name in annotation.masks.__all__ if not hasattr(annotation.masks, name)]

    assert missing == []


def test_importing_the_package_loads_no_django_drf_or_celery():
    # A fresh interpreter: this test process may already have Django loaded by other tests.
    script = (
        "import sys, annotation.masks\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', 'celery'})\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == ""
