"""``python -m cnnlab.grading`` is ``cnnlab-grade``."""

import sys

from cnnlab.grading.cli import main

sys.exit(main())
