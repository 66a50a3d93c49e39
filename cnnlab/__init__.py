"""cnnlab: an executable course on convolutional neural networks.

- ``cnnlab.numpy``: the readable NumPy reference of every operation, forward and backward.
- ``cnnlab.torch``: the same operations on torch tensors, on any device.
- ``cnnlab.schedules``, ``cnnlab.data``, ``cnnlab.image``, ``cnnlab.viz``: what the book and labs use.
- ``cnnlab.grading``: authoring and grading the labs.
"""

__version__ = "0.1.0"
