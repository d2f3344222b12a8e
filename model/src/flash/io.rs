//! Reading FFN bundles from disk, bypassing the page cache.
//!
//! The weights file is opened with `O_DIRECT`, so every read comes from the disk (the page
//! cache would otherwise hold the whole file after one pass: 24 GiB of RAM here, and a
//! benchmark that reads from it measures nothing). Where `O_DIRECT` is refused (tmpfs, some
//! FUSE file systems) reads are buffered and each read range is dropped from the cache with
//! `posix_fadvise(DONTNEED)` right after, so the next read of it is cold again.
//!
//! `O_DIRECT` needs offsets, lengths and buffer addresses aligned to the logical block size
//! (512 B on this disk); we align to [`BLOCK`] (4 KiB, safe on every disk we know). A read of
//! bundles is widened to aligned bounds and the bundles are sliced out of the buffer.
//!
//! [`plan`] turns a sorted list of bundle indices into reads: neighbours closer than
//! `coalesce_gap` bundles share one read (reading the gap is cheaper than another request),
//! and no read is longer than `max_read` bytes. [`Disk::read`] puts a batch of reads on the
//! disk at once: by default in one io_uring submission ([`Submit::Ring`]), else on a pool of
//! reader threads, one blocking `pread` each ([`Submit::Threads`], and where the kernel or a
//! seccomp filter refuses io_uring). A token's layers read a few bundles each, one layer after
//! another, so each batch costs about one read's latency plus the time to get every read onto
//! the device: with the ring that is one system call; with the pool, waking a thread per read
//! (measured on the generated 1.3B model: README, "The flash engine").

use std::fs::File;
use std::num::NonZeroU64;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Mutex;

use io_uring::{opcode, types, IoUring};
use rayon::prelude::*;
use serde::Serialize;

/// Alignment of direct reads: offsets, lengths and buffer addresses.
pub const BLOCK: u64 = 4096;

fn align_down(n: u64) -> u64 {
    n / BLOCK * BLOCK
}

pub fn align_up(n: u64) -> u64 {
    n.div_ceil(BLOCK) * BLOCK
}

/// One read: the bundles `first..first + count` of a section that starts at `base` (absolute
/// file offset) with bundles of `bundle` bytes, widened to aligned bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    pub first: u32,
    pub count: u32,
    /// Aligned absolute offset and length of what is read.
    pub offset: u64,
    pub len: u64,
    /// Where bundle `first` starts inside the read.
    pub skip: u64,
}

/// Reads covering the sorted, distinct bundle indices `needed`.
pub fn plan(needed: &[u32], base: u64, bundle: u64, coalesce_gap: u32, max_read: u64) -> Vec<Read> {
    let mut reads = Vec::new();
    let mut i = 0;
    while i < needed.len() {
        let first = needed[i];
        let mut last = first;
        let mut j = i + 1;
        while j < needed.len()
            && needed[j] - last <= coalesce_gap + 1
            && u64::from(needed[j] - first + 1) * bundle <= max_read
        {
            last = needed[j];
            j += 1;
        }
        let start = base + u64::from(first) * bundle;
        let end = base + u64::from(last + 1) * bundle;
        let offset = align_down(start);
        reads.push(Read {
            first,
            count: last - first + 1,
            offset,
            len: align_up(end) - offset,
            skip: start - offset,
        });
        i = j;
    }
    reads
}

/// Bytes a staging buffer needs for `reads` (each read's buffer is aligned).
pub fn staging_bytes(reads: &[Read]) -> u64 {
    reads.iter().map(|r| r.len).sum::<u64>() + BLOCK
}

/// How a batch of reads gets onto the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Submit {
    /// io_uring: the whole batch in one `io_uring_enter`, the completions awaited together.
    #[default]
    Ring,
    /// A pool of reader threads, one blocking `pread` per read.
    Threads,
}

impl Submit {
    pub fn name(self) -> &'static str {
        match self {
            Submit::Ring => "io_uring",
            Submit::Threads => "threads",
        }
    }
}

/// Entries of the ring: a batch longer than this is submitted in several rounds.
const RING_ENTRIES: u32 = 256;

