//! The on-disk layout of a model's weights (`weights.bin` in a model directory, next to
//! `config.json` and `tokenizer.json`), written by conversion and training, verified on load.
//!
//! ```text
//! 0      8 bytes  magic "DEIXISW\0"
//! 8      8 bytes  header length H (u64, little endian)
//! 16     H bytes  header (JSON): layout version, dtype, every tensor's name, shape, offset,
//!                 length and CRC-32, and per layer the FFN bundle section
//! D      data, D = 16 + H rounded up to 4096; every section starts on a 4096-byte boundary
//! ```
//!
//! Resident tensors (embeddings, attention, norms, biases) are stored whole, row-major. The
//! FFN of each layer is stored as neuron bundles for the flash engine: bundle `i` holds the
//! up-projection row `i`, the gate row `i` (gated models) and the down-projection column `i`
//! contiguously, so reading neuron `i` is one read of `bundle_bytes`. Offsets are relative to
//! `D`. Values are little-endian f32 or f16.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

pub const MAGIC: &[u8; 8] = b"DEIXISW\0";
/// Version of this layout; a file with another version is refused.
pub const LAYOUT_VERSION: u32 = 1;
/// Sections start on multiples of this (O_DIRECT reads need aligned offsets).
pub const ALIGN: u64 = 4096;
/// A header longer than this is not ours.
const MAX_HEADER: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    F16,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorEntry {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: u64,
    pub bytes: u64,
    pub crc32: u32,
}

