//! X11: where a top-level window is on the screen, for toolkits whose AT-SPI "screen"
//! coordinates are really window-relative (GTK 4 reports a window at 0,0 wherever it is).
//!
//! A window is found by its owner's process id (`_NET_WM_PID`) and its title (`_NET_WM_NAME`,
//! else `WM_NAME`), among the root window's children and their children (a window manager
//! reparents clients into frames).

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, Window};
use x11rb::rust_connection::RustConnection;

/// A connection to the X server of `DISPLAY`.
#[derive(Debug)]
pub(crate) struct X11 {
    conn: RustConnection,
    root: Window,
    net_wm_pid: u32,
    net_wm_name: u32,
    utf8_string: u32,
}

impl X11 {
    /// `None` without an X server (a Wayland session, a headless test).
    pub fn connect() -> Option<X11> {
        let (conn, screen) = x11rb::connect(None).ok()?;
        let root = conn.setup().roots.get(screen)?.root;
        let atom = |name: &[u8]| -> Option<u32> {
            Some(conn.intern_atom(false, name).ok()?.reply().ok()?.atom)
        };
        Some(X11 {
            net_wm_pid: atom(b"_NET_WM_PID")?,
            net_wm_name: atom(b"_NET_WM_NAME")?,
            utf8_string: atom(b"UTF8_STRING")?,
            root,
            conn,
        })
    }

    /// Screen position of the top-level window of process `pid` titled `title`.
    pub fn window_origin(&self, pid: u32, title: &str) -> Option<(i32, i32)> {
        let mut candidates = Vec::new();
        for top in self.children(self.root) {
            candidates.push(top);
            candidates.extend(self.children(top));
        }
        let window = candidates
            .into_iter()
            .find(|&w| self.pid(w) == Some(pid) && self.title(w).as_deref() == Some(title))?;
        let at = self
            .conn
            .translate_coordinates(window, self.root, 0, 0)
            .ok()?
            .reply()
            .ok()?;
        Some((i32::from(at.dst_x), i32::from(at.dst_y)))
    }

    fn children(&self, window: Window) -> Vec<Window> {
        self.conn
            .query_tree(window)
            .ok()
            .and_then(|c| c.reply().ok())
            .map(|r| r.children)
            .unwrap_or_default()
    }

    fn pid(&self, window: Window) -> Option<u32> {
        let reply = self
            .conn
            .get_property(false, window, self.net_wm_pid, AtomEnum::CARDINAL, 0, 1)
            .ok()?
            .reply()
            .ok()?;
        let pid = reply.value32()?.next();
        pid
    }

    fn title(&self, window: Window) -> Option<String> {
        let read = |property: u32, kind: u32| -> Option<String> {
            let reply = self
                .conn
                .get_property(false, window, property, kind, 0, 1024)
                .ok()?
                .reply()
                .ok()?;
            (reply.format == 8 && !reply.value.is_empty())
                .then(|| String::from_utf8_lossy(&reply.value).into_owned())
        };
        read(self.net_wm_name, self.utf8_string)
            .or_else(|| read(AtomEnum::WM_NAME.into(), AtomEnum::STRING.into()))
    }
}
