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
def smooth_ot(
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    m_cost: npt.NDArray[np.float64],
    reg: float,
    max_nz: Optional[int],
    semi_dual: bool,
    num_iter_max: int,
    stop_thr: float,
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], int, int, float, float, float, bool, str]: ...
def class_ot(
    a: npt.NDArray[np.float64],
    b: npt.NDArray[np.float64],
    m_cost: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    reg: float,
    num_iter_max: int,
    stop_thr: float,
    gap_thr: float,
) -> Tuple[npt.NDArray[np.float64], float, float, float, float, int, float, float, bool, List[int]]: ...
def denoise_tv_chambolle(
    image: npt.NDArray[np.float64], weight: float, eps: float, max_num_iter: int
) -> Tuple[npt.NDArray[np.float64], int, bool]: ...
def denoise_tv_weighted(
    image: npt.NDArray[np.float64], weights: npt.NDArray[np.float64], eps: float, max_num_iter: int
) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int, bool]: ...
def radon(
    image: npt.NDArray[np.float64], angles: npt.NDArray[np.float64], n_det: int, centre: Tuple[float, float, float]
) -> npt.NDArray[np.float64]: ...
def radon_adjoint(
    sinogram: npt.NDArray[np.float64], angles: npt.NDArray[np.float64], rows: int, cols: int, centre: Tuple[float, float, float]
) -> npt.NDArray[np.float64]: ...
def fbp(
    sinogram: npt.NDArray[np.float64],
    angles: npt.NDArray[np.float64],
    rows: int,
    cols: int,
    filter: str,
    centre: Tuple[float, float, float],
) -> npt.NDArray[np.float64]: ...
def reconstruct_tv(
    sinogram: npt.NDArray[np.float64],
    angles: npt.NDArray[np.float64],
    rows: int,
    cols: int,
    centre: Tuple[float, float, float],
    lambda_: float,
    weights: Optional[npt.NDArray[np.float64]],
    max_iter: int,
    tol: float,
) -> Tuple[npt.NDArray[np.float64], int, bool, float]: ...

class RegSet:
    def __init__(self, specs: List[str], select: Optional[str] = None) -> None: ...
    def labels(self) -> List[str]: ...
    def needs_init(self) -> bool: ...
    def needs_total(self) -> bool: ...
    def prox_terms(self) -> List[bool]: ...
    def has_after_step(self) -> bool: ...
    def selected(self, names: List[str], shapes: List[List[int]]) -> List[bool]: ...
    def eval(
        self,
        names: List[str],
        weights: List[npt.NDArray[np.float32]],
        inits: List[Optional[npt.NDArray[np.float32]]],
        step: int,
        total: int,
        exact: bool,
        prox_aware: bool,
        grad: bool,
    ) -> Tuple[float, List[float], Optional[List[npt.NDArray[np.float32]]]]: ...
    def after_step(self, names: List[str], weights: List[npt.NDArray[np.float32]], lr: float, step: int, total: int, seed: int) -> None: ...
    def state(self) -> List[Tuple[str, List[int], npt.NDArray[np.float32]]]: ...
    def load_state(self, state: List[Tuple[str, List[int], npt.NDArray[np.float32]]]) -> None: ...

def inspect(tensors: List[Tuple[str, npt.NDArray[np.float32]]], init: Optional[List[Tuple[str, npt.NDArray[np.float32]]]] = None) -> str: ...
def read_safetensors(path: str) -> List[Tuple[str, List[int], npt.NDArray[np.float32]]]: ...

def magnitude_masks(
    weights: List[npt.NDArray[np.float32]], prev: List[Optional[npt.NDArray[np.float32]]], sparsity: float, scope: str
) -> List[npt.NDArray[np.float32]]: ...
