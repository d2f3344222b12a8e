//! One layer's FFN neurons in memory: a matrix preallocated to the layer's share of the DRAM
//! budget, one row (slot) per neuron bundle, and the sliding window over it.
//!
//! - A neuron's bundle is appended at the end of the used rows.
//! - Deleting a neuron moves the last used row into its slot: one row is copied, never the
//!   whole matrix, and the used rows stay contiguous.
//! - Each slot remembers the last token that used it. After a token, neurons no token of the
//!   last `window` used are deleted (the sliding window); when a token needs more room, the
//!   least recently used neurons it does not need go first.
//!
//! Rows hold the bundle's values in the file's dtype (f32 or f16), decoded from the bytes read.

use half::f16;

/// Index of "no slot" in the neuron-to-slot map.
const NONE: u32 = u32::MAX;

/// Row storage in the file's dtype.
#[derive(Debug)]
pub enum Rows {
    F32(Vec<f32>),
    F16(Vec<f16>),
}

impl Rows {
    pub fn element_bytes(&self) -> usize {
        match self {
            Rows::F32(_) => 4,
            Rows::F16(_) => 2,
        }
    }

    fn copy_within(&mut self, from: std::ops::Range<usize>, to: usize) {
        match self {
            Rows::F32(v) => v.copy_within(from, to),
            Rows::F16(v) => v.copy_within(from, to),
        }
    }

    /// Decodes little-endian `bytes` into `at..`.
    fn fill(&mut self, at: usize, bytes: &[u8]) {
        match self {
            Rows::F32(v) => {
                for (d, c) in v[at..].iter_mut().zip(bytes.chunks_exact(4)) {
                    *d = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                }
            }
            Rows::F16(v) => {
                for (d, c) in v[at..].iter_mut().zip(bytes.chunks_exact(2)) {
                    *d = f16::from_le_bytes([c[0], c[1]]);
                }
            }
        }
    }

    /// Values `range` as f32, into `out`.
    pub fn read_f32(&self, range: std::ops::Range<usize>, out: &mut [f32]) {
        match self {
            Rows::F32(v) => out.copy_from_slice(&v[range]),
            Rows::F16(v) => {
                use half::slice::HalfFloatSliceExt;
                v[range].convert_to_f32_slice(out)
            }
        }
    }
}

/// A layer's resident neurons.
#[derive(Debug)]
pub struct LayerStore {
    /// Values per bundle (parts × width).
    pub row: usize,
    pub capacity: usize,
    pub rows: Rows,
    /// Slot -> neuron, for the used slots.
    neuron: Vec<u32>,
    /// Slot -> the last token that used it.
    last_used: Vec<u64>,
    /// Neuron -> slot, or `NONE`.
    slot: Vec<u32>,
}

impl LayerStore {
    /// A store for `capacity` bundles of `row` values out of `neurons`; allocates it all now.
    pub fn new(neurons: usize, row: usize, capacity: usize, f16: bool) -> LayerStore {
        let rows = if f16 {
            Rows::F16(vec![half::f16::ZERO; capacity * row])
        } else {
            Rows::F32(vec![0.0; capacity * row])
        };
        LayerStore {
            row,
            capacity,
            rows,
            neuron: Vec::with_capacity(capacity),
            last_used: Vec::with_capacity(capacity),
            slot: vec![NONE; neurons],
        }
    }

    /// Bytes this store holds allocated (the rows and its maps).
    pub fn allocated_bytes(&self) -> u64 {
        (self.capacity * self.row * self.rows.element_bytes()
            + self.neuron.capacity() * 4
            + self.last_used.capacity() * 8
            + self.slot.capacity() * 4) as u64
    }

    pub fn used(&self) -> usize {
        self.neuron.len()
    }

    pub fn slot_of(&self, neuron: u32) -> Option<usize> {
        match self.slot.get(neuron as usize) {
            Some(&s) if s != NONE => Some(s as usize),
            _ => None,
        }
    }

    /// Marks `slot` used by `token`.
    pub fn touch(&mut self, slot: usize, token: u64) {
        self.last_used[slot] = token;
    }

