//! Kernels of our own where candle's are slower for what a decoder does one token at a time.
//!
//! `gemv`: a one-row input times a row-major `[out, in]` weight (`x W^T`). candle runs this
//! through its general matmul (gemm), which packs the transposed weight for every call; a
//! row-by-row dot product reads each weight once, in order. `vecmat`: a one-row input times a
//! row-major `[rows, cols]` matrix, skipping the rows whose input is zero (ReLU FFNs).
//!
//! Both split rows over rayon's pool, and run their inner loops through pulp's runtime
//! dispatch, so the compiler vectorizes them for the CPU's widest instruction set (AVX2 here)
//! without `unsafe` or a `target-cpu` flag. The figures are in the runtime benchmark
//! (`cargo bench -p deixis-model --bench runtime`).

use candle_core::{Result, Storage, Tensor};
use rayon::prelude::*;

/// Rows per task: enough work to be worth a task.
const MIN_ROWS_PER_THREAD: usize = 64;

/// Inputs of at most this many rows go through our kernels; more are a job for gemm.
pub const SMALL: usize = 8;

/// `x W^T` for `x` of shape `[n, in]` (a few rows) and `weight` of shape `[out, in]`, f32.
pub fn gemv(weight: &Tensor, x: &Tensor) -> Result<Tensor> {
    let (out, inp) = weight.dims2()?;
    let n = x.dim(0)?;
    let x = x.contiguous()?;
    let weight = if weight.is_contiguous() {
        weight.clone()
    } else {
        weight.contiguous()?
    };
    let xs = x.flatten_all()?.to_vec1::<f32>()?;
    if xs.len() != n * inp {
        candle_core::bail!(
            "gemv: input has {} values, the weight {inp} columns",
            xs.len()
        );
    }
    let (storage, layout) = weight.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("gemv runs on the CPU");
    };
    let all = cpu.as_slice::<f32>()?;
    let start = layout.start_offset();
    let w = &all[start..start + out * inp];
    // y is [out, n]: each weight row is read once for all n inputs.
    let mut y = vec![0f32; out * n];
    let rows = out
        .div_ceil(rayon::current_num_threads() * 4)
        .max(MIN_ROWS_PER_THREAD);
    y.par_chunks_mut(rows * n)
        .zip(w.par_chunks(rows * inp))
        .for_each(|(chunk, w_chunk)| {
            let arch = pulp::Arch::new();
            arch.dispatch(
                #[inline(always)]
                || {
                    for (ys, row) in chunk.chunks_exact_mut(n).zip(w_chunk.chunks_exact(inp)) {
                        for (yi, xi) in ys.iter_mut().zip(xs.chunks_exact(inp)) {
                            *yi = dot(row, xi);
                        }
                    }
                },
            );
        });
    drop(storage);
    let y = Tensor::from_vec(y, (out, n), x.device())?;
    if n == 1 {
        y.reshape((1, out))
    } else {
        y.t()?.contiguous()
    }
}

/// `h M` for `h` of shape `[n, rows]` (a few rows) and a row-major `M` of shape `[rows, cols]`: the sum of
/// `M`'s rows weighted by `h`. Rows whose weight is zero are skipped (ReLU leaves most of an
/// FFN's neurons at zero), and the rows are split over the cores.
pub fn vecmat(h: &Tensor, m: &Tensor) -> Result<Tensor> {
    let (rows, cols) = m.dims2()?;
    let n = h.dim(0)?;
    // Transposed, [rows, n]: the n weights of one matrix row side by side.
    let hs = h.t()?.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
    if hs.len() != rows * n {
        candle_core::bail!(
            "vecmat: input has {} values, the matrix {rows} rows",
            hs.len()
        );
    }
    let m = if m.is_contiguous() {
        m.clone()
    } else {
        m.contiguous()?
    };
    let (storage, layout) = m.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("vecmat runs on the CPU");
    };
    let all = cpu.as_slice::<f32>()?;
    let start = layout.start_offset();
    let data = &all[start..start + rows * cols];
    let per = rows
        .div_ceil(rayon::current_num_threads())
        .max(MIN_ROWS_PER_THREAD);
    let partials: Vec<Vec<f32>> = hs
        .par_chunks(per * n)
        .zip(data.par_chunks(per * cols))
        .map(|(hc, mc)| {
            let mut acc = vec![0f32; n * cols];
            pulp::Arch::new().dispatch(
                #[inline(always)]
                || {
                    for (ws, row) in hc.chunks_exact(n).zip(mc.chunks_exact(cols)) {
                        for (&w, out) in ws.iter().zip(acc.chunks_exact_mut(cols)) {
                            if w != 0.0 {
                                for (a, r) in out.iter_mut().zip(row) {
                                    *a += w * r;
                                }
                            }
                        }
                    }
                },
            );
            acc
        })
        .collect();
    drop(storage);
    let mut y = vec![0f32; n * cols];
    for p in partials {
        for (a, b) in y.iter_mut().zip(p) {
            *a += b;
        }
    }
    Tensor::from_vec(y, (n, cols), h.device())
}

/// A dot product in eight lanes (the compiler turns the inner loop into SIMD).
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        sum += x * y;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    use crate::max_diff;

    #[test]
    fn vecmat_equals_candles_matmul_with_zeros() {
        let dev = Device::Cpu;
        for (n, rows, cols) in [
            (1, 1, 1),
            (1, 5, 3),
            (1, 1536, 576),
            (3, 1536, 576),
            (8, 70, 9),
        ] {
            let m = Tensor::randn(0f32, 1.0, (rows, cols), &dev).expect("m");
            let h = Tensor::randn(0f32, 1.0, (n, rows), &dev)
                .and_then(|h| h.relu())
                .expect("h");
            let diff = max_diff(&vecmat(&h, &m).expect("ours"), &h.matmul(&m).expect("mm"));
            assert!(diff < 1e-3, "{rows}x{cols}: {diff}");
        }
    }

    #[test]
    fn gemv_equals_candles_matmul() {
        let dev = Device::Cpu;
        for (n, out, inp) in [
            (1, 1, 1),
            (1, 3, 5),
            (1, 130, 17),
            (1, 700, 576),
            (4, 700, 576),
            (8, 65, 3),
        ] {
            let w = Tensor::randn(0f32, 1.0, (out, inp), &dev).expect("w");
            let x = Tensor::randn(0f32, 1.0, (n, inp), &dev).expect("x");
            let ours = gemv(&w, &x).expect("gemv");
            let theirs = x.matmul(&w.t().expect("t")).expect("matmul");
            let diff = (ours - theirs)
                .expect("sub")
                .abs()
                .expect("abs")
                .max_all()
                .expect("max")
                .to_scalar::<f32>()
                .expect("scalar");
            assert!(diff < 1e-3, "{out}x{inp}: {diff}");
        }
    }
}
