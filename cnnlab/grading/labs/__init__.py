"""The course's labs: one generated module of public test data per lab, and the list of labs.

``cnnlab-grade generate labs/source/<lab>.ipynb --out labs/`` writes ``<lab>.py`` here; ``check()``
in a student notebook reads it (``Lab("<lab>")`` imports ``cnnlab.grading.labs.<lab>``).

A renamed lab keeps its old id: :data:`ALIASES` maps it to the new one, and a one-line module under
the old name re-exports the new data, so a student notebook made before the rename still checks.
"""

#: The labs in the order of the book (source: labs/source/<lab>.ipynb, student notebook: labs/<lab>.ipynb).
LABS = ("lab1_neuron", "lab2_conv_pool", "lab3_backprop", "lab4_train_cnn", "lab5_torch_gpu")

#: Old id -> current id of a renamed lab (lab 1 became lab 2 when the neuron lab came first).
ALIASES = {"lab1_conv_pool": "lab2_conv_pool"}


def resolve(lab_id: str) -> str:
    """The current id of a lab, given its current or an old id; an unknown id is a clear error."""
    current = ALIASES.get(lab_id, lab_id)
    if current not in LABS:
        raise ValueError(f"unknown lab {lab_id!r}: the labs are {', '.join(LABS)}"
                         f" (old ids: {', '.join(ALIASES)})")
    return current
