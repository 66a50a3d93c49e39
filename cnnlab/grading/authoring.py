"""One source notebook per lab -> the student notebook, the public test data, the grading bundle.

Four steps, one module each:

- :mod:`cnnlab.grading.markers`: read the source notebook (its markers, questions, tests, settings);
- :mod:`cnnlab.grading.student_notebook`: render the notebook students get;
- :mod:`cnnlab.grading.reference`: run the reference solution and build the bundle;
- :mod:`cnnlab.grading.publish`: write the student notebook, the public test data and the bundle.

This module gathers their entry points under the names the CLI, the tests and ``labs/README.md`` use.
"""

from cnnlab.grading.markers import AuthoringError, SourceLab, read_source
from cnnlab.grading.publish import Generated, generate, public_data, public_module_text, render
from cnnlab.grading.reference import build_bundle, lab_limits, reference_sandbox
from cnnlab.grading.student_notebook import student_notebook

__all__ = ["AuthoringError", "SourceLab", "read_source", "student_notebook", "build_bundle", "lab_limits",
           "reference_sandbox", "public_data", "public_module_text", "render", "generate", "Generated"]