enum Readers {
    Ring(Box<Mutex<IoUring>>),
    Pool(rayon::ThreadPool),
}

/// The weights file, opened for cold reads.
pub struct Disk {
    file: File,
    /// `O_DIRECT` accepted; otherwise buffered reads followed by `DONTNEED`.
    pub direct: bool,
    readers: Readers,
    threads: usize,
}

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disk")
            .field("direct", &self.direct)
            .field("submit", &self.submit())
            .field("threads", &self.threads)
            .finish()
    }
}

impl Disk {
    /// Opens `path` with `O_DIRECT` where the file system takes it; reads submitted as
    /// `submit` says (`threads` readers for [`Submit::Threads`], or when the ring is refused).
    pub fn open(path: &Path, threads: usize, submit: Submit) -> std::io::Result<Disk> {
        Disk::open_with(path, threads, submit, true)
    }

    /// [`Disk::open`], or with `try_direct` false the buffered fallback (what file systems
    /// that refuse `O_DIRECT` get; tests use it).
    pub fn open_with(
        path: &Path,
        threads: usize,
        submit: Submit,
        try_direct: bool,
    ) -> std::io::Result<Disk> {
        let direct = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
            .open(path)
            .and_then(|f| {
                if try_direct {
                    Ok(f)
                } else {
                    Err(std::io::Error::other("buffered asked"))
                }
            });
        let (file, direct) = match direct {
            // Direct I/O is accepted at open on most file systems but refused at the first
            // read on some: probe with one aligned block.
            Ok(f) if probe(&f) => (f, true),
            _ => (File::open(path)?, false),
        };
        let threads = threads.max(1);
        // A kernel without io_uring, or a seccomp filter that refuses it (some container
        // runtimes do): the pool.
        let ring = match submit {
            Submit::Ring => IoUring::new(RING_ENTRIES).ok(),
            Submit::Threads => None,
        };
        let readers = match ring {
            Some(ring) => Readers::Ring(Box::new(Mutex::new(ring))),
            None => Readers::Pool(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("deixis-io-{i}"))
                    .build()
                    .map_err(std::io::Error::other)?,
            ),
        };
        Ok(Disk {
            file,
            direct,
            readers,
            threads,
        })
    }

    /// How reads are submitted (the ring, unless it was refused or not asked for).
    pub fn submit(&self) -> Submit {
        match self.readers {
            Readers::Ring(_) => Submit::Ring,
            Readers::Pool(_) => Submit::Threads,
        }
    }

    /// Reader threads (of the pool; the ring has none).
    pub fn threads(&self) -> usize {
        match self.readers {
            Readers::Ring(_) => 0,
            Readers::Pool(_) => self.threads,
        }
    }

    /// Drops the whole file from the page cache (before a cold run).
    pub fn drop_cache(&self) -> std::io::Result<()> {
        rustix::fs::fadvise(&self.file, 0, None, rustix::fs::Advice::DontNeed)?;
        Ok(())
    }

    /// Reads `reads` in parallel into `staging` (which must hold [`staging_bytes`]); returns,
    /// per read, the range of `staging` that holds its first bundle onwards.
    pub fn read(
        &self,
        reads: &[Read],
        staging: &mut [u8],
    ) -> std::io::Result<Vec<std::ops::Range<usize>>> {
        let lead = staging.as_ptr().align_offset(BLOCK as usize);
        let mut rest = staging
            .get_mut(lead..)
            .ok_or_else(|| std::io::Error::other("staging buffer too small"))?;
        let mut jobs = Vec::with_capacity(reads.len());
        let mut ranges = Vec::with_capacity(reads.len());
        let mut at = lead;
        for r in reads {
            if (rest.len() as u64) < r.len {
                return Err(std::io::Error::other("staging buffer too small"));
            }
            let (buf, tail) = rest.split_at_mut(r.len as usize);
            rest = tail;
            ranges.push(at + r.skip as usize..at + r.len as usize);
            at += r.len as usize;
            jobs.push((r, buf));
        }
        let file = &self.file;
        // The buffered fallback: what was read leaves the page cache, so it is cold next time.
        let uncache = |r: &Read| match self.direct {
            true => Ok(()),
            false => rustix::fs::fadvise(
                file,
                r.offset,
                NonZeroU64::new(r.len),
                rustix::fs::Advice::DontNeed,
            ),
        };
        let one = |(r, buf): (&Read, &mut [u8])| {
            file.read_exact_at(buf, r.offset)?;
            Ok::<(), std::io::Error>(uncache(r)?)
        };
        match &self.readers {
            Readers::Ring(ring) => {
                let mut ring = ring.lock().unwrap_or_else(|e| e.into_inner());
                read_ring(&mut ring, file, &mut jobs)?;
                jobs.iter().try_for_each(|(r, _)| uncache(r))?;
            }
            // One read: on this thread, without waking the pool.
            Readers::Pool(_) if jobs.len() == 1 => jobs.into_iter().try_for_each(one)?,
            Readers::Pool(pool) => pool.install(|| jobs.into_par_iter().try_for_each(one))?,
        }
        Ok(ranges)
    }

    /// The disk's own cold random-read throughput in MiB/s: `count` reads of `size` bytes at
    /// random aligned offsets inside `within` (absolute byte range), submitted `batch` at a
    /// time (each batch waits for the one before, as a token's layers do; `count` for one
    /// deep queue), with `gap` of idleness after each batch (a token computes between its
    /// layers' reads; not counted in the time).
    pub fn throughput(
        &self,
        size: u64,
        count: usize,
        batch: usize,
        gap: std::time::Duration,
        within: std::ops::Range<u64>,
        seed: u64,
    ) -> std::io::Result<f64> {
        use rand::{Rng, SeedableRng};
        let size = align_up(size.max(1));
        let span = within.end.saturating_sub(within.start + size) / BLOCK;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let reads: Vec<Read> = (0..count)
            .map(|_| Read {
                first: 0,
                count: 1,
                offset: align_up(within.start) + rng.gen_range(0..span.max(1)) * BLOCK,
                len: size,
                skip: 0,
            })
            .collect();
        self.drop_cache()?;
        let batch = batch.clamp(1, count.max(1));
        let mut staging = vec![0u8; staging_bytes(&reads[..batch.min(reads.len())]) as usize];
        let mut took = std::time::Duration::ZERO;
        for b in reads.chunks(batch) {
            let start = std::time::Instant::now();
            self.read(b, &mut staging)?;
            took += start.elapsed();
            if !gap.is_zero() {
                std::thread::sleep(gap);
            }
        }
        let secs = took.as_secs_f64();
        Ok((size * count as u64) as f64 / (1024.0 * 1024.0) / secs.max(1e-9))
    }
}

