//! Resolve benchmark: latency of `Resolve` over D-Bus (a private dbus-daemon, the real
//! `deixisd` binary, a zbus client) with the baseline and with the shipped model, on a
//! 30-element and a 300-element screen, with the screen already seen and just changed; then
//! deixisd's memory and its CPU use while idle. (The 300-element screen's prompt is longer than
//! the model's context, so the baseline answers there; the table's resolver column is what
//! the daemon reports.)
//!
//! "Just changed": before each request, the client pushes a small AccessKit tree whose label
//! differs every time (`PushTree`) and asks right after the reply, so the request finds a
//! screen that has not been parsed yet (or is being parsed by the change watcher).
//!
//! `cargo bench -p deixis-daemon --bench resolve` measures (300 requests per row, 30 s idle);
//! `-- --quick` is a smoke run (30 requests, 2 s idle).

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{cpu_time, pick};

const QUERIES: [&str; 5] = [
    "call the second number",
    "email the person at the top",
    "the button next to Dana",
    "open the last link",
    "call Riley",
];

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (runs, idle) = if quick {
        (30, Duration::from_secs(2))
    } else {
        (300, Duration::from_secs(30))
    };
    let bus = Bus::start();
    println!(
        "machine: {} cores; Resolve over a private dbus-daemon, deixisd --screen",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("| resolver | screen | state | n | p50 ms | p95 ms | p99 ms |");
    println!("|---|---|---|---|---|---|---|");
    let mut memory = Vec::new();
    let mut stores = Vec::new();
    for choice in ["baseline", "model"] {
        let dir = tempfile::tempdir().expect("dir");
        let mut resolver_name = String::new();
        for rows in [10, 100] {
            let elements = rows * 3;
            let screen = dir.path().join(format!("screen-{elements}.json"));
            std::fs::write(&screen, screen_file(rows)).expect("screen file");
            let daemon = Daemon::start(&bus, &screen, dir.path(), choice);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
            let conn = zbus::connection::Builder::address(bus.address.as_str())
                .expect("address")
                .build()
                .await
                .expect("connect");
            let proxy = deixis_ipc::Deixis1Proxy::new(&conn).await.expect("proxy");
            resolver_name = proxy.model().await.expect("Model property");
            // Warm up: the first screen parse, page faults, the worker thread.
            for q in QUERIES {
                proxy.resolve(q, HashMap::new()).await.expect("resolve");
            }
            let mut seen = Vec::with_capacity(runs);
            for n in 0..runs {
                let start = Instant::now();
                let answer = proxy
                    .resolve(QUERIES[n % QUERIES.len()], HashMap::new())
                    .await
                    .expect("resolve");
                seen.push(start.elapsed());
                assert!(!answer.is_empty());
            }
            let mut changed = Vec::with_capacity(runs);
            for n in 0..runs {
                proxy
                    .push_tree("bench", &tree_json(&format!("Notification {n}")))
                    .await
                    .expect("push");
                let start = Instant::now();
                let answer = proxy
                    .resolve(QUERIES[n % QUERIES.len()], HashMap::new())
                    .await
                    .expect("resolve");
                changed.push(start.elapsed());
                assert!(!answer.is_empty());
            }
            for (state, samples) in [("seen", &mut seen), ("just changed", &mut changed)] {
                samples.sort();
                let ms = |p| pick(samples, p).as_secs_f64() * 1e3;
                println!(
                    "| {resolver_name} | {elements} elements | {state} | {} | {:.2} | {:.2} | {:.2} |",
                    samples.len(),
                    ms(0.5),
                    ms(0.95),
                    ms(0.99)
                );
            }
        });
            let pid = daemon.child.id().to_string();
            let before = cpu_time(&pid);
            std::thread::sleep(idle);
            let cpu = cpu_time(&pid).saturating_sub(before);
            memory.push((resolver_name.clone(), elements, rss_kib(&pid), cpu, idle));
            daemon.stop();
        }
        stores.push((choice, dir_bytes(dir.path())));
    }
    for (choice, bytes) in stores {
        println!(
            "{choice}: store after both screens ({} resolutions logged, {} screens kept): {:.1} MiB on disk",
            2 * (QUERIES.len() + 2 * runs),
            2 * runs + 2,
            bytes as f64 / (1024.0 * 1024.0)
        );
    }
    for (resolver, elements, (rss, peak), cpu, idle) in memory {
        println!(
            "deixisd ({resolver}) with a {elements}-element screen: RSS {:.1} MiB (peak {:.1} MiB); idle {} s: {:.2}% of one core",
            rss as f64 / 1024.0,
            peak as f64 / 1024.0,
            idle.as_secs(),
            100.0 * cpu.as_secs_f64() / idle.as_secs_f64()
        );
    }
}

