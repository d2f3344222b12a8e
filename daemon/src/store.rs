//! Store: what deixisd keeps between requests and restarts, pipeline stage 7. Conversation and
//! background entities with their expiry, the text of recent screen parses (never pixels) for
//! the retention period, and a resolution log for diagnostics (a hash of the query, the chosen
//! ids and the latency: never the query itself).
//!
//! On disk it is a sled database (the only user of sled), in memory in ephemeral mode (nothing
//! is written anywhere). A write is acknowledged only after sled has flushed it, so an entity a
//! client was told about survives a SIGKILL.
//!
//! sled does not overwrite in place: a removed value stays in the log files until its segment
//! is reused. `forget` therefore copies what is left into a fresh database directory and
//! deletes the old one, so forgotten text is really gone from the disk. The database lives in
//! `DIR/db-N`; the highest complete `N` (marked by a `complete` file) is the current one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

/// Version of the layout below; a store with another version is refused, not misread.
pub const SCHEMA_VERSION: u32 = 1;
const SCHEMA_KEY: &[u8] = b"schema_version";

/// sled's page cache: the store holds little, so a small fixed cache is plenty.
const CACHE_BYTES: u64 = 4 * 1024 * 1024;

/// The resolution log keeps this many entries, the newest.
pub const LOG_ENTRIES: usize = 10_000;
/// The log is trimmed every this many appends.
pub const LOG_TRIM_EVERY: u64 = 64;

/// Conversational entity ids start here, background ones at `BACKGROUND_IDS`; screen element
/// ids are small, so the ranges never meet.
pub const CONVERSATION_IDS: u64 = 1 << 63;
pub const BACKGROUND_IDS: u64 = (1 << 63) | (1 << 62);

const CONVERSATION: &str = "conversation";
const BACKGROUND: &str = "background";
const SCREENS: &str = "screens";
const LOG: &str = "log";
const TREES: [&str; 4] = [CONVERSATION, BACKGROUND, SCREENS, LOG];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store in {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("cannot prepare the store directory {path}")]
    Dir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the store in {path} has schema version {found}; this deixisd reads version \
         {SCHEMA_VERSION} (move the directory away to start afresh)"
    )]
    Schema { path: PathBuf, found: String },
    #[error("the store failed")]
    Sled(#[from] sled::Error),
    #[error("the store's directory failed")]
    Io(#[from] std::io::Error),
    #[error("a stored record is corrupt: {0}")]
    Corrupt(String),
}

/// A conversational or background entity as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEntity {
    pub id: u64,
    pub background: bool,
    pub entity_type: String,
    pub text: String,
    pub fields: Vec<(String, String)>,
    /// Unix time in milliseconds after which the entity is gone.
    pub expires_ms: u64,
}

/// One resolution, for diagnostics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub at_ms: u64,
    /// A hash of the query, so repeated queries can be told apart without keeping them.
    pub query_hash: u64,
    pub chosen: Vec<String>,
    pub latency_us: u64,
}

/// How many records each part holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub conversation: usize,
    pub background: usize,
    pub screens: usize,
    pub log: usize,
}

/// The store. Calls block (sled flushes to disk): call them from the blocking pool.
#[derive(Debug)]
pub struct Store {
    inner: Mutex<Inner>,
}

/// A key and its value.
type Record = (Vec<u8>, Vec<u8>);

#[derive(Debug)]
enum Inner {
    Disk {
        root: PathBuf,
        generation: u64,
        db: sled::Db,
    },
    Memory {
        trees: BTreeMap<&'static str, BTreeMap<Vec<u8>, Vec<u8>>>,
        next_id: u64,
    },
}

/// The parts `forget` can clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Conversation,
    Background,
    Screens,
    Log,
}

impl Part {
    fn tree(self) -> &'static str {
        match self {
            Part::Conversation => CONVERSATION,
            Part::Background => BACKGROUND,
            Part::Screens => SCREENS,
            Part::Log => LOG,
        }
    }
}

fn db_dir(root: &Path, generation: u64) -> PathBuf {
    root.join(format!("db-{generation}"))
}

fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_BYTES)
        .mode(sled::Mode::LowSpace)
        .open()
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })
}

impl Store {
    /// Opens (or creates) the store under `root`, removing what an interrupted `forget` left.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let dir_error = |source| StoreError::Dir {
            path: root.to_owned(),
            source,
        };
        std::fs::create_dir_all(root).map_err(dir_error)?;
        let mut complete = Vec::new();
        let mut partial = Vec::new();
        for entry in std::fs::read_dir(root).map_err(dir_error)? {
            let entry = entry.map_err(dir_error)?;
            let name = entry.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_prefix("db-"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if entry.path().join("complete").exists() {
                complete.push(n);
            } else {
                partial.push(n);
            }
        }
        complete.sort_unstable();
        let generation = complete.last().copied().unwrap_or(0);
        for n in partial
            .into_iter()
            .chain(complete.iter().copied().filter(|&n| n != generation))
        {
            std::fs::remove_dir_all(db_dir(root, n)).map_err(dir_error)?;
        }
        let path = db_dir(root, generation);
        let db = open_db(&path)?;
        match db.get(SCHEMA_KEY)? {
            None => {
                db.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
                db.flush()?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION.to_be_bytes() => {}
            Some(v) => {
                let found = <[u8; 4]>::try_from(v.as_ref())
                    .map(|b| u32::from_be_bytes(b).to_string())
                    .unwrap_or_else(|_| format!("{:?}", v.as_ref()));
                return Err(StoreError::Schema { path, found });
            }
        }
        std::fs::write(path.join("complete"), b"").map_err(dir_error)?;
        Ok(Store {
            inner: Mutex::new(Inner::Disk {
                root: root.to_owned(),
                generation,
                db,
            }),
        })
    }

    /// A store that writes nothing to disk (ephemeral mode).
    pub fn memory() -> Store {
        Store {
            inner: Mutex::new(Inner::Memory {
                trees: BTreeMap::new(),
                next_id: 0,
            }),
        }
    }

    /// Where the database is, if on disk.
    pub fn path(&self) -> Option<PathBuf> {
        match &*self.lock() {
            Inner::Disk {
                root, generation, ..
            } => Some(db_dir(root, *generation)),
            Inner::Memory { .. } => None,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves sled consistent (its operations are atomic).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores conversation entities and returns them with their ids, once on disk.
    pub fn add_conversation(
        &self,
        entities: Vec<StoredEntity>,
    ) -> Result<Vec<StoredEntity>, StoreError> {
        self.put_entities(entities, false)
    }

    /// Replaces the background entities, once on disk.
    pub fn set_background(
        &self,
        entities: Vec<StoredEntity>,
    ) -> Result<Vec<StoredEntity>, StoreError> {
        self.put_entities(entities, true)
    }

    /// Gives the entities their ids and writes them durably: conversation entities are added
    /// (ids from the store's counter), background ones replace the previous set (ids by
    /// position).
    fn put_entities(
        &self,
        entities: Vec<StoredEntity>,
        background: bool,
    ) -> Result<Vec<StoredEntity>, StoreError> {
        let mut inner = self.lock();
        let mut out = Vec::with_capacity(entities.len());
        let mut batch = Vec::with_capacity(entities.len());
        for (n, mut e) in entities.into_iter().enumerate() {
            e.id = if background {
                BACKGROUND_IDS | n as u64
            } else {
                CONVERSATION_IDS | (inner.next_id()? & (CONVERSATION_IDS - 1))
            };
            e.background = background;
            batch.push((e.id.to_be_bytes().to_vec(), encode(&e)?));
            out.push(e);
        }
        let tree = if background { BACKGROUND } else { CONVERSATION };
        inner.apply(tree, background, batch, true)?;
        Ok(out)
    }

    /// The entities alive at `now_ms`, conversation first, each part in id order.
    pub fn entities(&self, now_ms: u64) -> Result<Vec<StoredEntity>, StoreError> {
        let inner = self.lock();
        let mut out = Vec::new();
        for tree in [CONVERSATION, BACKGROUND] {
            for (_, v) in inner.scan(tree)? {
                let e: StoredEntity = decode(&v)?;
                if e.expires_ms > now_ms {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// Keeps a screen parse's text, keyed by when it was seen.
    pub fn put_screen(&self, at_ms: u64, snapshot_id: &str, text: &str) -> Result<(), StoreError> {
        let mut key = at_ms.to_be_bytes().to_vec();
        key.extend_from_slice(snapshot_id.as_bytes());
        self.lock()
            .apply(SCREENS, false, vec![(key, text.as_bytes().to_vec())], false)
    }

    /// The kept screen parses, oldest first: (seen at, snapshot id, text).
    pub fn screens(&self) -> Result<Vec<(u64, String, String)>, StoreError> {
        self.lock()
            .scan(SCREENS)?
            .into_iter()
            .map(|(k, v)| {
                let (at, id) = split_time_key(&k)?;
                Ok((at, id, String::from_utf8_lossy(&v).into_owned()))
            })
            .collect()
    }

    /// Appends to the resolution log. Every [`LOG_TRIM_EVERY`] appends, entries past the
    /// newest [`LOG_ENTRIES`] are dropped (counting a sled tree walks it, so not every time).
    pub fn log(&self, entry: &LogEntry) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let id = inner.next_id()?;
        let mut key = entry.at_ms.to_be_bytes().to_vec();
        key.extend_from_slice(&id.to_be_bytes());
        inner.apply(LOG, false, vec![(key, encode(entry)?)], false)?;
        if id % LOG_TRIM_EVERY == 0 {
            let n = inner.len(LOG)?;
            if n > LOG_ENTRIES {
                let old: Vec<Vec<u8>> = inner
                    .scan(LOG)?
                    .into_iter()
                    .take(n - LOG_ENTRIES)
                    .map(|(k, _)| k)
                    .collect();
                inner.remove(LOG, &old)?;
            }
        }
        Ok(())
    }

    /// The resolution log, oldest first.
    pub fn log_entries(&self) -> Result<Vec<LogEntry>, StoreError> {
        self.lock()
            .scan(LOG)?
            .iter()
            .map(|(_, v)| decode(v))
            .collect()
    }

    /// Removes expired entities and screens seen before `screens_before_ms`. Returns how many
    /// records went.
    pub fn expire(&self, now_ms: u64, screens_before_ms: u64) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let mut gone = 0;
        for tree in [CONVERSATION, BACKGROUND] {
            let mut old = Vec::new();
            for (k, v) in inner.scan(tree)? {
                let e: StoredEntity = decode(&v)?;
                if e.expires_ms <= now_ms {
                    old.push(k);
                }
            }
            gone += old.len();
            inner.remove(tree, &old)?;
        }
        let old: Vec<Vec<u8>> = inner
            .scan(SCREENS)?
            .into_iter()
            .map(|(k, _)| k)
            .take_while(|k| split_time_key(k).is_ok_and(|(at, _)| at < screens_before_ms))
            .collect();
        gone += old.len();
        inner.remove(SCREENS, &old)?;
        Ok(gone)
    }

    /// Deletes the parts, from memory and from the disk: on disk, what is left is copied into
    /// a fresh database and the old one's files are deleted.
    pub fn forget(&self, parts: &[Part]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        match &mut *inner {
            Inner::Memory { trees, .. } => {
                for part in parts {
                    trees.remove(part.tree());
                }
                Ok(())
            }
            Inner::Disk {
                root,
                generation,
                db,
            } => {
                let next = *generation + 1;
                let path = db_dir(root, next);
                if path.exists() {
                    std::fs::remove_dir_all(&path)?;
                }
                let fresh = open_db(&path)?;
                fresh.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
                for tree in TREES {
                    if parts.iter().any(|p| p.tree() == tree) {
                        continue;
                    }
                    let from = db.open_tree(tree)?;
                    let to = fresh.open_tree(tree)?;
                    for kv in from.iter() {
                        let (k, v) = kv?;
                        to.insert(k, v)?;
                    }
                }
                fresh.flush()?;
                std::fs::write(path.join("complete"), b"")?;
                let old = db_dir(root, *generation);
                *db = fresh;
                *generation = next;
                // sled's threads may still hold the old files open; unlinking them is enough.
                std::fs::remove_dir_all(old)?;
                Ok(())
            }
        }
    }

    pub fn counts(&self) -> Result<Counts, StoreError> {
        let inner = self.lock();
        Ok(Counts {
            conversation: inner.len(CONVERSATION)?,
            background: inner.len(BACKGROUND)?,
            screens: inner.len(SCREENS)?,
            log: inner.len(LOG)?,
        })
    }

    /// Writes everything to disk (no-op in memory).
    pub fn flush(&self) -> Result<(), StoreError> {
        if let Inner::Disk { db, .. } = &*self.lock() {
            db.flush()?;
        }
        Ok(())
    }
}

impl Inner {
    fn next_id(&mut self) -> Result<u64, StoreError> {
        match self {
            Inner::Disk { db, .. } => Ok(db.generate_id()?),
            Inner::Memory { next_id, .. } => {
                *next_id += 1;
                Ok(*next_id)
            }
        }
    }

    /// Inserts the records (after clearing the tree when `replace`); `durable` waits until
    /// they are on disk (otherwise sled writes them within its flush interval, 500 ms).
    fn apply(
        &mut self,
        tree: &'static str,
        replace: bool,
        records: Vec<Record>,
        durable: bool,
    ) -> Result<(), StoreError> {
        match self {
            Inner::Disk { db, .. } => {
                let t = db.open_tree(tree)?;
                let mut batch = sled::Batch::default();
                if replace {
                    for k in t.iter().keys() {
                        batch.remove(k?);
                    }
                }
                for (k, v) in records {
                    batch.insert(k, v);
                }
                t.apply_batch(batch)?;
                if durable {
                    t.flush()?;
                }
            }
            Inner::Memory { trees, .. } => {
                let t = trees.entry(tree).or_default();
                if replace {
                    t.clear();
                }
                t.extend(records);
            }
        }
        Ok(())
    }

    fn remove(&mut self, tree: &'static str, keys: &[Vec<u8>]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        match self {
            Inner::Disk { db, .. } => {
                let t = db.open_tree(tree)?;
                let mut batch = sled::Batch::default();
                for k in keys {
                    batch.remove(k.as_slice());
                }
                t.apply_batch(batch)?;
                t.flush()?;
            }
            Inner::Memory { trees, .. } => {
                if let Some(t) = trees.get_mut(tree) {
                    for k in keys {
                        t.remove(k);
                    }
                }
            }
        }
        Ok(())
    }

    fn scan(&self, tree: &'static str) -> Result<Vec<Record>, StoreError> {
        match self {
            Inner::Disk { db, .. } => db
                .open_tree(tree)?
                .iter()
                .map(|kv| {
                    let (k, v) = kv?;
                    Ok((k.to_vec(), v.to_vec()))
                })
                .collect(),
            Inner::Memory { trees, .. } => Ok(trees
                .get(tree)
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()),
        }
    }

    fn len(&self, tree: &'static str) -> Result<usize, StoreError> {
        match self {
            Inner::Disk { db, .. } => Ok(db.open_tree(tree)?.len()),
            Inner::Memory { trees, .. } => Ok(trees.get(tree).map_or(0, BTreeMap::len)),
        }
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn split_time_key(key: &[u8]) -> Result<(u64, String), StoreError> {
    let (at, rest) = key
        .split_first_chunk::<8>()
        .ok_or_else(|| StoreError::Corrupt("a time key is shorter than 8 bytes".into()))?;
    Ok((
        u64::from_be_bytes(*at),
        String::from_utf8_lossy(rest).into_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(text: &str, expires_ms: u64) -> StoredEntity {
        StoredEntity {
            id: 0,
            background: false,
            entity_type: "phone number".into(),
            text: text.into(),
            fields: vec![("name".into(), "Ana".into())],
            expires_ms,
        }
    }

    fn files_contain(dir: &Path, needle: &[u8]) -> bool {
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if std::fs::read(&p)
                    .expect("read file")
                    .windows(needle.len())
                    .any(|w| w == needle)
                {
                    return true;
                }
            }
        }
        false
    }

    fn both(dir: &Path) -> [Store; 2] {
        [Store::open(dir).expect("open"), Store::memory()]
    }

    #[test]
    fn entities_round_trip_and_expire() {
        let dir = tempfile::tempdir().expect("dir");
        for store in both(dir.path()) {
            let added = store
                .add_conversation(vec![entity("555-0100", 2_000), entity("555-0199", 1_000)])
                .expect("add");
            assert!(added
                .iter()
                .all(|e| e.id >= CONVERSATION_IDS && !e.background));
            assert_ne!(added[0].id, added[1].id);
            store
                .set_background(vec![entity("alarm 7:00", 5_000)])
                .expect("background");
            let alive = store.entities(1_500).expect("entities");
            let texts: Vec<&str> = alive.iter().map(|e| e.text.as_str()).collect();
            assert_eq!(texts, ["555-0100", "alarm 7:00"]);
            assert_eq!(store.expire(1_500, 0).expect("expire"), 1);
            // Background entities are replaced, not added to.
            store
                .set_background(vec![entity("timer", 5_000)])
                .expect("background");
            let alive = store.entities(0).expect("entities");
            let texts: Vec<&str> = alive.iter().map(|e| e.text.as_str()).collect();
            assert_eq!(texts, ["555-0100", "timer"]);
        }
    }

    #[test]
    fn the_log_keeps_the_newest_entries() {
        let store = Store::memory();
        for n in 0..(LOG_ENTRIES as u64 + 200) {
            store
                .log(&LogEntry {
                    at_ms: n,
                    query_hash: n,
                    chosen: vec![],
                    latency_us: 1,
                })
                .expect("log");
        }
        let entries = store.log_entries().expect("entries");
        assert!(entries.len() >= LOG_ENTRIES);
        assert!(entries.len() < LOG_ENTRIES + LOG_TRIM_EVERY as usize);
        let dropped = (LOG_ENTRIES + 200 - entries.len()) as u64;
        assert!(dropped > 0);
        assert_eq!(entries[0].at_ms, dropped);
    }

    #[test]
    fn screens_expire_after_retention() {
        let dir = tempfile::tempdir().expect("dir");
        for store in both(dir.path()) {
            store.put_screen(10, "a", "{{1. Call}}").expect("put");
            store.put_screen(20, "b", "{{1. Mail}}").expect("put");
            store.expire(0, 15).expect("expire");
            let screens = store.screens().expect("screens");
            assert_eq!(
                screens,
                vec![(20, "b".to_owned(), "{{1. Mail}}".to_owned())]
            );
        }
    }

    #[test]
    fn forget_removes_the_text_from_the_files_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Store::open(dir.path()).expect("open");
        store
            .add_conversation(vec![entity("secret-number-4242", u64::MAX)])
            .expect("add");
        store
            .put_screen(1, "s", "screen-text-7373")
            .expect("screen");
        store.flush().expect("flush");
        assert!(files_contain(dir.path(), b"secret-number-4242"));
        store.forget(&[Part::Conversation]).expect("forget");
        assert!(!files_contain(dir.path(), b"secret-number-4242"));
        assert!(files_contain(dir.path(), b"screen-text-7373"));
        assert_eq!(store.counts().expect("counts").screens, 1);
        drop(store);
        // Reopening finds the fresh database with what was kept.
        let store = Store::open(dir.path()).expect("reopen");
        assert_eq!(store.counts().expect("counts").conversation, 0);
        assert_eq!(store.screens().expect("screens").len(), 1);
    }

    #[test]
    fn another_schema_version_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        {
            let db = open_db(&db_dir(dir.path(), 0)).expect("db");
            db.insert(SCHEMA_KEY, &7u32.to_be_bytes()).expect("insert");
            db.flush().expect("flush");
            std::fs::write(db_dir(dir.path(), 0).join("complete"), b"").expect("mark");
        }
        let e = Store::open(dir.path()).expect_err("schema 7");
        assert!(e.to_string().contains("schema version 7"), "{e}");
    }
}
