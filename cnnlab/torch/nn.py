"""``cnnlab.torch.nn``: the layers, under torch's spelling (``import cnnlab.torch.nn as nn``).

The same objects as :mod:`cnnlab.torch.layers` (the twin of ``cnnlab/numpy/layers.py``): ``nn.Conv2d``,
``nn.ReLU``, ``nn.Sequential([...])``, ... all ``torch.nn.Module`` subclasses whose forward passes call
the ops of ``cnnlab.torch`` and whose backward passes are therefore the hand-written ones.
"""

from .layers import *  # noqa: F401,F403
from .layers import __all__  # noqa: F401
