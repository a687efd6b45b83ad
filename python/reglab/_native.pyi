# Type stubs of the native module (crates/reglab-py); private: use reglab, reglab.ot, reglab.inverse.
from typing import List, Optional, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

def penalty(
    specs: List[str], w: npt.NDArray[np.float32], w0: Optional[npt.NDArray[np.float32]] = None, grad: bool = False
) -> Tuple[float, Optional[npt.NDArray[np.float32]]]: ...
def sinkhorn(
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    m_cost: npt.NDArray[np.float64],
    reg: float,
    num_iter_max: int,
    stop_thr: float,
    log_domain: bool,
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], int, float, float, bool, float]: ...
def denoise_tv_chambolle(
    image: npt.NDArray[np.float64], weight: float, eps: float, max_num_iter: int
) -> Tuple[npt.NDArray[np.float64], int, bool]: ...
