"""Authoring, handing out and grading the labs (``cnnlab-grade``).

In a lab notebook::

    from cnnlab.grading import Lab, arange, array, randint, randn
    lab = Lab("lab2_conv_pool")
    test, check = lab.test, lab.check

For instructors (see ``labs/README.md``)::

    cnnlab-grade generate labs/source/lab2_conv_pool.ipynb --out labs/
    cnnlab-grade grade SUBMISSIONS/ --lab labs/source/lab2_conv_pool.ipynb --out RESULTS/
    cnnlab-grade export-gradescope --lab labs/source/lab2_conv_pool.ipynb --out lab2_autograder.zip

Modules: :mod:`specs` (tests as data); :mod:`authoring` (source -> student notebook, public data,
bundle, in four steps: :mod:`markers`, :mod:`student_notebook`, :mod:`reference`, :mod:`publish`);
:mod:`schema` (the bundle's ``lab.json``, typed and versioned) and :mod:`bundle`; :mod:`student`
(``check``); :mod:`sandbox` and :mod:`_child` (running student code); :mod:`compare` (verdicts);
:mod:`scoring` (points and statuses), :mod:`feedback`, :mod:`results` and :mod:`gradebook` (what is
written); :mod:`grade` (a class); :mod:`gradescope`; :mod:`atomic` (every file the grader writes).
"""

from cnnlab.grading.specs import arange, array, randint, randn
from cnnlab.grading.student import Lab

__all__ = ["Lab", "randn", "randint", "arange", "array"]
