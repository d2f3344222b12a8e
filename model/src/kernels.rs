//! Kernels of our own where candle's are slower for what a decoder does one token at a time.
//!
//! `gemv`: a one-row input times a row-major `[out, in]` weight (`x W^T`). candle runs this
//! through its general matmul (gemm), which packs the transposed weight for every call; a
//! row-by-row dot product reads each weight once, in order, split over the cores. The figures
//! are in the runtime benchmark (`cargo bench -p deixis-model --bench runtime`).

use candle_core::{Result, Storage, Tensor};

/// Rows per task: enough work to be worth a thread.
const MIN_ROWS_PER_THREAD: usize = 64;

/// `x W^T` for `x` of shape `[1, in]` and `weight` of shape `[out, in]`, both f32.
pub fn gemv(weight: &Tensor, x: &Tensor) -> Result<Tensor> {
    let (out, inp) = weight.dims2()?;
    let x = x.contiguous()?;
    let weight = if weight.is_contiguous() {
        weight.clone()
    } else {
        weight.contiguous()?
    };
    let xs = x.flatten_all()?.to_vec1::<f32>()?;
    if xs.len() != inp {
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
    let mut y = vec![0f32; out];
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(out.div_ceil(MIN_ROWS_PER_THREAD))
        .max(1);
    let rows = out.div_ceil(threads);
    std::thread::scope(|s| {
        for (chunk, w_chunk) in y.chunks_mut(rows).zip(w.chunks(rows * inp)) {
            let xs = &xs;
            s.spawn(move || {
                for (yi, row) in chunk.iter_mut().zip(w_chunk.chunks_exact(inp)) {
                    *yi = dot(row, xs);
                }
            });
        }
    });
    drop(storage);
    Tensor::from_vec(y, (1, out), x.device())
}

/// `h M` for `h` of shape `[1, rows]` and a row-major `M` of shape `[rows, cols]`: the sum of
/// `M`'s rows weighted by `h`. Rows whose weight is zero are skipped (ReLU leaves most of an
/// FFN's neurons at zero), and the rows are split over the cores.
pub fn vecmat(h: &Tensor, m: &Tensor) -> Result<Tensor> {
    let (rows, cols) = m.dims2()?;
    let hs = h.flatten_all()?.to_vec1::<f32>()?;
    if hs.len() != rows {
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
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(rows.div_ceil(MIN_ROWS_PER_THREAD))
        .max(1);
    let per = rows.div_ceil(threads);
    let partials: Vec<Vec<f32>> = std::thread::scope(|s| {
        let tasks: Vec<_> = hs
            .chunks(per)
            .zip(data.chunks(per * cols))
            .map(|(hc, mc)| {
                s.spawn(move || {
                    let mut acc = vec![0f32; cols];
                    for (&w, row) in hc.iter().zip(mc.chunks_exact(cols)) {
                        if w != 0.0 {
                            for (a, r) in acc.iter_mut().zip(row) {
                                *a += w * r;
                            }
                        }
                    }
                    acc
                })
            })
            .collect();
        tasks
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    drop(storage);
    let mut y = vec![0f32; cols];
    for p in partials {
        for (a, b) in y.iter_mut().zip(p) {
            *a += b;
        }
    }
    Tensor::from_vec(y, (1, cols), h.device())
}

/// A dot product in eight lanes (the compiler turns the inner loop into SIMD).
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

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.max_all())
            .and_then(|d| d.to_scalar::<f32>())
            .expect("diff")
    }

    #[test]
    fn vecmat_equals_candles_matmul_with_zeros() {
        let dev = Device::Cpu;
        for (rows, cols) in [(1, 1), (5, 3), (1536, 576)] {
            let m = Tensor::randn(0f32, 1.0, (rows, cols), &dev).expect("m");
            let h = Tensor::randn(0f32, 1.0, (1, rows), &dev)
                .and_then(|h| h.relu())
                .expect("h");
            let diff = max_diff(&vecmat(&h, &m).expect("ours"), &h.matmul(&m).expect("mm"));
            assert!(diff < 1e-3, "{rows}x{cols}: {diff}");
        }
    }

    #[test]
    fn gemv_equals_candles_matmul() {
        let dev = Device::Cpu;
        for (out, inp) in [(1, 1), (3, 5), (130, 17), (700, 576)] {
            let w = Tensor::randn(0f32, 1.0, (out, inp), &dev).expect("w");
            let x = Tensor::randn(0f32, 1.0, (1, inp), &dev).expect("x");
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