    /// Marks the resident `neurons` last used by `token` (an earlier token: evictable now,
    /// still in the window).
    pub fn age(&mut self, neurons: &[u32], token: u64) {
        for &n in neurons {
            if let Some(s) = self.slot_of(n) {
                self.last_used[s] = token;
            }
        }
    }

    /// Appends `neuron` with its bundle `bytes`; returns its slot. The store must have room.
    pub fn append(&mut self, neuron: u32, bytes: &[u8], token: u64) -> usize {
        let s = self.neuron.len();
        assert!(s < self.capacity, "append to a full layer store");
        self.rows.fill(s * self.row, bytes);
        self.neuron.push(neuron);
        self.last_used.push(token);
        self.slot[neuron as usize] = s as u32;
        s
    }

    /// Deletes the neuron in `slot`: the last used row moves into it.
    pub fn delete(&mut self, slot: usize) {
        let last = self.neuron.len() - 1;
        let gone = self.neuron[slot];
        self.slot[gone as usize] = NONE;
        if slot != last {
            self.rows
                .copy_within(last * self.row..(last + 1) * self.row, slot * self.row);
            let moved = self.neuron[last];
            self.neuron[slot] = moved;
            self.last_used[slot] = self.last_used[last];
            self.slot[moved as usize] = slot as u32;
        }
        self.neuron.pop();
        self.last_used.pop();
    }

    /// Deletes the neurons no token since `oldest` used (the sliding window); returns how many.
    pub fn expire(&mut self, oldest: u64) -> usize {
        let mut n = 0;
        let mut s = 0;
        while s < self.neuron.len() {
            if self.last_used[s] < oldest {
                self.delete(s);
                n += 1;
            } else {
                s += 1;
            }
        }
        n
    }

    /// Makes room for `extra` more neurons by deleting the least recently used ones that
    /// `token` does not use (slots touched by `token` stay). Returns false when even that is
    /// not enough.
    pub fn make_room(&mut self, extra: usize, token: u64) -> bool {
        let free = self.capacity - self.neuron.len();
        if extra <= free {
            return true;
        }
        let mut victims: Vec<(u64, u32)> = self
            .last_used
            .iter()
            .zip(&self.neuron)
            .filter(|(&t, _)| t != token)
            .map(|(&t, &n)| (t, n))
            .collect();
        if free + victims.len() < extra {
            return false;
        }
        victims.sort_unstable();
        for &(_, n) in victims.iter().take(extra - free) {
            let s = self.slot[n as usize] as usize;
            self.delete(s);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn row(store: &LayerStore, neuron: u32) -> Vec<f32> {
        let s = store.slot_of(neuron).expect("resident");
        let mut out = vec![0.0; store.row];
        store
            .rows
            .read_f32(s * store.row..(s + 1) * store.row, &mut out);
        out
    }

    #[test]
    fn delete_moves_the_last_row_and_keeps_the_maps_true() {
        let mut store = LayerStore::new(10, 2, 4, false);
        for n in [3u32, 5, 7] {
            store.append(n, &bytes(&[n as f32, -(n as f32)]), 1);
        }
        store.delete(store.slot_of(3).expect("3"));
        assert_eq!(store.used(), 2);
        assert_eq!(store.slot_of(3), None);
        assert_eq!(
            store.slot_of(7),
            Some(0),
            "the last row moved into the freed slot"
        );
        assert_eq!(row(&store, 7), [7.0, -7.0]);
        assert_eq!(row(&store, 5), [5.0, -5.0]);
    }

    #[test]
    fn the_window_expires_old_neurons_and_room_is_made_lru_first() {
        let mut store = LayerStore::new(10, 1, 3, true);
        store.append(1, &bytes(&[1.0])[..0], 1);
        store.append(2, &[], 2);
        store.append(3, &[], 3);
        assert!(store.make_room(1, 3), "neuron 1 (token 1) goes");
        assert_eq!(store.slot_of(1), None);
        assert!(store.slot_of(2).is_some());
        assert!(!store.make_room(3, 3), "neuron 3 is in use by token 3");
        assert_eq!(store.expire(3), 1, "only neuron 2 is older than token 3");
        assert_eq!(store.used(), 1);
    }
}
