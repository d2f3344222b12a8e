//! The pointer head's match term (`Config::pointer_match`), shared by the trainer and the
//! runtime so that both compute it the same way.
//!
//! The pointer's dot term compares one position (where the answer goes) with one token of each
//! candidate's entry (its last). In a causal model that last token has not seen the request,
//! so every link between what the user said and what an entry says has to pass through the
//! answer position's single vector. The match term compares them directly, as late interaction
//! in retrieval does (ColBERT): each request token, through `pointer.u.weight`, is compared
//! with every token of an entry, through `pointer.v.weight`; an entry's match is the mean over
//! request tokens of the best-matching entry token (scaled dot products). A word of the request
//! found in an entry is then a strong signal from the first steps of training on, and the
//! contextual states let it grow past exact words (synonyms, a field's label before its value).

use candle_core::{Tensor, D};

/// An entry's tokens read by the match term at most: its last ones (its key among them).
pub const MAX_ENTRY_TOKENS: usize = 64;

/// Match scores `[entries.len()]` from final hidden states `[rows, width]`: request tokens at
/// rows `request`, each entry the rows `first..=last`.
pub fn matches(
    hidden: &Tensor,
    request: &[u32],
    entries: &[(usize, usize)],
    u: &Tensor,
    v: &Tensor,
) -> candle_core::Result<Tensor> {
    let dev = hidden.device();
    let p = u.dim(0)?;
    if request.is_empty() || entries.is_empty() {
        return Tensor::zeros(entries.len(), hidden.dtype(), dev);
    }
    let len = |&(first, last): &(usize, usize)| {
        (last + 1).saturating_sub(first).clamp(1, MAX_ENTRY_TOKENS)
    };
    let width = entries.iter().map(len).max().unwrap_or(1);
    let mut rows = Vec::with_capacity(entries.len() * width);
    let mut mask = Vec::with_capacity(entries.len() * width);
    for entry in entries {
        let (n, last) = (len(entry), entry.1);
        for j in 0..width {
            // Padding repeats the key, masked out: a large finite value, as -inf could turn
            // into NaN in a backward pass.
            rows.push(if j < n { last + 1 - n + j } else { last } as u32);
            mask.push(if j < n { 0f32 } else { -1e9 });
        }
    }
    let u = hidden
        .index_select(&Tensor::new(request, dev)?, 0)?
        .matmul(&u.t()?)?;
    let v = hidden
        .index_select(&Tensor::new(rows.as_slice(), dev)?, 0)?
        .matmul(&v.t()?)?;
    let mask = Tensor::from_vec(mask, (1, entries.len(), width), dev)?;
    (u.matmul(&v.t()?)? / (p as f64).sqrt())?
        .reshape((request.len(), entries.len(), width))?
        .broadcast_add(&mask)?
        .max(D::Minus1)?
        .mean(0)
}
