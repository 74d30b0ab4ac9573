"""The range of numbers the models read: float32, whose largest finite value is about
3.4e38; a larger number read from a file would become infinity inside the model."""

import numpy as np

FLOAT32_MAX = float(np.finfo(np.float32).max)