/// Reads `jobs` through `ring`: up to [`RING_ENTRIES`] reads per submission, returning once
/// every submitted read has completed. A short read (the end of the file) is finished with
/// `pread`.
fn read_ring(
    ring: &mut IoUring,
    file: &File,
    jobs: &mut [(&Read, &mut [u8])],
) -> std::io::Result<()> {
    let fd = types::Fd(file.as_raw_fd());
    let mut first_error = None;
    for chunk in jobs.chunks_mut(RING_ENTRIES as usize) {
        let mut results = vec![0i32; chunk.len()];
        if chunk
            .iter()
            .any(|(_, buf)| u32::try_from(buf.len()).is_err())
        {
            return Err(std::io::Error::other("a read of 4 GiB or more"));
        }
        {
            let mut sq = ring.submission();
            for (i, (r, buf)) in chunk.iter_mut().enumerate() {
                let entry = opcode::Read::new(fd, buf.as_mut_ptr(), buf.len() as u32)
                    .offset(r.offset)
                    .build()
                    .user_data(i as u64);
                // SAFETY: the buffer and the file outlive the read: this function returns only
                // after every entry it pushed has completed (below). The queue has room for a
                // whole chunk: every earlier entry was submitted and has completed.
                #[allow(unsafe_code)]
                let pushed = unsafe { sq.push(&entry) };
                if pushed.is_err() {
                    // Entries pushed but not submitted would be submitted by the next batch,
                    // with this batch's buffers gone.
                    eprintln!("deixis: io_uring submission queue full");
                    std::process::abort();
                }
            }
        }
        let mut left = chunk.len();
        while left > 0 {
            if let Err(e) = ring.submit_and_wait(left) {
                use rustix::io::Errno;
                match Errno::from_io_error(&e) {
                    Some(Errno::INTR | Errno::AGAIN | Errno::BUSY) => {
                        std::thread::yield_now();
                        continue;
                    }
                    // Returning would free buffers the kernel may still write into.
                    _ => {
                        eprintln!("deixis: io_uring_enter failed with reads in flight: {e}");
                        std::process::abort();
                    }
                }
            }
            for cqe in ring.completion() {
                if let Some(r) = results.get_mut(cqe.user_data() as usize) {
                    *r = cqe.result();
                    left -= 1;
                }
            }
        }
        for ((r, buf), n) in chunk.iter_mut().zip(results) {
            if n < 0 {
                first_error.get_or_insert(std::io::Error::from_raw_os_error(-n));
            } else if (n as usize) < buf.len() {
                let n = n as usize;
                if let Err(e) = file.read_exact_at(&mut buf[n..], r.offset + n as u64) {
                    first_error.get_or_insert(e);
                }
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn probe(file: &File) -> bool {
    let mut buf = vec![0u8; 2 * BLOCK as usize];
    let lead = buf.as_ptr().align_offset(BLOCK as usize);
    file.read_at(&mut buf[lead..lead + BLOCK as usize], 0)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn plans_coalesce_neighbours_within_the_gap_and_the_size_limit() {
        // Bundles of 1000 bytes in a section at 8192.
        let reads = plan(&[0, 1, 3, 10, 11], 8192, 1000, 1, 1 << 20);
        let spans: Vec<(u32, u32)> = reads.iter().map(|r| (r.first, r.count)).collect();
        assert_eq!(spans, [(0, 4), (10, 2)]);
        for r in &reads {
            assert_eq!(r.offset % BLOCK, 0);
            assert_eq!(r.len % BLOCK, 0);
            let start = 8192 + u64::from(r.first) * 1000;
            assert_eq!(r.offset + r.skip, start);
            assert!(r.offset + r.len >= start + u64::from(r.count) * 1000);
        }
        // No gap allowed: every run of consecutive bundles is one read.
        let reads = plan(&[0, 1, 3], 0, 1000, 0, 1 << 20);
        assert_eq!(reads.len(), 2);
        // The size limit splits a long run.
        let reads = plan(&(0..10).collect::<Vec<_>>(), 0, 1000, 0, 3000);
        let counts: Vec<u32> = reads.iter().map(|r| r.count).collect();
        assert_eq!(counts, [3, 3, 3, 1]);
    }

    #[test]
    fn reads_return_the_bytes_of_their_bundles() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("data");
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).expect("write");
        for submit in [Submit::Ring, Submit::Threads] {
            for try_direct in [true, false] {
                let disk = Disk::open_with(&path, 3, submit, try_direct).expect("open");
                if !try_direct {
                    assert!(!disk.direct, "the buffered fallback");
                }
                if submit == Submit::Threads {
                    assert_eq!(disk.submit(), Submit::Threads);
                }
                check_reads(&disk, &bytes);
            }
        }
    }

    fn check_reads(disk: &Disk, bytes: &[u8]) {
        let (base, bundle) = (5000u64, 777u64);
        let needed = [0u32, 2, 3, 90, 200];
        let reads = plan(&needed, base, bundle, 1, 8192);
        let mut staging = vec![0u8; staging_bytes(&reads) as usize];
        let ranges = disk.read(&reads, &mut staging).expect("read");
        for (r, range) in reads.iter().zip(ranges) {
            for k in 0..r.count {
                let at = range.start + (k as u64 * bundle) as usize;
                let want = (base + u64::from(r.first + k) * bundle) as usize;
                assert_eq!(
                    &staging[at..at + bundle as usize],
                    &bytes[want..want + bundle as usize]
                );
            }
        }
        for batch in [16, 3] {
            let mib_s = disk.throughput(8192, 16, batch, Duration::ZERO, 0..200_000, 1);
            assert!(mib_s.expect("throughput") > 0.0);
        }
    }
}
