# Type stubs of the native module (crates/reglab-py); private: use reglab, reglab.ot, reglab.inverse.
from typing import List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

def penalty(
    specs: List[str], w: npt.NDArray[np.float32], w0: Optional[npt.NDArray[np.float32]] = None, grad: bool = False
) -> Tuple[float, Optional[npt.NDArray[np.float32]]]: ...
