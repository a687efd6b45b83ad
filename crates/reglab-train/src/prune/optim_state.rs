//! The optimizer state of pruned entries, set to exactly 0 when a mask is made.
//!
//! A mask made during training (magnitude pruning at the end of an epoch, a `fish` mask with
//! `at=E`) finds the optimizer's per-entry state of the newly pruned entries non-zero: Adam's
//! moments `m`, `v`, SGD's momentum buffer. Left alone, that state would keep moving the pruned
//! weights every step (the mask puts them back to 0 after each step, so the model never shows
//! it, but the state is not that of a sparse network). [`mask_optimizer_state`] multiplies every
//! per-entry state tensor of a masked parameter by its mask, so that from then on the pruned
//! entries' state is exactly 0 and stays 0 (their gradients are masked too).
//!
//! burn keeps an optimizer's state inside [`ModuleOptimizer`]; its only public form is the
//! serialized record (burnpack: one tensor per state field, named `"{param_id}.{field}"` and
//! carrying the parameter id). This goes through that form: serialize, multiply the tensors of
//! the masked parameters whose number of entries equals the parameter's, deserialize. It costs
//! a copy of the whole optimizer state, once per mask change (a few times per run), not per step.
//!
//! Adam's moments are elementwise, so zeroing the state of pruned entries changes no kept
//! weight: training results are identical with or without it; only the state is clean.

use burn::optim::ModuleOptimizer;
use burn::tensor::TensorData;
use burn_pack::{Bytes, DType};

/// A mask over one parameter: its id ([`burn::module::ParamId::val`]) and one 0/1 value per
/// entry in the parameter's storage (burn) layout.
pub struct ParamMask<'a> {
    /// The parameter's id.
    pub id: u64,
    /// 1 keep, 0 pruned, in burn's layout of the parameter.
    pub mask: &'a [f32],
}

/// Multiply the per-entry state of every parameter in `masks` by its mask (see the module
/// documentation). State tensors of other parameters, scalar state (Adam's step count) and
/// state tensors of a different size are kept as they are. An optimizer without state yet
/// (before the first step) is returned unchanged.
pub fn mask_optimizer_state(optim: ModuleOptimizer, masks: &[ParamMask<'_>]) -> Result<ModuleOptimizer, String> {
    let err = |e: &dyn std::fmt::Debug| format!("optimizer state: {e:?}");
    let bytes = optim.into_bytes().map_err(|e| err(&e))?;
    let reader = burn_pack::Reader::from_bytes(bytes).map_err(|e| err(&e))?;
    let scalars = reader.scalars().clone();
    let metadata = reader.metadata().clone();
    let mut tensors = Vec::new();
    for t in reader.into_tensors().map_err(|e| err(&e))? {
        let (name, dtype, shape, param_id, bytes) = t.into_parts().map_err(|e| err(&e))?;
        let mask = param_id.and_then(|id| masks.iter().find(|m| m.id == id)).map(|m| m.mask);
        let numel: usize = shape.iter().product();
        let bytes = match mask {
            Some(mask) if numel == mask.len() => {
                if dtype != DType::F32 {
                    return Err(format!("optimizer state `{name}` is {dtype:?}; masking it needs f32"));
                }
                let data = TensorData::from_bytes(bytes, shape.clone(), dtype);
                let mut v: Vec<f32> = data.try_into_vec().map_err(|e| err(&e))?;
                for (x, m) in v.iter_mut().zip(mask) {
                    // `x·0 + 0` is +0 for every finite x (and a NaN state stays NaN, visibly)
                    *x = *x * m + 0.0;
                }
                Bytes::from_elems(v)
            }
            _ => bytes,
        };
        tensors.push(burn_pack::Tensor::new(name, dtype, shape, param_id, bytes));
    }
    let mut writer = burn_pack::Writer::new(tensors);
    for (k, v) in &scalars {
        writer = writer.with_scalar(k, *v);
    }
    for (k, v) in &metadata {
        writer = writer.with_metadata(k, v);
    }
    let bytes = writer.into_bytes().map_err(|e| err(&e))?;
    optim.from_bytes(bytes).map_err(|e| err(&e))
}
