//! Support: the real `deixis` binary, built once per test run, run in a clean environment, and
//! small readers for what it prints.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;

/// The workspace root: where `cargo build` runs and relative screen paths start.
pub fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// One of the example screens in `parser/testdata/screens/`, relative to the workspace root
/// (so messages that echo the path are the same on every machine).
pub fn screen(name: &str) -> PathBuf {
    PathBuf::from(format!("parser/testdata/screens/{name}.json"))
}

/// The six example screens, by file stem.
pub const EXAMPLE_SCREENS: [&str; 6] = [
    "contact_card",
    "icon_toolbar",
    "open_email",
    "search_results",
    "settings_page",
    "two_column",
];

/// A fixture under `tests/integration/data/`, as an absolute path.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("integration/data")
        .join(name)
}

/// The `deixis` binary, ready to run from the workspace root with the baseline resolver, no
/// other `DEIXIS_*` variables, and
/// `XDG_CONFIG_HOME` and `HOME` on an empty directory, so no developer config leaks in. A test
/// that needs a config file sets `XDG_CONFIG_HOME` again on the returned command.
pub fn deixis() -> Command {
    clean(Command::new(binary("deixis")))
}

/// The `deixisd` binary, in the same clean environment as [`deixis`].
pub fn deixisd() -> Command {
    clean(Command::new(binary("deixisd")))
}

fn clean(mut cmd: Command) -> Command {
    cmd.current_dir(workspace_root())
        .stdin(Stdio::null())
        .env("XDG_CONFIG_HOME", empty_config_home())
        .env("HOME", empty_config_home());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("DEIXIS_") {
            cmd.env_remove(name);
        }
    }
    // The baseline's answers are exact rules, which the CLI and service tests check; the
    // shipped model (the default) is tested in model.rs, which removes this.
    cmd.env("DEIXIS_MODEL_RESOLVER", "baseline");
    cmd
}

/// Builds `deixis` (same profile as this test binary) the first time it is asked for.
fn binary(name: &str) -> &'static Path {
    static BINARIES: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    BINARIES
        .get_or_init(build_binaries)
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, p)| p.as_path())
        .unwrap_or_else(|| panic!("cargo built no {name}"))
}

/// Builds `deixis` and `deixisd` (same profile as this test binary), once per run.
fn build_binaries() -> Vec<(String, PathBuf)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from(env!("CARGO")));
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace_root()).args([
        "build",
        "-p",
        "deixis-daemon",
        "--bin",
        "deixis",
        "--bin",
        "deixisd",
        "--message-format=json-render-diagnostics",
    ]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo:?} to build deixis: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "building deixis failed ({}):\n{stderr}",
        out.status
    );
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .filter_map(|m| {
            let name = m["target"]["name"].as_str()?.to_owned();
            Some((name, PathBuf::from(m["executable"].as_str()?)))
        })
        .collect()
}

/// An empty directory for `XDG_CONFIG_HOME`/`HOME`. Tests never write to it (one that needs a
/// config file makes its own), so test processes running side by side can share it.
fn empty_config_home() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deixis-empty-config-home");
        std::fs::create_dir_all(&dir).expect("create the empty config home");
        let stray = std::fs::read_dir(&dir)
            .expect("list the empty config home")
            .next();
        assert!(
            stray.is_none(),
            "{} must stay empty; delete it",
            dir.display()
        );
        dir
    })
}

/// What a finished `deixis` run left: its exit status and its output as text.
#[derive(Debug)]
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `cmd` to the end and keeps what it printed.
    pub fn of(cmd: &mut Command) -> Run {
        let out = cmd.output().expect("start deixis");
        Run {
            status: out.status,
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Asserts the exit code (a signal has none, so a crash fails too), showing both streams.
    #[track_caller]
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.status.code(),
            Some(expected),
            "deixis exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `deixis ARGS` with the clean environment.
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Run::of(deixis().args(args))
}

/// The `{{n. text}}` tags of an onscreen parse, in order, as (prompt number, text).
pub fn tags(parse: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut rest = parse;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let inner = &after[..end];
        if let Some((number, text)) = inner.split_once(". ") {
            if let Ok(n) = number.parse() {
                found.push((n, text.to_owned()));
            }
        }
        rest = &after[end + 2..];
    }
    found
}

/// A screen file as one JSONL line.
pub fn as_jsonl_line(path: &Path) -> String {
    let text = std::fs::read_to_string(workspace_root().join(path)).expect("read screen");
    let value: serde_json::Value = serde_json::from_str(&text).expect("screen is JSON");
    value.to_string()
}

/// A screen file's `field` (for example `query`, `target_ids`), as JSON.
pub fn screen_field(path: &Path, field: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(workspace_root().join(path)).expect("read screen");
    let value: serde_json::Value = serde_json::from_str(&text).expect("screen is JSON");
    value[field].clone()
}

/// A two-worker tokio runtime for tests that talk D-Bus with zbus.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A training config small enough for a test (4 steps of a 1-layer model, seconds).
pub const TINY: &str = "seed = 1\ndata_seed = 700\nheld_out_seed = 99\nheld_out_cases = 4\n\
    tokenizer_cases = 100\nvocab_size = 300\nwidth = 32\nlayers = 1\nheads = 2\nkv_heads = 2\n\
    ffn = 64\nmax_positions = 4096\nbatch_size = 2\nlearning_rate = 1e-3\nwarmup_steps = 1\n\
    steps = 4\ncheckpoint_every = 2\neval_every = 4\n";

/// Trains the [`TINY`] model with `deixis model train` into `dir`; returns its model directory.
pub fn tiny_model(dir: &Path) -> PathBuf {
    let config = dir.join("tiny.toml");
    std::fs::write(&config, TINY).expect("write");
    let out = dir.join("run");
    Run::of(
        deixis()
            .args(["model", "train", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(&out),
    )
    .code(0);
    out.join("model")
}
