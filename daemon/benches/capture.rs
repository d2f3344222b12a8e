//! Capture benchmark: a snapshot of gtk3-widget-factory read cold (a walk of the bus) and warm
//! (from the live screen's memory), the CPU the live screen uses on a static screen, and OCR of
//! the whole 1920x1080 screen (GetImage, then tesseract at 1x and 2x, on one thread and on
//! tesseract's default of one per core).
//!
//! Runs against the desktop that `DISPLAY`, `DBUS_SESSION_BUS_ADDRESS` and `AT_SPI_BUS_ADDRESS`
//! name, or starts one with `tests/desktop/desktop-up.sh` (gtk3-widget-factory only).
//! `cargo bench -p deixis-daemon --bench capture` measures; `-- --quick` is a smoke run
//! (a few samples, 2 s of idle instead of 60 s).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use deixis_daemon::capture::{Accessibility, BusAddresses, CaptureConfig};

mod common;
use common::{cpu_time, pick};

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (cold_runs, warm_runs, idle) = if quick {
        (3, 20, Duration::from_secs(2))
    } else {
        (30, 500, Duration::from_secs(60))
    };
    let desktop = Desktop::find_or_start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let config = CaptureConfig {
        all_windows: true,
        ..CaptureConfig::default()
    };
    runtime.block_on(async {
        let bus = Accessibility::connect_to(&desktop.addresses, &config)
            .await
            .expect("connect to the accessibility bus");

        let mut cold = Vec::new();
        let mut nodes = 0;
        let mut elements = 0;
        for _ in 0..cold_runs {
            let start = Instant::now();
            let snapshot = bus.snapshot(&config).await.expect("walk");
            cold.push(start.elapsed());
            nodes = snapshot.nodes;
            elements = snapshot.elements.len();
        }

        let live = bus.live(config.clone()).await.expect("live screen");
        let mut warm = Vec::new();
        for _ in 0..warm_runs {
            let start = Instant::now();
            let snapshot = live.snapshot().await.expect("snapshot");
            warm.push(start.elapsed());
            assert_eq!(snapshot.elements.len(), elements, "a static screen changed");
        }

        let cpu_before = cpu_time("self");
        tokio::time::sleep(idle).await;
        let cpu = cpu_time("self").saturating_sub(cpu_before);
        live.stop().await.expect("stop");

        println!(
            "machine: {} cores; desktop: Xvfb, gtk3-widget-factory",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!("nodes read per walk: {nodes}; elements on screen: {elements}");
        report("cold snapshot (walk)", &mut cold, nodes);
        report("warm snapshot (live screen)", &mut warm, elements);
        println!(
            "live screen idle for {} s: {:.3} s CPU = {:.2}% of one core",
            idle.as_secs(),
            cpu.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / idle.as_secs_f64()
        );
    });
    ocr(quick);
}

/// OCR of the whole screen: each configuration `runs` times.
fn ocr(quick: bool) {
    use deixis_daemon::capture::ocr::{prepare, Ocr};
    let ocr = match Ocr::new() {
        Ok(ocr) => ocr,
        Err(e) => {
            println!("OCR not measured: {e}");
            return;
        }
    };
    let mut grabs = Vec::new();
    let mut shot = None;
    for _ in 0..if quick { 3 } else { 20 } {
        let start = Instant::now();
        shot = Some(deixis_daemon::capture::screenshot().expect("screenshot"));
        grabs.push(start.elapsed());
    }
    let shot = shot.expect("a screenshot");
    let (w, h) = shot.dimensions();
    grabs.sort();
    println!(
        "GetImage of the {w}x{h} screen: n={} p50 {:.2} ms, p95 {:.2} ms",
        grabs.len(),
        pick(&grabs, 0.5).as_secs_f64() * 1e3,
        pick(&grabs, 0.95).as_secs_f64() * 1e3
    );
    let configs: &[(u32, Option<usize>)] = if quick {
        &[(2, Some(1))]
    } else {
        &[(1, Some(1)), (1, None), (2, Some(1)), (2, None)]
    };
    let runs = if quick { 1 } else { 3 };
    for &(scale, threads) in configs {
        let mut times = Vec::new();
        let mut words = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let pixels = prepare(shot.clone(), scale);
            let lines = ocr
                .tesseract()
                .read_with(&pixels, threads)
                .expect("tesseract");
            times.push(start.elapsed());
            words = lines.iter().map(|l| l.words.len()).sum();
        }
        times.sort();
        println!(
            "OCR of the {w}x{h} screen at {scale}x, {}: n={runs} median {:.0} ms, {words} words",
            threads.map_or("tesseract's default threads".to_owned(), |n| format!(
                "OMP_THREAD_LIMIT={n}"
            )),
            pick(&times, 0.5).as_secs_f64() * 1e3,
        );
    }
}

fn report(what: &str, samples: &mut [Duration], per: usize) {
    samples.sort();
    let (p50, p95) = (pick(samples, 0.5), pick(samples, 0.95));
    println!(
        "{what}: n={} p50 {:.2} ms, p95 {:.2} ms, {:.1} us per node",
        samples.len(),
        p50.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3,
        p50.as_secs_f64() * 1e6 / per.max(1) as f64
    );
}

/// The desktop measured on, stopped at the end if this process started it.
struct Desktop {
    addresses: BusAddresses,
    started: Option<tempfile::TempDir>,
}

impl Desktop {
    fn find_or_start() -> Desktop {
        if let (Ok(session), Ok(a11y)) = (
            std::env::var("DBUS_SESSION_BUS_ADDRESS"),
            std::env::var("AT_SPI_BUS_ADDRESS"),
        ) {
            return Desktop {
                addresses: BusAddresses {
                    session: Some(session),
                    a11y: Some(a11y),
                },
                started: None,
            };
        }
        let state = tempfile::tempdir().expect("state dir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/desktop/desktop-up.sh");
        let out = Command::new(script)
            .env("ATSPI_STATE", state.path())
            .env("APPS", "gtk3-widget-factory")
            .output()
            .expect("run tests/desktop/desktop-up.sh");
        assert!(
            out.status.success(),
            "desktop did not start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        // OCR reads the X server of DISPLAY; set before any thread starts.
        if let Some(display) = get("DISPLAY") {
            std::env::set_var("DISPLAY", display);
        }
        Desktop {
            addresses: BusAddresses {
                session: get("DBUS_SESSION_BUS_ADDRESS"),
                a11y: get("AT_SPI_BUS_ADDRESS"),
            },
            started: Some(state),
        }
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if let Some(state) = &self.started {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/desktop/desktop-down.sh");
            let _ = Command::new(script)
                .env("ATSPI_STATE", state.path())
                .status();
        }
    }
}
