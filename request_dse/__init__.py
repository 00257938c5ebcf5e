"""request-dse: design-space exploration of model x framework x compiler flags x hardware.

Importing the package is cheap: tvm, torch, ray, mlflow and onnxruntime are imported only by
the modules that use them, when they are used.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
