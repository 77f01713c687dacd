"""mmcourse: the small, tested library behind the course.

One module per concept; each from-scratch function states its formula and shapes in its
docstring and is tested against the PyTorch reference. Importing the package is cheap: heavy
optional libraries (torchvision, torchaudio, matplotlib, seaborn, scikit-learn) are imported
only inside the functions that need them.
"""

from mmcourse.utils import get_device, set_seed

__version__ = "0.1.0"
__all__ = ["get_device", "set_seed", "__version__"]
