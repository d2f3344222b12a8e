//! X11: where a top-level window is on the screen, for toolkits whose AT-SPI "screen"
//! coordinates are really window-relative (GTK 4 reports a window at 0,0 wherever it is); the
//! top-level windows in stacking order and the screen's pixels, for OCR (`ocr`).
//!
//! A window is found by its owner's process id (`_NET_WM_PID`) and its title (`_NET_WM_NAME`,
//! else `WM_NAME`), among the root window's children and their children (a window manager
//! reparents clients into frames).
//!
//! Pixels are read with `GetImage` into memory and never written anywhere.

use x11rb::connection::Connection as _;
use x11rb::protocol::xproto::{AtomEnum, ConnectionExt as _, ImageFormat, MapState, Window};
use x11rb::rust_connection::RustConnection;

/// A connection to the X server of `DISPLAY`.
#[derive(Debug)]
pub(crate) struct X11 {
    conn: RustConnection,
    screen: usize,
    root: Window,
    net_wm_pid: u32,
    net_wm_name: u32,
    utf8_string: u32,
    net_active_window: u32,
}

/// A mapped top-level window: its frame's place on the screen, the client's names.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TopWindow {
    pub id: Window,
    /// Screen pixels: x, y, width, height (the frame, where a window manager draws one).
    pub rect: (i32, i32, u32, u32),
    pub title: String,
    /// `WM_CLASS`: instance and class ("xmessage", "Xmessage").
    pub class: (String, String),
    pub pid: Option<u32>,
    /// Menus, tooltips, popups: not managed by the window manager.
    pub override_redirect: bool,
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
            net_active_window: atom(b"_NET_ACTIVE_WINDOW")?,
            screen,
            root,
            conn,
        })
    }

    /// The screen's size in pixels.
    pub fn screen_size(&self) -> (u16, u16) {
        let s = &self.conn.setup().roots[self.screen];
        (s.width_in_pixels, s.height_in_pixels)
    }

    /// The mapped top-level windows, bottom first (X's stacking order).
    pub fn top_windows(&self) -> Vec<TopWindow> {
        let tops = self.children(self.root);
        // Ask for every window's attributes and geometry before reading any reply: one round
        // trip instead of two per window.
        let cookies: Vec<_> = tops
            .iter()
            .map(|&w| {
                (
                    w,
                    self.conn.get_window_attributes(w).ok(),
                    self.conn.get_geometry(w).ok(),
                )
            })
            .collect();
        let mut out = Vec::new();
        for (w, attributes, geometry) in cookies {
            let (Some(attributes), Some(geometry)) = (
                attributes.and_then(|c| c.reply().ok()),
                geometry.and_then(|c| c.reply().ok()),
            ) else {
                continue;
            };
            if attributes.map_state != MapState::VIEWABLE
                || attributes.class == x11rb::protocol::xproto::WindowClass::INPUT_ONLY
                || geometry.width < 2
                || geometry.height < 2
            {
                continue;
            }
            // A window manager's frame holds the client; the client has the names.
            let client = std::iter::once(w)
                .chain(self.children(w))
                .find(|&c| self.class(c).is_some())
                .unwrap_or(w);
            let border = i32::from(geometry.border_width);
            out.push(TopWindow {
                id: w,
                rect: (
                    i32::from(geometry.x) + border,
                    i32::from(geometry.y) + border,
                    u32::from(geometry.width),
                    u32::from(geometry.height),
                ),
                title: self.title(client).unwrap_or_default(),
                class: self.class(client).unwrap_or_default(),
                pid: self.pid(client),
                override_redirect: attributes.override_redirect,
            });
        }
        out
    }

    /// The top-level window with the input focus (`_NET_ACTIVE_WINDOW` where a window manager
    /// sets it, else the focus window), if it is one of `tops`.
    pub fn focused(&self, tops: &[TopWindow]) -> Option<Window> {
        let active = self
            .conn
            .get_property(
                false,
                self.root,
                self.net_active_window,
                AtomEnum::WINDOW,
                0,
                1,
            )
            .ok()
            .and_then(|c| c.reply().ok())
            .and_then(|r| r.value32().and_then(|mut v| v.next()))
            .filter(|&w| w != 0);
        let focus = active.or_else(|| {
            let w = self.conn.get_input_focus().ok()?.reply().ok()?.focus;
            // 0 is None and 1 is PointerRoot: no window.
            (w > 1).then_some(w)
        })?;
        // The focus may be a child of a top-level window (or of its frame).
        let mut at = focus;
        for _ in 0..32 {
            if tops.iter().any(|t| t.id == at) {
                return Some(at);
            }
            let tree = self.conn.query_tree(at).ok()?.reply().ok()?;
            if tree.parent == self.root || tree.parent == 0 {
                return tops.iter().any(|t| t.id == at).then_some(at);
            }
            at = tree.parent;
        }
        None
    }

    /// The pixels of `rect` (screen coordinates, clipped to the screen) as RGB, or why not.
    pub fn screenshot(&self, rect: (i32, i32, u32, u32)) -> Result<image::RgbImage, String> {
        let (sw, sh) = self.screen_size();
        let x0 = rect.0.clamp(0, i32::from(sw));
        let y0 = rect.1.clamp(0, i32::from(sh));
        let x1 = (i64::from(rect.0) + i64::from(rect.2)).clamp(0, i64::from(sw)) as i32;
        let y1 = (i64::from(rect.1) + i64::from(rect.3)).clamp(0, i64::from(sh)) as i32;
        if x1 <= x0 || y1 <= y0 {
            return Err("the region is off the screen".into());
        }
        let (w, h) = ((x1 - x0) as u16, (y1 - y0) as u16);
        let reply = self
            .conn
            .get_image(
                ImageFormat::Z_PIXMAP,
                self.root,
                x0 as i16,
                y0 as i16,
                w,
                h,
                !0,
            )
            .map_err(|e| format!("GetImage: {e}"))?
            .reply()
            .map_err(|e| format!("GetImage: {e}"))?;
        let setup = self.conn.setup();
        let visual = setup.roots[self.screen]
            .allowed_depths
            .iter()
            .flat_map(|d| &d.visuals)
            .find(|v| v.visual_id == reply.visual)
            .ok_or("GetImage: the image's visual is not the screen's")?;
        let bits_per_pixel = setup
            .pixmap_formats
            .iter()
            .find(|f| f.depth == reply.depth)
            .map(|f| f.bits_per_pixel)
            .unwrap_or(0);
        if bits_per_pixel != 32 || !matches!(reply.depth, 24 | 32) {
            return Err(format!(
                "pixels of depth {} at {bits_per_pixel} bits are not supported (only 24-bit colour)",
                reply.depth
            ));
        }
        let big_endian = setup.image_byte_order == x11rb::protocol::xproto::ImageOrder::MSB_FIRST;
        let channel = |pixel: u32, mask: u32| -> u8 {
            let shift = mask.trailing_zeros();
            ((pixel & mask) >> shift) as u8
        };
        let (w, h) = (u32::from(w), u32::from(h));
        let stride = reply.data.len() / h as usize;
        let mut out = image::RgbImage::new(w, h);
        for (y, row) in reply.data.chunks_exact(stride).enumerate().take(h as usize) {
            for (x, px) in row.chunks_exact(4).enumerate().take(w as usize) {
                let bytes = [px[0], px[1], px[2], px[3]];
                let pixel = if big_endian {
                    u32::from_be_bytes(bytes)
                } else {
                    u32::from_le_bytes(bytes)
                };
                out.put_pixel(
                    x as u32,
                    y as u32,
                    image::Rgb([
                        channel(pixel, visual.red_mask),
                        channel(pixel, visual.green_mask),
                        channel(pixel, visual.blue_mask),
                    ]),
                );
            }
        }
        Ok(out)
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

    /// `WM_CLASS`: two NUL-terminated strings, instance then class.
    fn class(&self, window: Window) -> Option<(String, String)> {
        let reply = self
            .conn
            .get_property(false, window, AtomEnum::WM_CLASS, AtomEnum::STRING, 0, 256)
            .ok()?
            .reply()
            .ok()?;
        if reply.format != 8 || reply.value.is_empty() {
            return None;
        }
        let mut parts = reply
            .value
            .split(|&b| b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned());
        Some((parts.next()?, parts.next().unwrap_or_default()))
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
