"""Figures the book and the labs draw, one module per subject; ``from cnnlab import viz`` gives them all.

Labels are English or math on purpose: matplotlib warns about missing glyphs for Chinese text on
machines without CJK fonts, and the book treats any warning as an error. Chinese goes in the prose.
"""

from .style import *  # noqa: F401,F403  (use_book_style)
from .core import *  # noqa: F401,F403  (show_images)
from .animation import *  # noqa: F401,F403  (step-by-step animations of conv, pooling, upsampling)
from .neurons import *  # noqa: F401,F403  (figures of part 1: neurons, activations, images)
from .convolution import *  # noqa: F401,F403  (figures of chapters 5-6)
from .networks import *  # noqa: F401,F403  (figures of chapters 7-8)
from .training import *  # noqa: F401,F403  (figures of chapters 9-10)
from .optimization import *  # noqa: F401,F403  (figures of chapters 11-12)
