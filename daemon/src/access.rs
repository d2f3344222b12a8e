//! Access: which callers the service answers. With `[clients] allow` empty, every process of
//! the session may call (the session bus already admits only the user's processes). Otherwise
//! the caller's executable, found through its pid (`GetConnectionUnixProcessID`, then
//! `/proc/PID/exe`), must be one of the listed paths; others get `AccessDenied`.
//!
//! A unique bus name is never reused while the bus runs, so the answer is cached per name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use deixis_ipc::{Caller, Error};

/// Cached answers kept at most; the cache is emptied when it grows past this.
const CACHE: usize = 1024;

#[derive(Debug, Default)]
pub struct Access {
    /// Sender -> its executable (or why it is unknown).
    exes: Mutex<HashMap<String, Result<PathBuf, String>>>,
}

/// `path` with symlinks resolved, or as given when it does not resolve.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

impl Access {
    /// Ok when `allow` is empty or the caller's executable is listed.
    pub async fn check(&self, allow: &[PathBuf], caller: &Caller) -> Result<(), Error> {
        if allow.is_empty() {
            return Ok(());
        }
        let exe = self.exe(caller).await;
        match exe {
            Ok(exe) if allow.iter().any(|a| canonical(a) == exe) => Ok(()),
            Ok(exe) => Err(Error::AccessDenied(format!(
                "{} is not in [clients] allow",
                exe.display()
            ))),
            Err(why) => Err(Error::AccessDenied(format!(
                "cannot tell which program is calling ({why}), and [clients] allow is set"
            ))),
        }
    }

    async fn exe(&self, caller: &Caller) -> Result<PathBuf, String> {
        if let Some(known) = self.lock().get(&caller.sender) {
            return known.clone();
        }
        let exe = async {
            let dbus = zbus::fdo::DBusProxy::new(&caller.connection)
                .await
                .map_err(|e| e.to_string())?;
            let name = zbus::names::BusName::try_from(caller.sender.as_str())
                .map_err(|e| e.to_string())?;
            let pid = dbus
                .get_connection_unix_process_id(name)
                .await
                .map_err(|e| e.to_string())?;
            std::fs::read_link(format!("/proc/{pid}/exe"))
                .map(|p| canonical(&p))
                .map_err(|e| format!("/proc/{pid}/exe: {e}"))
        }
        .await;
        let mut cache = self.lock();
        if cache.len() >= CACHE {
            cache.clear();
        }
        cache.insert(caller.sender.clone(), exe.clone());
        exe
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Result<PathBuf, String>>> {
        self.exes.lock().unwrap_or_else(|p| p.into_inner())
    }
}