/// One layer's FFN bundles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FfnEntry {
    pub layer: usize,
    pub offset: u64,
    pub neurons: usize,
    /// Values per part (the model width).
    pub width: usize,
    /// The parts of each bundle, in order: "up", "gate" (gated models), "down".
    pub parts: Vec<String>,
    pub bundle_bytes: u64,
    pub crc32: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub layout_version: u32,
    pub dtype: DType,
    pub tensors: Vec<TensorEntry>,
    pub ffn: Vec<FfnEntry>,
    pub data_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a deixis weights file (no DEIXISW magic)")]
    NotOurs(String),
    #[error("{path} has layout version {found}; this build reads {LAYOUT_VERSION}")]
    Version { path: String, found: u32 },
    #[error("{path} is corrupt: {what}")]
    Corrupt { path: String, what: String },
    #[error("{path}: checksum mismatch in {name} (the file is damaged; convert the model again)")]
    Checksum { path: String, name: String },
    #[error("{path}: {name} has shape {found:?}, the config needs {expected:?}")]
    Shape {
        path: String,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{path}: no tensor {name}")]
    Missing { path: String, name: String },
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// One layer's FFN as the writer takes it: `up` and `gate` are `[neurons, width]`, `down` is
/// `[width, neurons]` (as in a `Linear` from neurons to width).
#[derive(Debug, Clone)]
pub struct FfnWeights {
    pub up: Tensor,
    pub gate: Option<Tensor>,
    pub down: Tensor,
}

fn align_up(n: u64) -> u64 {
    n.div_ceil(ALIGN) * ALIGN
}

fn encode(values: &[f32], dtype: DType, out: &mut Vec<u8>) {
    match dtype {
        DType::F32 => {
            for v in values {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        DType::F16 => {
            for v in values {
                out.extend_from_slice(&half::f16::from_f32(*v).to_le_bytes());
            }
        }
    }
}

fn decode(bytes: &[u8], dtype: DType) -> Vec<f32> {
    match dtype {
        DType::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        DType::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
    }
}

/// Writes `weights.bin`: resident tensors by name, and the FFN of each layer.
pub fn write(
    path: &Path,
    dtype: DType,
    tensors: &[(String, Tensor)],
    ffn: &[FfnWeights],
) -> Result<Header, WeightsError> {
    let io = |source| WeightsError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut sections: Vec<Vec<u8>> = Vec::new();
    let mut header = Header {
        layout_version: LAYOUT_VERSION,
        dtype,
        tensors: Vec::new(),
        ffn: Vec::new(),
        data_bytes: 0,
    };
    let mut offset = 0u64;
    for (name, t) in tensors {
        let values: Vec<f32> = t
            .to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1()?;
        let mut bytes = Vec::with_capacity(values.len() * dtype.size());
        encode(&values, dtype, &mut bytes);
        header.tensors.push(TensorEntry {
            name: name.clone(),
            shape: t.dims().to_vec(),
            offset,
            bytes: bytes.len() as u64,
            crc32: crc32fast::hash(&bytes),
        });
        offset = align_up(offset + bytes.len() as u64);
        sections.push(bytes);
    }
    for (layer, f) in ffn.iter().enumerate() {
        let (neurons, width) = f.up.dims2()?;
        let up: Vec<Vec<f32>> = f.up.to_dtype(candle_core::DType::F32)?.to_vec2()?;
        let gate: Option<Vec<Vec<f32>>> = match &f.gate {
            Some(g) => Some(g.to_dtype(candle_core::DType::F32)?.to_vec2()?),
            None => None,
        };
        let down: Vec<Vec<f32>> = f
            .down
            .to_dtype(candle_core::DType::F32)?
            .t()?
            .contiguous()?
            .to_vec2()?;
        let mut parts = vec!["up".to_owned()];
        if gate.is_some() {
            parts.push("gate".to_owned());
        }
        parts.push("down".to_owned());
        let bundle_bytes = (parts.len() * width * dtype.size()) as u64;
        let mut bytes = Vec::with_capacity(neurons * bundle_bytes as usize);
        for i in 0..neurons {
            encode(&up[i], dtype, &mut bytes);
            if let Some(g) = &gate {
                encode(&g[i], dtype, &mut bytes);
            }
            encode(&down[i], dtype, &mut bytes);
        }
        header.ffn.push(FfnEntry {
            layer,
            offset,
            neurons,
            width,
            parts,
            bundle_bytes,
            crc32: crc32fast::hash(&bytes),
        });
        offset = align_up(offset + bytes.len() as u64);
        sections.push(bytes);
    }
    header.data_bytes = offset;
    let json = serde_json::to_vec(&header).map_err(|e| WeightsError::Corrupt {
        path: path.display().to_string(),
        what: e.to_string(),
    })?;
    let data_start = align_up(16 + json.len() as u64);
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    file.write_all(MAGIC).map_err(io)?;
    file.write_all(&(json.len() as u64).to_le_bytes())
        .map_err(io)?;
    file.write_all(&json).map_err(io)?;
    let mut written = 16 + json.len() as u64;
    let pad = |file: &mut std::io::BufWriter<std::fs::File>, from: u64, to: u64| {
        file.write_all(&vec![0u8; (to - from) as usize])
    };
    pad(&mut file, written, data_start).map_err(io)?;
    written = data_start;
    let starts = header
        .tensors
        .iter()
        .map(|t| t.offset)
        .chain(header.ffn.iter().map(|f| f.offset));
    for (start, bytes) in starts.zip(&sections) {
        pad(&mut file, written, data_start + start).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        written = data_start + start + bytes.len() as u64;
    }
    pad(&mut file, written, data_start + header.data_bytes).map_err(io)?;
    let file = file.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    Ok(header)
}

/// The header of the weights file `path` (read and checked; the data is not read).
pub fn read_header(path: &Path) -> Result<Header, WeightsError> {
    Ok(open_header(path)?.header)
}

/// An open weights file with its header read and checked against the file's length.
struct Opened {
    file: std::fs::File,
    header: Header,
    /// Absolute offset of the data.
    data_start: u64,
    shown: String,
}

fn open_header(path: &Path) -> Result<Opened, WeightsError> {
    use std::os::unix::fs::FileExt;
    let shown = path.display().to_string();
    let io = |source| WeightsError::Io {
        path: shown.clone(),
        source,
    };
    let corrupt = |what: String| WeightsError::Corrupt {
        path: shown.clone(),
        what,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut head = [0u8; 16];
    file.read_exact_at(&mut head, 0)
        .map_err(|_| WeightsError::NotOurs(shown.clone()))?;
    if &head[..8] != MAGIC {
        return Err(WeightsError::NotOurs(shown));
    }
    let header_len = u64::from_le_bytes(head[8..16].try_into().unwrap_or_default());
    if header_len > MAX_HEADER || 16 + header_len > file_len {
        return Err(corrupt(format!(
            "header length {header_len} does not fit the file"
        )));
    }
    let mut json = vec![0u8; header_len as usize];
    file.read_exact_at(&mut json, 16).map_err(io)?;
    let header = parse_header(&json, &shown)?;
    let data_start = align_up(16 + header_len);
    if data_start.checked_add(header.data_bytes) > Some(file_len) {
        return Err(corrupt(format!(
            "the file is {file_len} bytes, the header says more (truncated?)"
        )));
    }
    Ok(Opened {
        file,
        header,
        data_start,
        shown,
    })
}

fn parse_header(json: &[u8], path: &str) -> Result<Header, WeightsError> {
    let version = serde_json::from_slice::<serde_json::Value>(json)
        .ok()
        .and_then(|v| v.get("layout_version")?.as_u64());
    if let Some(v) = version {
        if v != u64::from(LAYOUT_VERSION) {
            return Err(WeightsError::Version {
                path: path.to_owned(),
                found: u32::try_from(v).unwrap_or(u32::MAX),
            });
        }
    }
    serde_json::from_slice(json).map_err(|e| WeightsError::Corrupt {
        path: path.to_owned(),
        what: format!("header: {e}"),
    })
}

/// Checks a resident tensor's size and checksum and decodes it (f16 kept as f16 when asked).
fn tensor(
    t: &TensorEntry,
    data: &[u8],
    dtype: DType,
    keep_f16: bool,
    path: &str,
) -> Result<Tensor, WeightsError> {
    let count = t
        .shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    if count.and_then(|c| c.checked_mul(dtype.size() as u64)) != Some(t.bytes) {
        return Err(WeightsError::Corrupt {
            path: path.to_owned(),
            what: format!("{} is {} bytes for shape {:?}", t.name, t.bytes, t.shape),
        });
    }
    if crc32fast::hash(data) != t.crc32 {
        return Err(WeightsError::Checksum {
            path: path.to_owned(),
            name: t.name.clone(),
        });
    }
    Ok(if keep_f16 && dtype == DType::F16 {
        let values: Vec<half::f16> = data
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]))
            .collect();
        Tensor::from_vec(values, t.shape.as_slice(), &Device::Cpu)?
    } else {
        Tensor::from_vec(decode(data, dtype), t.shape.as_slice(), &Device::Cpu)?
    })
}

/// A loaded, verified weights file: every tensor in memory as f32.
#[derive(Debug)]
pub struct Loaded {
    pub header: Header,
    /// Absolute file offset of the data (offsets in the header are relative to it).
    pub data_start: u64,
    pub tensors: HashMap<String, Tensor>,
    /// Per layer: up (and gate) rows `[neurons, width]` each, and down as `[neurons, width]`
    /// (the transpose of a `Linear` from neurons to width).
    pub ffn: Vec<(Tensor, Option<Tensor>, Tensor)>,
    pub path: String,
}

impl Loaded {
    /// Reads and verifies `path` (magic, version, bounds, checksums, shapes).
    pub fn read(path: &Path) -> Result<Loaded, WeightsError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Io {
            path: shown.clone(),
            source,
        })?;
        Loaded::parse(&bytes, &shown)
    }

    pub fn parse(bytes: &[u8], path: &str) -> Result<Loaded, WeightsError> {
        let corrupt = |what: String| WeightsError::Corrupt {
            path: path.to_owned(),
            what,
        };
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(WeightsError::NotOurs(path.to_owned()));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[8..16]);
        let header_len = u64::from_le_bytes(len);
        if header_len > MAX_HEADER || 16 + header_len > bytes.len() as u64 {
            return Err(corrupt(format!(
                "header length {header_len} does not fit the file"
            )));
        }
        let header = parse_header(&bytes[16..16 + header_len as usize], path)?;
        let data_start = align_up(16 + header_len);
        let end = data_start
            .checked_add(header.data_bytes)
            .ok_or_else(|| corrupt("data length overflows".into()))?;
        if end > bytes.len() as u64 {
            return Err(corrupt(format!(
                "the file is {} bytes, the header says {end} (truncated?)",
                bytes.len()
            )));
        }
        let section = |name: &str, offset: u64, len: u64| -> Result<&[u8], WeightsError> {
            let s = offset
                .checked_add(len)
                .filter(|e| *e <= header.data_bytes)
                .map(|_| (data_start + offset) as usize)
                .ok_or_else(|| corrupt(format!("{name} lies outside the data")))?;
            Ok(&bytes[s..s + len as usize])
        };
        let size = header.dtype.size() as u64;
        let mut tensors = HashMap::new();
        for t in &header.tensors {
            let data = section(&t.name, t.offset, t.bytes)?;
            tensors.insert(t.name.clone(), tensor(t, data, header.dtype, false, path)?);
        }
        let mut ffn = Vec::new();
        for (n, f) in header.ffn.iter().enumerate() {
            let name = format!("ffn of layer {}", f.layer);
            let parts = f.parts.len();
            let gated = match f.parts.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["up", "down"] => false,
                ["up", "gate", "down"] => true,
                _ => return Err(corrupt(format!("{name}: unknown parts {:?}", f.parts))),
            };
            if f.layer != n || (parts * f.width) as u64 * size != f.bundle_bytes || f.neurons == 0 {
                return Err(corrupt(format!("{name}: inconsistent bundle sizes")));
            }
            let len = (f.neurons as u64)
                .checked_mul(f.bundle_bytes)
                .ok_or_else(|| corrupt(format!("{name} is absurdly large")))?;
            let data = section(&name, f.offset, len)?;
            if crc32fast::hash(data) != f.crc32 {
                return Err(WeightsError::Checksum {
                    path: path.to_owned(),
                    name,
                });
            }
            let all = Tensor::from_vec(
                decode(data, header.dtype),
                (f.neurons, parts, f.width),
                &Device::Cpu,
            )?;
            let part = |i: usize| -> Result<Tensor, WeightsError> {
                Ok(all.narrow(1, i, 1)?.squeeze(1)?.contiguous()?)
            };
            let (up, gate, down) = if gated {
                (part(0)?, Some(part(1)?), part(2)?)
            } else {
                (part(0)?, None, part(1)?)
            };
            ffn.push((up, gate, down));
        }
        Ok(Loaded {
            data_start,
            header,
            tensors,
            ffn,
            path: path.to_owned(),
        })
    }

    /// Reads only the resident tensors of `path` (embeddings, attention, norms, biases), for the
    /// flash engine: the FFN bundles stay on disk and `ffn` is empty. With `keep_f16`, an f16
    /// file's tensors stay f16 in memory (half the DRAM); otherwise they are f32.
    pub fn read_resident(path: &Path, keep_f16: bool) -> Result<Loaded, WeightsError> {
        use std::os::unix::fs::FileExt;
        let Opened {
            file,
            header,
            data_start,
            shown,
        } = open_header(path)?;
        let io = |source| WeightsError::Io {
            path: shown.clone(),
            source,
        };
        let corrupt = |what: String| WeightsError::Corrupt {
            path: shown.clone(),
            what,
        };
        let mut tensors = HashMap::new();
        for t in &header.tensors {
            if t.offset
                .checked_add(t.bytes)
                .filter(|e| *e <= header.data_bytes)
                .is_none()
            {
                return Err(corrupt(format!("{} lies outside the data", t.name)));
            }
            let mut data = vec![0u8; t.bytes as usize];
            file.read_exact_at(&mut data, data_start + t.offset)
                .map_err(io)?;
            tensors.insert(
                t.name.clone(),
                tensor(t, &data, header.dtype, keep_f16, &shown)?,
            );
        }
        Ok(Loaded {
            data_start,
            header,
            tensors,
            ffn: Vec::new(),
            path: shown,
        })
    }

    /// The tensor `name`, which must have `shape`.
    pub fn take(&self, name: &str, shape: &[usize]) -> Result<Tensor, WeightsError> {
        let t = self
            .tensors
            .get(name)
            .ok_or_else(|| WeightsError::Missing {
                path: self.path.clone(),
                name: name.to_owned(),
            })?;
        if t.dims() != shape {
            return Err(WeightsError::Shape {
                path: self.path.clone(),
                name: name.to_owned(),
                expected: shape.to_vec(),
                found: t.dims().to_vec(),
            });
        }
        Ok(t.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path, dtype: DType) -> std::path::PathBuf {
        let dev = Device::Cpu;
        let embed = Tensor::arange(0f32, 12.0, &dev)
            .and_then(|t| t.reshape((4, 3)))
            .expect("t");
        let up = Tensor::arange(0f32, 6.0, &dev)
            .and_then(|t| t.reshape((2, 3)))
            .expect("t");
        let down = Tensor::arange(10f32, 16.0, &dev)
            .and_then(|t| t.reshape((3, 2)))
            .expect("t");
        let path = dir.join("weights.bin");
        write(
            &path,
            dtype,
            &[("embed".into(), embed)],
            &[FfnWeights {
                up,
                gate: None,
                down,
            }],
        )
        .expect("write");
        path
    }

    #[test]
    fn written_weights_read_back_with_bundles() {
        let dir = tempfile::tempdir().expect("dir");
        for dtype in [DType::F32, DType::F16] {
            let path = sample(dir.path(), dtype);
            let loaded = Loaded::read(&path).expect("read");
            let embed = loaded.take("embed", &[4, 3]).expect("embed");
            assert_eq!(embed.to_vec2::<f32>().expect("v")[3], vec![9.0, 10.0, 11.0]);
            let (up, gate, down) = &loaded.ffn[0];
            assert!(gate.is_none());
            assert_eq!(
                up.to_vec2::<f32>().expect("v"),
                [[0., 1., 2.], [3., 4., 5.]]
            );
            // down is stored per neuron: column i of the [width, neurons] matrix.
            assert_eq!(
                down.to_vec2::<f32>().expect("v"),
                [[10., 12., 14.], [11., 13., 15.]]
            );
            let f = &loaded.header.ffn[0];
            assert_eq!(f.bundle_bytes, 2 * 3 * dtype.size() as u64);
            assert_eq!((16 + f.offset) % ALIGN, 16 % ALIGN, "sections are aligned");
            assert!(matches!(
                loaded.take("embed", &[3, 4]),
                Err(WeightsError::Shape { .. })
            ));
        }
    }

    #[test]
    fn truncated_and_bit_flipped_files_are_errors_not_panics() {
        let dir = tempfile::tempdir().expect("dir");
        let path = sample(dir.path(), DType::F32);
        let bytes = std::fs::read(&path).expect("read");
        // Every truncation point, in steps.
        for cut in (0..bytes.len()).step_by(97) {
            assert!(Loaded::parse(&bytes[..cut], "w").is_err(), "cut at {cut}");
        }
        // A flipped bit anywhere is caught (header: parse or bounds; data: checksums), except
        // in padding, which no checksum covers.
        let loaded = Loaded::parse(&bytes, "w").expect("intact");
        let data_start = align_up(16 + u64::from_le_bytes(bytes[8..16].try_into().expect("8")));
        let used: Vec<(u64, u64)> = loaded
            .header
            .tensors
            .iter()
            .map(|t| (t.offset, t.bytes))
            .chain(
                loaded
                    .header
                    .ffn
                    .iter()
                    .map(|f| (f.offset, f.neurons as u64 * f.bundle_bytes)),
            )
            .map(|(o, n)| (data_start + o, data_start + o + n))
            .collect();
        for at in (0..bytes.len()).step_by(7) {
            let in_data = used.iter().any(|(s, e)| (*s..*e).contains(&(at as u64)));
            let in_header = at < 16 + bytes[8] as usize;
            if !in_data && !in_header {
                continue;
            }
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            let r = Loaded::parse(&flipped, "w");
            if in_data {
                assert!(
                    matches!(r, Err(WeightsError::Checksum { .. })),
                    "flip at {at}: {r:?}"
                );
            }
        }
        let mut other = bytes.clone();
        other[0] = b'X';
        assert!(matches!(
            Loaded::parse(&other, "w"),
            Err(WeightsError::NotOurs(_))
        ));
    }
}