/// A contact list: per row a name, a phone number and a "Call" button; every fifth row has a
/// link. 1080p.
fn screen_file(rows: usize) -> String {
    const NAMES: [&str; 8] = [
        "Ada", "Riley", "Dana", "Sam", "Noor", "Kai", "Ines", "Tomas",
    ];
    let mut elements = Vec::new();
    let height = 1000.0 / rows as f64;
    for r in 0..rows {
        let y = 40.0 + r as f64 * height;
        let h = (height * 0.8).max(4.0);
        let id = r * 3;
        let name = format!("{} {}", NAMES[r % NAMES.len()], r);
        let second = if r % 5 == 0 {
            ("link", format!("https://example.org/{r}"), "GtkLinkButton")
        } else {
            ("label", format!("(408) 555-{:04}", 100 + r), "GtkLabel")
        };
        elements.push(serde_json::json!({"id": id, "role": "label", "cls": "GtkLabel", "text": name, "bbox": [40.0, y, 300.0, y + h]}));
        elements.push(serde_json::json!({"id": id + 1, "role": second.0, "cls": second.2, "text": second.1, "bbox": [340.0, y, 700.0, y + h]}));
        elements.push(serde_json::json!({"id": id + 2, "role": "push button", "cls": "GtkButton", "text": "Call", "bbox": [740.0, y, 840.0, y + h]}));
    }
    serde_json::json!({
        "id": format!("bench-{rows}"),
        "screen": {"width": 1920, "height": 1080},
        "elements": elements,
    })
    .to_string()
}

/// A one-label AccessKit tree at the bottom of the screen.
fn tree_json(label: &str) -> String {
    let mut window = accesskit::Node::new(accesskit::Role::Window);
    window.set_bounds(accesskit::Rect::new(1400.0, 1000.0, 1900.0, 1070.0));
    window.set_children(vec![accesskit::NodeId(2)]);
    let mut text = accesskit::Node::new(accesskit::Role::Label);
    text.set_label(label);
    text.set_bounds(accesskit::Rect::new(1410.0, 1010.0, 1890.0, 1060.0));
    let update = accesskit::TreeUpdate {
        nodes: vec![(accesskit::NodeId(1), window), (accesskit::NodeId(2), text)],
        tree: Some(accesskit::TreeInfo::new(accesskit::NodeId(1))),
        tree_id: accesskit::TreeId::ROOT,
        focus: accesskit::NodeId(2),
    };
    serde_json::to_string(&update).expect("tree JSON")
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            match entry.metadata() {
                Ok(m) if m.is_dir() => stack.push(p),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Resident and peak resident memory of `pid`, KiB.
fn rss_kib(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A private session bus from the system's session config, stopped on drop.
struct Bus {
    address: String,
    pid: String,
}

impl Bus {
    fn start() -> Bus {
        let out = Command::new("dbus-daemon")
            .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
            .output()
            .expect("dbus-daemon (Debian package dbus)");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        Bus {
            address: lines.next().expect("bus address").to_owned(),
            pid: lines.next().expect("bus pid").trim().to_owned(),
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(&self.pid).status();
    }
}

/// The real deixisd on the bus, with its store in `data`.
struct Daemon {
    child: Child,
}

impl Daemon {
    fn start(
        bus: &Bus,
        screen: &std::path::Path,
        data: &std::path::Path,
        resolver: &str,
    ) -> Daemon {
        let child = Command::new(env!("CARGO_BIN_EXE_deixisd"))
            .arg("--screen")
            .arg(screen)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("XDG_DATA_HOME", data)
            .env("XDG_CONFIG_HOME", data)
            // "error": the 300-element screen's fallback warnings would fill the output.
            .env("DEIXIS_LOG_LEVEL", "error")
            .env("DEIXIS_MODEL_RESOLVER", resolver)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start deixisd");
        let daemon = Daemon { child };
        let start = Instant::now();
        loop {
            let out = Command::new("busctl")
                .arg(format!("--address={}", bus.address))
                .args(["call", "org.freedesktop.DBus", "/org/freedesktop/DBus"])
                .args([
                    "org.freedesktop.DBus",
                    "NameHasOwner",
                    "s",
                    "org.deixis.Deixis1",
                ])
                .output()
                .expect("busctl");
            if String::from_utf8_lossy(&out.stdout).trim() == "b true" {
                return daemon;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "deixisd never owned its name"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
