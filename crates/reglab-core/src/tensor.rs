//! Views of parameter tensors as the regularizers see them.
//!
//! Every penalty in reglab is stated in PyTorch layout: a linear weight is the matrix
//! `W ∈ R^{out×in}` (rows are units) and a convolution kernel `[out, in, kh, kw]` is read as
//! the matrix `[out, in·kh·kw]` (rows are filters). Storage may differ: burn's `Linear` keeps its
//! weight as `[in, out]`. [`Layout`] records how the stored buffer maps to the mathematical
//! matrix, so a regularizer computes in the intended orientation without copying.

/// How a stored buffer relates to the mathematical matrix `[rows, cols]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Row-major `[rows, cols]`, as PyTorch stores `[out, in]` (and `[out, in, kh, kw]`).
    #[default]
    RowMajor,
    /// The buffer holds the transpose, row-major `[cols, rows]`: burn's `Linear` (`[in, out]`).
    Transposed,
}

/// A read-only tensor: shape in PyTorch convention, storage layout, data.
#[derive(Debug, Clone, Copy)]
pub struct TensorRef<'a> {
    /// Shape in PyTorch convention (`[out, in]`, `[out, in, kh, kw]`, `[n]`).
    pub shape: &'a [usize],
    /// How `data` is laid out relative to `shape` (only meaningful for 2-D tensors).
    pub layout: Layout,
    /// The values.
    pub data: &'a [f32],
}

impl<'a> TensorRef<'a> {
    /// A row-major tensor.
    pub fn new(shape: &'a [usize], data: &'a [f32]) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, layout: Layout::RowMajor, data }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// True for tensors read as matrices: 2-D (linear) and higher (conv kernels, read as
    /// `[out, in·kh·kw]`). 1-D tensors (biases, norms) are not matrices.
    pub fn is_matrix(&self) -> bool {
        self.shape.len() >= 2
    }

    /// `(rows, cols)` of the matrix view: `[out, prod(rest)]`.
    pub fn matrix_dims(&self) -> (usize, usize) {
        let rows = self.shape.first().copied().unwrap_or(1);
        let cols = self.data.len().checked_div(rows).unwrap_or(0);
        (rows, cols)
    }

    /// The matrix view `[out, in·kh·kw]` in the mathematical orientation.
    pub fn matrix(&self) -> MatRef<'a> {
        let (rows, cols) = self.matrix_dims();
        MatRef::from_layout(self.data, rows, cols, self.layout)
    }
}

/// A strided read-only matrix view: element `(r, c)` is `data[r*rs + c*cs]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a> {
    /// Underlying buffer.
    pub data: &'a [f32],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row stride.
    pub rs: usize,
    /// Column stride.
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// View `data` as the matrix `[rows, cols]` stored in `layout`.
    pub fn from_layout(data: &'a [f32], rows: usize, cols: usize, layout: Layout) -> Self {
        assert_eq!(data.len(), rows * cols, "matrix view: buffer length");
        match layout {
            Layout::RowMajor => Self { data, rows, cols, rs: cols, cs: 1 },
            Layout::Transposed => Self { data, rows, cols, rs: 1, cs: rows },
        }
    }

    /// Element `(r, c)`.
    #[inline]
    pub fn at(&self, r: usize, c: usize) -> f32 {
        self.data[r * self.rs + c * self.cs]
    }

    /// The transpose (no copy).
    pub fn t(&self) -> MatRef<'a> {
        MatRef { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }
}

/// Index of element `(r, c)` of a `[rows, cols]` matrix stored in `layout`.
#[inline]
pub fn index(layout: Layout, rows: usize, cols: usize, r: usize, c: usize) -> usize {
    match layout {
        Layout::RowMajor => r * cols + c,
        Layout::Transposed => c * rows + r,
    }
}

/// An owned tensor with a name, as found in a checkpoint or a regularizer's saved state.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Name, e.g. `layers.0.weight` or `spectral/layers.0.weight/u`.
    pub name: String,
    /// Shape (row-major).
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

impl NamedTensor {
    /// A new named tensor; panics if the shape does not match the data length.
    pub fn new(name: impl Into<String>, shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "NamedTensor shape");
        Self { name: name.into(), shape, data }
    }

    /// A row-major view.
    pub fn view(&self) -> TensorRef<'_> {
        TensorRef::new(&self.shape, &self.data)
    }
}

/// For each of `weights`, the tensor of `init` with its name (`None` where `init` has none),
/// checked to have its shape: an error naming the tensor otherwise, and when `init` is given but
/// shares no name with a non-empty `weights`. `what` names the weights in messages (`"the
/// checkpoint"`).
pub fn match_init<'a>(weights: &[NamedTensor], init: Option<&'a [NamedTensor]>, what: &str) -> Result<Vec<Option<&'a NamedTensor>>, String> {
    let mut out = Vec::with_capacity(weights.len());
    for w in weights {
        let i = init.and_then(|i| i.iter().find(|t| t.name == w.name));
        if let Some(i) = i
            && i.shape != w.shape
        {
            return Err(format!("init tensor `{}` has shape {:?}, in {what} it has {:?}", w.name, i.shape, w.shape));
        }
        out.push(i);
    }
    if init.is_some() && !weights.is_empty() && out.iter().all(|i| i.is_none()) {
        return Err(format!("the init shares no tensor name with {what}"));
    }
    Ok(out)
}
