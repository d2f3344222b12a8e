//! Settings: deixisd's one typed, validated configuration, and how it is loaded.
//!
//! The file is TOML at `$XDG_CONFIG_HOME/deixis/config.toml` (else
//! `$HOME/.config/deixis/config.toml`). A missing default file is fine; a file named explicitly
//! must exist. Every key is optional and unknown keys are errors. [`Settings::to_toml`] writes
//! the whole schema with a comment on every key; `packaging/config.toml` is its rendering of the
//! defaults.
//!
//! Layers, later ones winning: built-in defaults < file < `DEIXIS_*` environment variables <
//! command-line overrides. Each value is checked where it comes from, so an error names its
//! source: the file (with the line, for syntax, type and unknown-key errors), the environment
//! variable, or the command line.
//!
//! Environment: `DEIXIS_<SECTION>_<KEY>` in upper case sets `section.key`, for example
//! `DEIXIS_MODEL_RESOLVER=model`. Environment values and command-line overrides
//! (`("model.resolver", "model")`) are text parsed the same way: booleans accept
//! `true`/`false`/`1`/`0`/`yes`/`no`, lists are comma-separated
//! (`DEIXIS_CAPTURE_EXCLUDE_APPS=firefox,signal`; an empty value clears the list), an empty
//! `model.path` means the built-in model, and surrounding spaces are ignored. A variable
//! `DEIXIS_<SECTION>_<ANYTHING>` whose section is a config section but whose key is not a
//! config key is an error, so a typo is never silently ignored. Other `DEIXIS_*` variables, such
//! as `DEIXIS_LOG` for tracing filters, are not config and are ignored here.
//!
//! The choices `capture.ocr`, `model.resolver` and `log.level` are case-insensitive everywhere
//! (`log.level` is stored lower-case).
//!
//! The file is read into private all-optional `Raw*` structs and checked into [`Settings`],
//! whose fields are plain values with the defaults applied (ripgrep's lowargs -> hiargs).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

/// The resolver used when the config does not choose one: the shipped model (README, "The
/// reference model"), with the baseline answering wherever no model loads.
pub const DEFAULT_RESOLVER: Resolver = Resolver::Model;

/// Every config key as `section.key`, in file order.
const KEYS: [&str; 20] = [
    "capture.all_windows",
    "capture.exclude_apps",
    "capture.exclude_windows",
    "capture.enable_accessibility",
    "capture.screen_reader_hint",
    "capture.ocr",
    "store.ephemeral",
    "store.retention_minutes",
    "model.resolver",
    "model.path",
    "model.dram_budget_mib",
    "model.lexical_weight",
    "clients.allow",
    "log.content",
    "log.level",
    "parse.max_elements",
    "parse.line_margin",
    "parse.cluster_eps",
    "parse.cluster_min_points",
    "parse.max_text_chars",
];

/// The config file's sections, in file order.
const SECTIONS: [&str; 6] = ["capture", "store", "model", "clients", "log", "parse"];

/// `log.level`'s accepted values, most severe first.
const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// Environment variables starting with this may be config overrides.
const ENV_PREFIX: &str = "DEIXIS_";

/// deixisd's configuration: every setting, validated, with defaults applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// `[capture]`: what is read from the screen, and how.
    pub capture: CaptureSettings,
    /// `[store]`: what is kept, and for how long.
    pub store: StoreSettings,
    /// `[model]`: how references are resolved.
    pub model: ModelSettings,
    /// `[clients]`: who may call the service.
    pub clients: ClientSettings,
    /// `[log]`: what is logged.
    pub log: LogSettings,
    /// `[parse]`: how a screen is parsed into lines and groups.
    pub parse: ParseSettings,
}

/// `[capture]`: what is read from the screen, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureSettings {
    /// `all_windows`: read every visible window, not only the focused one. Default `false`.
    pub all_windows: bool,
    /// `exclude_apps`: applications never read, by name, matched case-insensitively (see
    /// [`CaptureSettings::excludes_app`]). Names must not be empty. Default `[]`.
    pub exclude_apps: Vec<String>,
    /// `exclude_windows`: windows never read, by a part of their title, matched
    /// case-insensitively ("password", "private browsing"). Parts must not be empty.
    /// Default `[]`.
    pub exclude_windows: Vec<String>,
    /// `enable_accessibility`: set `org.a11y.Status.IsEnabled` at start, so that applications
    /// which expose their accessibility tree only on request (Chromium, Electron) do so.
    /// Default `true`.
    pub enable_accessibility: bool,
    /// `screen_reader_hint`: also set `org.a11y.Status.ScreenReaderEnabled`. This changes how
    /// every application behaves; the previous value is restored on exit. Default `false`.
    pub screen_reader_hint: bool,
    /// `ocr`: when to read text from pixels: `"auto"`, `"never"` or `"always"`.
    /// Default `"auto"`.
    pub ocr: OcrMode,
}

impl CaptureSettings {
    /// Whether `app_name` is in `exclude_apps`, ignoring case.
    pub fn excludes_app(&self, app_name: &str) -> bool {
        let app_name = app_name.trim().to_lowercase();
        self.exclude_apps
            .iter()
            .any(|excluded| excluded.trim().to_lowercase() == app_name)
    }
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            all_windows: false,
            exclude_apps: Vec::new(),
            exclude_windows: Vec::new(),
            enable_accessibility: true,
            screen_reader_hint: false,
            ocr: OcrMode::Auto,
        }
    }
}

/// `[store]`: what is kept, and for how long. No screen pixels are ever stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// `ephemeral`: keep everything in memory and write nothing to disk. Default `false`.
    pub ephemeral: bool,
    /// `retention_minutes`: how long screen text is kept after the screen changes, in minutes;
    /// `0` keeps nothing once the screen has changed. Default `60`.
    pub retention_minutes: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            ephemeral: false,
            retention_minutes: 60,
        }
    }
}

/// `[model]`: how references are resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    /// `resolver`: which resolver answers queries, `"baseline"` or `"model"`.
    /// Default [`DEFAULT_RESOLVER`] (`"baseline"`).
    pub resolver: Resolver,
    /// `path`: the model directory to load; `None` (an empty string in the file) is the
    /// shipped model (`resolve::builtin_model_dir`). Default `None`.
    pub path: Option<PathBuf>,
    /// `dram_budget_mib`: the most memory the model's weights may use, in MiB; at least 16.
    /// A model that needs more is not loaded (`resolve::load`): the baseline answers.
    /// Default `512`.
    pub dram_budget_mib: u32,
    /// `lexical_weight`: how much the baseline's word-match scores count next to the model's
    /// (`resolve::model`: the model's log-probabilities plus this times the baseline's
    /// scores); 0 lets the model answer alone. A number in [0, 100]. Default
    /// [`DEFAULT_LEXICAL_WEIGHT`].
    pub lexical_weight: f64,
}

/// `model.lexical_weight`'s default, chosen for deixis-small on generated cases, where 3 and 4
/// tie, and then on the dev sets, which favour 4 (README, "The reference model").
pub const DEFAULT_LEXICAL_WEIGHT: f64 = 4.0;

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            resolver: DEFAULT_RESOLVER,
            path: None,
            dram_budget_mib: 512,
            lexical_weight: DEFAULT_LEXICAL_WEIGHT,
        }
    }
}

/// `[clients]`: who may call the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientSettings {
    /// `allow`: absolute paths of the executables allowed to call; each must be absolute.
    /// Empty lets any process of the user's session call. Default `[]`.
    pub allow: Vec<PathBuf>,
}

/// `[log]`: what is logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// `content`: log screen text and queries. Off by default, so logs never hold what was on
    /// the screen or what was asked. Default `false`.
    pub content: bool,
    /// `level`: the least severe messages logged: `"error"`, `"warn"`, `"info"`, `"debug"` or
    /// `"trace"` (accepted in any case, stored lower-case). Default `"info"`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            content: false,
            level: "info".to_owned(),
        }
    }
}

/// `[parse]`: how a screen is parsed into lines and groups. Distances are fractions of the
/// screen's height. Every number must be finite.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseSettings {
    /// `max_elements`: the most screen elements read per parse; at least 1. Default `5000`.
    pub max_elements: usize,
    /// `line_margin`: how close two elements' centres must be, as a fraction of screen
    /// height, to count as one line; in (0, 0.5]. Default `0.02`.
    pub line_margin: f64,
    /// `cluster_eps`: the neighbourhood radius for grouping elements (DBSCAN eps), as a
    /// fraction of screen height; in (0, 1]. Default `0.025`.
    pub cluster_eps: f64,
    /// `cluster_min_points`: the fewest elements that form a group (DBSCAN min points); at
    /// least 2. Default `2`.
    pub cluster_min_points: usize,
    /// `max_text_chars`: the longest text kept per element, in characters; at least 8.
    /// Default `300`.
    pub max_text_chars: usize,
}

impl Default for ParseSettings {
    fn default() -> Self {
        ParseSettings {
            max_elements: 5000,
            line_margin: 0.02,
            cluster_eps: 0.025,
            cluster_min_points: 2,
            max_text_chars: 300,
        }
    }
}

/// Which resolver answers queries (`model.resolver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolver {
    /// `"baseline"`: hand-written rules, no model.
    Baseline,
    /// `"model"`: the learned model (`model.path`).
    Model,
}

impl Resolver {
    const ALL: [Resolver; 2] = [Resolver::Baseline, Resolver::Model];
    const CHOICES: &'static str = r#"one of "baseline", "model""#;

    fn name(self) -> &'static str {
        match self {
            Resolver::Baseline => "baseline",
            Resolver::Model => "model",
        }
    }
}

impl fmt::Display for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Resolver {
    type Err = ParseChoiceError;

    /// Parses `"baseline"` or `"model"`, ignoring case and surrounding spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseChoiceError::new(Self::CHOICES, s))
    }
}

/// When text is read from pixels with OCR (`capture.ocr`). Pixels are never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcrMode {
    /// `"auto"`: only where an application exposes no text through accessibility.
    Auto,
    /// `"never"`: accessibility only.
    Never,
    /// `"always"`: also where accessibility has text.
    Always,
}

impl OcrMode {
    const ALL: [OcrMode; 3] = [OcrMode::Auto, OcrMode::Never, OcrMode::Always];
    const CHOICES: &'static str = r#"one of "auto", "never", "always""#;

    fn name(self) -> &'static str {
        match self {
            OcrMode::Auto => "auto",
            OcrMode::Never => "never",
            OcrMode::Always => "always",
        }
    }
}

impl fmt::Display for OcrMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OcrMode {
    type Err = ParseChoiceError;

    /// Parses `"auto"`, `"never"` or `"always"`, ignoring case and surrounding spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseChoiceError::new(Self::CHOICES, s))
    }
}

/// A name that is none of an enum's choices ([`Resolver`], [`OcrMode`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected}, got {got:?}")]
pub struct ParseChoiceError {
    expected: &'static str,
    got: String,
}

impl ParseChoiceError {
    fn new(expected: &'static str, got: &str) -> Self {
        ParseChoiceError {
            expected,
            got: got.to_owned(),
        }
    }
}

/// Where settings come from, lowest layer first: the file, then `env`, then `overrides`.
#[derive(Debug, Clone, Default)]
pub struct Sources<'a> {
    /// The config file named explicitly; it must exist. `None` reads the default path
    /// (see [`default_config_path`]), found from `XDG_CONFIG_HOME` and `HOME` in `env`; that
    /// file may be missing, and with neither variable in `env` no file is read.
    pub file: Option<&'a Path>,
    /// Environment variables as `(name, value)`; `DEIXIS_<SECTION>_<KEY>` ones set config keys.
    pub env: Vec<(String, String)>,
    /// Command-line overrides as `("section.key", value)`, applied last, in order.
    pub overrides: Vec<(String, String)>,
}

impl<'a> Sources<'a> {
    /// `file` (or the default path when `None`), this process's environment, and no
    /// overrides. Only the variables `load` reads are kept (`DEIXIS_*`, `XDG_CONFIG_HOME`,
    /// `HOME`), sorted by name; values that are not UTF-8 are converted lossily.
    pub fn from_process(file: Option<&'a Path>) -> Self {
        let mut env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(name, value)| {
                let name = name.into_string().ok()?;
                let wanted =
                    name.starts_with(ENV_PREFIX) || name == "XDG_CONFIG_HOME" || name == "HOME";
                wanted.then(|| (name, value.to_string_lossy().into_owned()))
            })
            .collect();
        env.sort();
        Sources {
            file,
            env,
            overrides: Vec::new(),
        }
    }
}

/// Builds [`Settings`] from `sources`: defaults, then the file, then the environment, then
/// the overrides. The first bad value, unknown key or unreadable file is the error.
pub fn load(sources: &Sources<'_>) -> Result<Settings, ConfigError> {
    let mut settings = Settings::default();
    if let Some((path, text)) = read_config_file(sources)? {
        let raw: RawConfig =
            toml::from_str(&text).map_err(|error| parse_error(&path, &text, &error))?;
        raw.apply(&mut settings, &Origin::File(path))?;
    }
    for (name, value) in &sources.env {
        if let Some(key) = env_key(name) {
            settings.set(&key, value, &Origin::Env(name.clone()))?;
        }
    }
    for (key, value) in &sources.overrides {
        settings.set(key, value, &Origin::CommandLine)?;
    }
    Ok(settings)
}

/// `$XDG_CONFIG_HOME/deixis/config.toml`, else `$HOME/.config/deixis/config.toml`, from this
/// process's environment. Empty or relative values are ignored (XDG Base Directory spec);
/// `None` when neither gives a path.
pub fn default_config_path() -> Option<PathBuf> {
    config_path_in(|name| std::env::var_os(name).map(PathBuf::from))
}

/// Where the store lives: `$XDG_DATA_HOME/deixis`, else `$HOME/.local/share/deixis`, from this
/// process's environment; `None` when neither gives an absolute path.
pub fn data_dir() -> Option<PathBuf> {
    let lookup = |name: &str| std::env::var_os(name).map(PathBuf::from);
    let data_home = lookup("XDG_DATA_HOME")
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            lookup("HOME")
                .filter(|home| home.is_absolute())
                .map(|home| home.join(".local").join("share"))
        })?;
    Some(data_home.join("deixis"))
}

/// Why settings could not be loaded. Each error names where the bad input came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file exists but cannot be read, or was named explicitly and is missing.
    #[error("cannot read config file {}", .path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The config file is not valid TOML, has an unknown key, or a value of the wrong type.
    /// `message` starts with the line and column.
    #[error("config file {}: {message}", .path.display())]
    Parse { path: PathBuf, message: String },
    /// A value of the right kind but not allowed for `key` (`section.key`).
    #[error("{origin}: {key} {problem}")]
    Invalid {
        key: String,
        origin: Origin,
        problem: String,
    },
    /// An environment variable or command-line override names no config key.
    #[error("{origin}: unknown config key {key}{}", known_keys_hint(.key))]
    UnknownKey { key: String, origin: Origin },
}

/// Where a config value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The config file at this path. Displays as `config file PATH`.
    File(PathBuf),
    /// This environment variable. Displays as `environment DEIXIS_MODEL_RESOLVER`.
    Env(String),
    /// A command-line override. Displays as `command line`.
    CommandLine,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "config file {}", path.display()),
            Origin::Env(name) => write!(f, "environment {name}"),
            Origin::CommandLine => f.write_str("command line"),
        }
    }
}

/// The comment at the top of a rendered config file.
const HEADER: &str = "\
deixis configuration, read by deixisd.

Location: $XDG_CONFIG_HOME/deixis/config.toml, else ~/.config/deixis/config.toml.
Every key is optional: a key left out takes the default shown above it.
Unknown keys are an error.

Environment variables DEIXIS_<SECTION>_<KEY> override this file, for example
DEIXIS_MODEL_RESOLVER=model or DEIXIS_CAPTURE_EXCLUDE_APPS=firefox,signal
(lists are comma-separated; booleans accept true/false/1/0/yes/no).
Command-line overrides win over both.";

impl Settings {
    /// The whole config file for these settings: every section and key, each with a comment
    /// saying what it does and its default, set to its current value. Loading the result
    /// gives these settings back; `packaging/config.toml` is `Settings::default().to_toml()`.
    pub fn to_toml(&self) -> String {
        let d = Settings::default();
        let mut w = TomlWriter::new(HEADER);

        let (c, dc) = (&self.capture, &d.capture);
        w.section("capture", "What deixisd reads from the screen, and how.");
        w.key(
            "all_windows",
            "Read every visible window, not only the focused one.",
            &c.all_windows,
            &dc.all_windows,
        );
        w.key(
            "exclude_apps",
            "Applications never read, by name, matched case-insensitively,\n\
             for example [\"signal\", \"keepassxc\"].",
            &c.exclude_apps,
            &dc.exclude_apps,
        );
        w.key(
            "exclude_windows",
            "Windows never read, by a part of their title, matched case-insensitively,\n\
             for example [\"password\", \"private browsing\"].",
            &c.exclude_windows,
            &dc.exclude_windows,
        );
        w.key(
            "enable_accessibility",
            "Set org.a11y.Status.IsEnabled at start, so that applications which\n\
             expose their accessibility tree only on request (Chromium, Electron) do so.",
            &c.enable_accessibility,
            &dc.enable_accessibility,
        );
        w.key(
            "screen_reader_hint",
            "Also set org.a11y.Status.ScreenReaderEnabled. This changes how every\n\
             application behaves; the previous value is restored on exit.",
            &c.screen_reader_hint,
            &dc.screen_reader_hint,
        );
        w.key(
            "ocr",
            "When to read text from pixels with OCR (tesseract): \"auto\" (only windows whose\n\
             accessibility tree covers under 10% of them), \"never\" or \"always\".\n\
             Pixels are never stored.",
            &c.ocr,
            &dc.ocr,
        );

        let (s, ds) = (&self.store, &d.store);
        w.section(
            "store",
            "What deixisd keeps, and for how long. No screen pixels are ever stored.",
        );
        w.key(
            "ephemeral",
            "Keep everything in memory; write nothing to disk.",
            &s.ephemeral,
            &ds.ephemeral,
        );
        w.key(
            "retention_minutes",
            "Minutes screen text is kept after the screen changes;\n\
             0 keeps nothing once the screen has changed.",
            &s.retention_minutes,
            &ds.retention_minutes,
        );

        let (m, dm) = (&self.model, &d.model);
        w.section("model", "How references are resolved.");
        w.key(
            "resolver",
            "Which resolver answers queries: \"model\" (the model at model.path, else the installed\ndeixis-small; the baseline answers where none loads) or \"baseline\" (rules only).",
            &m.resolver,
            &dm.resolver,
        );
        w.key(
            "path",
            "The model directory to load; empty for the installed deixis-small model.",
            &m.path,
            &dm.path,
        );
        w.key(
            "dram_budget_mib",
            "The most memory the model's weights may use, in MiB (at least 16); a model that needs\nmore is not loaded and the baseline answers.",
            &m.dram_budget_mib,
            &dm.dram_budget_mib,
        );
        w.key(
            "lexical_weight",
            "How much the baseline's word matches count next to the model's own scores\n\
             (0 to 100; 0: the model alone).",
            &m.lexical_weight,
            &dm.lexical_weight,
        );

        w.section("clients", "Who may call deixisd.");
        w.key(
            "allow",
            "Absolute paths of the executables allowed to call deixisd;\n\
             empty lets any process of this session call.",
            &self.clients.allow,
            &d.clients.allow,
        );

        let (l, dl) = (&self.log, &d.log);
        w.section("log", "What deixisd logs.");
        w.key(
            "content",
            "Log screen text and queries. Off by default, so that logs never hold\n\
             what was on the screen or what was asked.",
            &l.content,
            &dl.content,
        );
        w.key(
            "level",
            "The least severe messages logged: \"error\", \"warn\", \"info\", \"debug\"\n\
             or \"trace\".",
            &l.level,
            &dl.level,
        );

        let (p, dp) = (&self.parse, &d.parse);
        w.section(
            "parse",
            "How a screen is parsed into lines and groups.\n\
             Distances are fractions of the screen's height; numbers must be finite.",
        );
        w.key(
            "max_elements",
            "The most screen elements read per parse (at least 1).",
            &p.max_elements,
            &dp.max_elements,
        );
        w.key(
            "line_margin",
            "How close two elements' centres must be to count as one line\n\
             (more than 0, at most 0.5).",
            &p.line_margin,
            &dp.line_margin,
        );
        w.key(
            "cluster_eps",
            "The neighbourhood radius for grouping elements, DBSCAN's eps\n\
             (more than 0, at most 1).",
            &p.cluster_eps,
            &dp.cluster_eps,
        );
        w.key(
            "cluster_min_points",
            "The fewest elements that form a group, DBSCAN's min points (at least 2).",
            &p.cluster_min_points,
            &dp.cluster_min_points,
        );
        w.key(
            "max_text_chars",
            "The longest text kept per element, in characters (at least 8).",
            &p.max_text_chars,
            &dp.max_text_chars,
        );

        w.finish()
    }

    /// Sets `key` (`section.key`) from text, as the environment and command line give it.
    fn set(&mut self, key: &str, text: &str, origin: &Origin) -> Result<(), ConfigError> {
        match key {
            "capture.all_windows" => self.capture.all_windows = BOOL.text(key, text, origin)?,
            "capture.exclude_apps" => {
                self.capture.exclude_apps = APP_NAMES.text(key, text, origin)?;
            }
            "capture.exclude_windows" => {
                self.capture.exclude_windows = TITLE_PARTS.text(key, text, origin)?;
            }
            "capture.enable_accessibility" => {
                self.capture.enable_accessibility = BOOL.text(key, text, origin)?;
            }
            "capture.screen_reader_hint" => {
                self.capture.screen_reader_hint = BOOL.text(key, text, origin)?;
            }
            "capture.ocr" => self.capture.ocr = OCR.text(key, text, origin)?,
            "store.ephemeral" => self.store.ephemeral = BOOL.text(key, text, origin)?,
            "store.retention_minutes" => {
                self.store.retention_minutes = MINUTES.text(key, text, origin)?;
            }
            "model.resolver" => self.model.resolver = RESOLVER.text(key, text, origin)?,
            "model.path" => self.model.path = MODEL_PATH.text(key, text, origin)?,
            "model.dram_budget_mib" => {
                self.model.dram_budget_mib = DRAM_BUDGET.text(key, text, origin)?;
            }
            "model.lexical_weight" => {
                self.model.lexical_weight = LEXICAL_WEIGHT.text(key, text, origin)?;
            }
            "clients.allow" => self.clients.allow = ALLOW.text(key, text, origin)?,
            "log.content" => self.log.content = BOOL.text(key, text, origin)?,
            "log.level" => self.log.level = LEVEL.text(key, text, origin)?,
            "parse.max_elements" => {
                self.parse.max_elements = MAX_ELEMENTS.text(key, text, origin)?;
            }
            "parse.line_margin" => self.parse.line_margin = LINE_MARGIN.text(key, text, origin)?,
            "parse.cluster_eps" => self.parse.cluster_eps = CLUSTER_EPS.text(key, text, origin)?,
            "parse.cluster_min_points" => {
                self.parse.cluster_min_points = MIN_POINTS.text(key, text, origin)?;
            }
            "parse.max_text_chars" => {
                self.parse.max_text_chars = MAX_TEXT_CHARS.text(key, text, origin)?;
            }
            _ => {
                return Err(ConfigError::UnknownKey {
                    key: key.to_owned(),
                    origin: origin.clone(),
                })
            }
        }
        Ok(())
    }
}

/// The config file as written: every section and key optional, unknown keys rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawConfig {
    capture: RawCapture,
    store: RawStore,
    model: RawModel,
    clients: RawClients,
    log: RawLog,
    parse: RawParse,
}

/// `[capture]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawCapture {
    all_windows: Option<bool>,
    exclude_apps: Option<Vec<String>>,
    exclude_windows: Option<Vec<String>>,
    enable_accessibility: Option<bool>,
    screen_reader_hint: Option<bool>,
    ocr: Option<String>,
}

/// `[store]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawStore {
    ephemeral: Option<bool>,
    retention_minutes: Option<u32>,
}

/// `[model]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawModel {
    resolver: Option<String>,
    path: Option<PathBuf>,
    dram_budget_mib: Option<u32>,
    lexical_weight: Option<f64>,
}

/// `[clients]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawClients {
    allow: Option<Vec<PathBuf>>,
}

/// `[log]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawLog {
    content: Option<bool>,
    level: Option<String>,
}

/// `[parse]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawParse {
    max_elements: Option<usize>,
    line_margin: Option<f64>,
    cluster_eps: Option<f64>,
    cluster_min_points: Option<usize>,
    max_text_chars: Option<usize>,
}

impl RawConfig {
    /// Checks every value the file sets and writes it into `s`.
    fn apply(self, s: &mut Settings, origin: &Origin) -> Result<(), ConfigError> {
        let RawConfig {
            capture,
            store,
            model,
            clients,
            log,
            parse,
        } = self;
        let (c, o) = (&mut s.capture, origin);
        BOOL.file(
            "capture.all_windows",
            capture.all_windows,
            &mut c.all_windows,
            o,
        )?;
        APP_NAMES.file(
            "capture.exclude_apps",
            capture.exclude_apps,
            &mut c.exclude_apps,
            o,
        )?;
        TITLE_PARTS.file(
            "capture.exclude_windows",
            capture.exclude_windows,
            &mut c.exclude_windows,
            o,
        )?;
        BOOL.file(
            "capture.enable_accessibility",
            capture.enable_accessibility,
            &mut c.enable_accessibility,
            o,
        )?;
        BOOL.file(
            "capture.screen_reader_hint",
            capture.screen_reader_hint,
            &mut c.screen_reader_hint,
            o,
        )?;
        OCR.file("capture.ocr", capture.ocr, &mut c.ocr, o)?;

        let st = &mut s.store;
        BOOL.file("store.ephemeral", store.ephemeral, &mut st.ephemeral, o)?;
        MINUTES.file(
            "store.retention_minutes",
            store.retention_minutes,
            &mut st.retention_minutes,
            o,
        )?;

        let m = &mut s.model;
        RESOLVER.file("model.resolver", model.resolver, &mut m.resolver, o)?;
        MODEL_PATH.file("model.path", model.path, &mut m.path, o)?;
        DRAM_BUDGET.file(
            "model.dram_budget_mib",
            model.dram_budget_mib,
            &mut m.dram_budget_mib,
            o,
        )?;
        LEXICAL_WEIGHT.file(
            "model.lexical_weight",
            model.lexical_weight,
            &mut m.lexical_weight,
            o,
        )?;

        ALLOW.file("clients.allow", clients.allow, &mut s.clients.allow, o)?;

        BOOL.file("log.content", log.content, &mut s.log.content, o)?;
        LEVEL.file("log.level", log.level, &mut s.log.level, o)?;

        let p = &mut s.parse;
        MAX_ELEMENTS.file(
            "parse.max_elements",
            parse.max_elements,
            &mut p.max_elements,
            o,
        )?;
        LINE_MARGIN.file(
            "parse.line_margin",
            parse.line_margin,
            &mut p.line_margin,
            o,
        )?;
        CLUSTER_EPS.file(
            "parse.cluster_eps",
            parse.cluster_eps,
            &mut p.cluster_eps,
            o,
        )?;
        MIN_POINTS.file(
            "parse.cluster_min_points",
            parse.cluster_min_points,
            &mut p.cluster_min_points,
            o,
        )?;
        MAX_TEXT_CHARS.file(
            "parse.max_text_chars",
            parse.max_text_chars,
            &mut p.max_text_chars,
            o,
        )?;
        Ok(())
    }
}

/// What one key accepts: a raw value `R` as written (in the file, or parsed from text) is
/// checked, and maybe normalized, into the setting's value `T`.
struct Rule<R, T> {
    /// Completes "KEY must be ...".
    expected: &'static str,
    /// `None` when the value is not allowed.
    accept: fn(R) -> Option<T>,
}

impl<R, T> Rule<R, T> {
    /// Writes the file's value, if it gives one, into `slot`.
    fn file(
        &self,
        key: &str,
        raw: Option<R>,
        slot: &mut T,
        origin: &Origin,
    ) -> Result<(), ConfigError>
    where
        R: TomlValue,
    {
        if let Some(raw) = raw {
            let got = raw.render();
            *slot = (self.accept)(raw).ok_or_else(|| self.invalid(key, origin, got))?;
        }
        Ok(())
    }

    /// The value `text` (from the environment or command line) gives.
    fn text(&self, key: &str, text: &str, origin: &Origin) -> Result<T, ConfigError>
    where
        R: FromText,
    {
        R::from_text(text)
            .and_then(self.accept)
            .ok_or_else(|| self.invalid(key, origin, format!("{text:?}")))
    }

    fn invalid(&self, key: &str, origin: &Origin, got: String) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_owned(),
            origin: origin.clone(),
            problem: format!("must be {}, got {got}", self.expected),
        }
    }
}

const BOOL: Rule<bool, bool> = Rule {
    expected: "true or false (or 1/0, yes/no)",
    accept: Some,
};

const APP_NAMES: Rule<Vec<String>, Vec<String>> = Rule {
    expected: "a list of application names, none empty",
    accept: |names| names.iter().all(|n| !n.trim().is_empty()).then_some(names),
};

const TITLE_PARTS: Rule<Vec<String>, Vec<String>> = Rule {
    expected: "a list of window title parts, none empty",
    accept: |parts| parts.iter().all(|n| !n.trim().is_empty()).then_some(parts),
};

const OCR: Rule<String, OcrMode> = Rule {
    expected: OcrMode::CHOICES,
    accept: |name| name.parse().ok(),
};

const MINUTES: Rule<u32, u32> = Rule {
    expected: "a whole number of minutes",
    accept: Some,
};

const RESOLVER: Rule<String, Resolver> = Rule {
    expected: Resolver::CHOICES,
    accept: |name| name.parse().ok(),
};

const MODEL_PATH: Rule<PathBuf, Option<PathBuf>> = Rule {
    expected: "a model file's path, or empty for the built-in model",
    accept: |path| Some((!path.as_os_str().is_empty()).then_some(path)),
};

const DRAM_BUDGET: Rule<u32, u32> = Rule {
    expected: "a whole number of MiB, at least 16",
    accept: |mib| (mib >= 16).then_some(mib),
};

const LEXICAL_WEIGHT: Rule<f64, f64> = Rule {
    expected: "a number in [0, 100]",
    accept: |x| (x.is_finite() && (0.0..=100.0).contains(&x)).then_some(x),
};

const ALLOW: Rule<Vec<PathBuf>, Vec<PathBuf>> = Rule {
    expected: "a list of absolute executable paths",
    accept: |paths| paths.iter().all(|p| p.is_absolute()).then_some(paths),
};

const LEVEL: Rule<String, String> = Rule {
    expected: r#"one of "error", "warn", "info", "debug", "trace""#,
    accept: |level| {
        LEVELS
            .into_iter()
            .find(|l| l.eq_ignore_ascii_case(level.trim()))
            .map(str::to_owned)
    },
};

const MAX_ELEMENTS: Rule<usize, usize> = Rule {
    expected: "a whole number, at least 1",
    accept: |n| (n >= 1).then_some(n),
};

const LINE_MARGIN: Rule<f64, f64> = Rule {
    expected: "a number in (0, 0.5]",
    accept: |x| (x.is_finite() && x > 0.0 && x <= 0.5).then_some(x),
};

const CLUSTER_EPS: Rule<f64, f64> = Rule {
    expected: "a number in (0, 1]",
    accept: |x| (x.is_finite() && x > 0.0 && x <= 1.0).then_some(x),
};

const MIN_POINTS: Rule<usize, usize> = Rule {
    expected: "a whole number, at least 2",
    accept: |n| (n >= 2).then_some(n),
};

const MAX_TEXT_CHARS: Rule<usize, usize> = Rule {
    expected: "a whole number, at least 8",
    accept: |n| (n >= 8).then_some(n),
};

/// A raw value parsed from environment or command-line text; `None` when it does not parse.
trait FromText: Sized {
    fn from_text(text: &str) -> Option<Self>;
}

impl FromText for bool {
    fn from_text(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        }
    }
}

impl FromText for u32 {
    fn from_text(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
}

impl FromText for usize {
    fn from_text(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
}

impl FromText for f64 {
    fn from_text(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
}

impl FromText for String {
    fn from_text(text: &str) -> Option<Self> {
        Some(text.trim().to_owned())
    }
}

impl FromText for PathBuf {
    fn from_text(text: &str) -> Option<Self> {
        Some(PathBuf::from(text.trim()))
    }
}

/// Comma-separated items, trimmed, empty ones dropped.
impl<T: FromText> FromText for Vec<T> {
    fn from_text(text: &str) -> Option<Self> {
        text.split(',')
            .filter(|item| !item.trim().is_empty())
            .map(T::from_text)
            .collect()
    }
}

/// A value written as TOML, for rendered files and for "got ..." in error messages.
trait TomlValue {
    fn render(&self) -> String;
}

impl TomlValue for bool {
    fn render(&self) -> String {
        self.to_string()
    }
}

impl TomlValue for u32 {
    fn render(&self) -> String {
        self.to_string()
    }
}

impl TomlValue for usize {
    fn render(&self) -> String {
        self.to_string()
    }
}

impl TomlValue for f64 {
    fn render(&self) -> String {
        if self.is_nan() {
            "nan".to_owned()
        } else if self.is_infinite() {
            if *self > 0.0 { "inf" } else { "-inf" }.to_owned()
        } else {
            // `{:?}` keeps a `.0` on whole numbers, so the value reads back as a float.
            format!("{self:?}")
        }
    }
}

impl TomlValue for String {
    fn render(&self) -> String {
        toml_string(self)
    }
}

impl TomlValue for PathBuf {
    fn render(&self) -> String {
        toml_string(&self.to_string_lossy())
    }
}

impl TomlValue for Option<PathBuf> {
    fn render(&self) -> String {
        self.as_ref()
            .map_or_else(|| toml_string(""), TomlValue::render)
    }
}

impl TomlValue for Resolver {
    fn render(&self) -> String {
        toml_string(self.name())
    }
}

impl TomlValue for OcrMode {
    fn render(&self) -> String {
        toml_string(self.name())
    }
}

impl<T: TomlValue> TomlValue for Vec<T> {
    fn render(&self) -> String {
        let items: Vec<String> = self.iter().map(TomlValue::render).collect();
        format!("[{}]", items.join(", "))
    }
}

/// `s` as a TOML basic string, quoted and escaped.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Builds a commented TOML file, section by section.
struct TomlWriter {
    out: String,
}

impl TomlWriter {
    fn new(header: &str) -> Self {
        let mut w = TomlWriter { out: String::new() };
        w.comment(header);
        w
    }

    fn section(&mut self, name: &str, doc: &str) {
        self.out.push('\n');
        self.comment(doc);
        self.out.push_str(&format!("[{name}]\n"));
    }

    fn key<T: TomlValue>(&mut self, name: &str, doc: &str, value: &T, default: &T) {
        self.out.push('\n');
        self.comment(doc);
        self.comment(&format!("Default: {}", default.render()));
        self.out.push_str(&format!("{name} = {}\n", value.render()));
    }

    fn comment(&mut self, text: &str) {
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() {
                self.out.push_str("#\n");
            } else {
                self.out.push_str(&format!("# {line}\n"));
            }
        }
    }

    fn finish(self) -> String {
        self.out
    }
}

/// The config file to read and its text: `None` when no file is named and the default one
/// is missing (or no default path can be found in `sources.env`).
fn read_config_file(sources: &Sources<'_>) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let (path, explicit) = match sources.file {
        Some(path) => (path.to_path_buf(), true),
        None => match config_path_in(|name| env_value(&sources.env, name).map(PathBuf::from)) {
            Some(path) => (path, false),
            None => return Ok(None),
        },
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some((path, text))),
        Err(error) if !explicit && error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read { path, source }),
    }
}

/// The default config path given a way to look up environment variables.
fn config_path_in(lookup: impl Fn(&str) -> Option<PathBuf>) -> Option<PathBuf> {
    let config_home = lookup("XDG_CONFIG_HOME")
        .filter(|dir| dir.is_absolute())
        .or_else(|| {
            lookup("HOME")
                .filter(|home| home.is_absolute())
                .map(|home| home.join(".config"))
        })?;
    Some(config_home.join("deixis").join("config.toml"))
}

/// The last value `env` gives for `name`.
fn env_value<'e>(env: &'e [(String, String)], name: &str) -> Option<&'e str> {
    env.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

/// The config key (`section.key`) an environment variable sets: `Some` for
/// `DEIXIS_<SECTION>_<ANYTHING>` with a config section, whether or not the key exists.
fn env_key(name: &str) -> Option<String> {
    let rest = name.strip_prefix(ENV_PREFIX)?;
    SECTIONS.into_iter().find_map(|section| {
        let key = rest
            .strip_prefix(section.to_ascii_uppercase().as_str())?
            .strip_prefix('_')?;
        Some(format!("{section}.{}", key.to_ascii_lowercase()))
    })
}

/// What an unknown key could have been: its section's keys, or the sections.
fn known_keys_hint(key: &str) -> String {
    let section = key.split_once('.').map_or("", |(section, _)| section);
    if SECTIONS.contains(&section) {
        let keys: Vec<&str> = KEYS
            .iter()
            .filter_map(|k| k.strip_prefix(section)?.strip_prefix('.'))
            .collect();
        format!(" ([{section}] has {})", keys.join(", "))
    } else {
        format!(" (keys are section.key; sections: {})", SECTIONS.join(", "))
    }
}

/// A TOML error as "line L, column C: message", counted in `text`.
fn parse_error(path: &Path, text: &str, error: &toml::de::Error) -> ConfigError {
    let before = error.span().and_then(|span| text.get(..span.start));
    let message = match before {
        Some(before) => {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(
                "line {line}, column {column}: {}",
                error.message().trim_end()
            )
        }
        None => error.to_string().trim_end().to_owned(),
    };
    ConfigError::Parse {
        path: path.to_path_buf(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};
    use tempfile::TempDir;

    /// A temp dir for config files; error messages show it as `$DIR`.
    struct Dir(TempDir);

    impl Dir {
        fn new() -> Self {
            Dir(tempfile::tempdir().expect("create temp dir"))
        }

        fn path(&self) -> &Path {
            self.0.path()
        }

        /// Writes `text` to `name` in the dir and returns its path.
        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.path().join(name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create config dir");
            }
            std::fs::write(&path, text).expect("write config file");
            path
        }

        fn scrub(&self, error: &ConfigError) -> String {
            error
                .to_string()
                .replace(&*self.path().to_string_lossy(), "$DIR")
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn sources<'a>(
        file: Option<&'a Path>,
        env: &[(&str, &str)],
        overrides: &[(&str, &str)],
    ) -> Sources<'a> {
        Sources {
            file,
            env: pairs(env),
            overrides: pairs(overrides),
        }
    }

    fn load_ok(sources: &Sources<'_>) -> Settings {
        match load(sources) {
            Ok(settings) => settings,
            Err(error) => panic!("load failed: {error}"),
        }
    }

    fn load_err(dir: &Dir, sources: &Sources<'_>) -> (ConfigError, String) {
        match load(sources) {
            Ok(settings) => panic!("load succeeded: {settings:?}"),
            Err(error) => {
                let message = dir.scrub(&error);
                (error, message)
            }
        }
    }

    /// Loading `file_text` fails with `expected` (temp dir shown as `$DIR`).
    fn check_file_err(file_text: &str, expected: Expect) {
        let dir = Dir::new();
        let path = dir.write("config.toml", file_text);
        let (_, message) = load_err(&dir, &sources(Some(&path), &[], &[]));
        expected.assert_eq(&message);
    }

    /// Setting `name=value` in the environment fails with `expected`.
    fn check_env_err(name: &str, value: &str, expected: Expect) {
        let dir = Dir::new();
        let (_, message) = load_err(&dir, &sources(None, &[(name, value)], &[]));
        expected.assert_eq(&message);
    }

    /// Settings that differ from the defaults in every field.
    fn every_field_changed() -> Settings {
        Settings {
            capture: CaptureSettings {
                all_windows: true,
                exclude_apps: vec!["Signal".to_owned(), "odd \"name\"\\\n\u{7}".to_owned()],
                exclude_windows: vec!["Private Browsing".to_owned()],
                enable_accessibility: false,
                screen_reader_hint: true,
                ocr: OcrMode::Always,
            },
            store: StoreSettings {
                ephemeral: true,
                retention_minutes: 0,
            },
            model: ModelSettings {
                resolver: Resolver::Model,
                path: Some(PathBuf::from("/opt/deixis/model.bin")),
                dram_budget_mib: 16,
                lexical_weight: 0.0,
            },
            clients: ClientSettings {
                allow: vec![PathBuf::from("/usr/bin/a"), PathBuf::from("/usr/bin/b")],
            },
            log: LogSettings {
                content: true,
                level: "trace".to_owned(),
            },
            parse: ParseSettings {
                max_elements: 1,
                line_margin: 0.5,
                cluster_eps: 1.0,
                cluster_min_points: 3,
                max_text_chars: 8,
            },
        }
    }

    #[test]
    fn defaults() {
        let settings = load_ok(&sources(None, &[], &[]));
        assert_eq!(settings, Settings::default());
        assert!(!settings.capture.all_windows);
        assert!(settings.capture.exclude_apps.is_empty());
        assert!(settings.capture.enable_accessibility);
        assert!(!settings.capture.screen_reader_hint);
        assert_eq!(settings.capture.ocr, OcrMode::Auto);
        assert!(!settings.store.ephemeral);
        assert_eq!(settings.store.retention_minutes, 60);
        assert_eq!(settings.model.resolver, Resolver::Model);
        assert_eq!(settings.model.path, None);
        assert_eq!(settings.model.dram_budget_mib, 512);
        assert_eq!(settings.model.lexical_weight, 4.0);
        assert!(settings.clients.allow.is_empty());
        assert!(!settings.log.content);
        assert_eq!(settings.log.level, "info");
        assert_eq!(settings.parse, ParseSettings::default());
        assert_eq!(settings.parse.max_elements, 5000);
        assert_eq!(settings.parse.line_margin, 0.02);
        assert_eq!(settings.parse.cluster_eps, 0.025);
        assert_eq!(settings.parse.cluster_min_points, 2);
        assert_eq!(settings.parse.max_text_chars, 300);
    }

    #[test]
    fn file_values() {
        let dir = Dir::new();
        let path = dir.write(
            "config.toml",
            r#"
[capture]
all_windows = true
exclude_apps = ["Firefox", "signal"]
ocr = "Never"

[store]
retention_minutes = 0

[model]
resolver = "model"
path = "/models/deixis.bin"
dram_budget_mib = 64

[clients]
allow = ["/usr/bin/deixis"]

[log]
level = "DEBUG"

[parse]
line_margin = 0.05
cluster_min_points = 4
"#,
        );
        let settings = load_ok(&sources(Some(&path), &[], &[]));
        let mut expected = Settings::default();
        expected.capture.all_windows = true;
        expected.capture.exclude_apps = vec!["Firefox".to_owned(), "signal".to_owned()];
        expected.capture.ocr = OcrMode::Never;
        expected.store.retention_minutes = 0;
        expected.model.resolver = Resolver::Model;
        expected.model.path = Some(PathBuf::from("/models/deixis.bin"));
        expected.model.dram_budget_mib = 64;
        expected.clients.allow = vec![PathBuf::from("/usr/bin/deixis")];
        expected.log.level = "debug".to_owned();
        expected.parse.line_margin = 0.05;
        expected.parse.cluster_min_points = 4;
        assert_eq!(settings, expected);
        assert!(settings.capture.excludes_app("firefox"));
        assert!(settings.capture.excludes_app("SIGNAL"));
        assert!(!settings.capture.excludes_app("thunderbird"));
    }

    #[test]
    fn empty_model_path_in_file_is_the_built_in_model() {
        let dir = Dir::new();
        let path = dir.write("config.toml", "[model]\npath = \"\"\n");
        let settings = load_ok(&sources(Some(&path), &[], &[]));
        assert_eq!(settings.model.path, None);
    }

    #[test]
    fn env_beats_file() {
        let dir = Dir::new();
        let path = dir.write(
            "config.toml",
            "[model]\nresolver = \"model\"\n[capture]\nexclude_apps = [\"a\"]\nall_windows = true\n",
        );
        let settings = load_ok(&sources(
            Some(&path),
            &[
                ("DEIXIS_MODEL_RESOLVER", "baseline"),
                ("DEIXIS_CAPTURE_EXCLUDE_APPS", " firefox, signal ,"),
                ("DEIXIS_CAPTURE_ALL_WINDOWS", "no"),
                ("DEIXIS_PARSE_LINE_MARGIN", "0.1"),
                ("DEIXIS_CLIENTS_ALLOW", "/usr/bin/a,/usr/bin/b"),
                ("DEIXIS_MODEL_PATH", "/m.bin"),
            ],
            &[],
        ));
        assert_eq!(settings.model.resolver, Resolver::Baseline);
        assert_eq!(settings.capture.exclude_apps, ["firefox", "signal"]);
        assert!(!settings.capture.all_windows);
        assert_eq!(settings.parse.line_margin, 0.1);
        assert_eq!(
            settings.clients.allow,
            [PathBuf::from("/usr/bin/a"), PathBuf::from("/usr/bin/b")]
        );
        assert_eq!(settings.model.path, Some(PathBuf::from("/m.bin")));
    }

    #[test]
    fn empty_env_values_clear_lists_and_model_path() {
        let dir = Dir::new();
        let path = dir.write(
            "config.toml",
            "[capture]\nexclude_apps = [\"a\"]\n[model]\npath = \"/m.bin\"\n",
        );
        let settings = load_ok(&sources(
            Some(&path),
            &[
                ("DEIXIS_CAPTURE_EXCLUDE_APPS", ""),
                ("DEIXIS_MODEL_PATH", ""),
            ],
            &[],
        ));
        assert!(settings.capture.exclude_apps.is_empty());
        assert_eq!(settings.model.path, None);
    }

    #[test]
    fn override_beats_env() {
        let settings = load_ok(&sources(
            None,
            &[
                ("DEIXIS_MODEL_RESOLVER", "model"),
                ("DEIXIS_STORE_RETENTION_MINUTES", "5"),
            ],
            &[
                ("model.resolver", "baseline"),
                ("store.retention_minutes", "7"),
            ],
        ));
        assert_eq!(settings.model.resolver, Resolver::Baseline);
        assert_eq!(settings.store.retention_minutes, 7);
    }

    #[test]
    fn later_overrides_win() {
        let settings = load_ok(&sources(
            None,
            &[],
            &[("log.level", "warn"), ("log.level", "Error")],
        ));
        assert_eq!(settings.log.level, "error");
    }

    #[test]
    fn bools_accept_words_and_digits() {
        for (text, want) in [
            ("true", true),
            ("1", true),
            ("yes", true),
            ("YES", true),
            ("false", false),
            ("0", false),
            ("no", false),
            (" False ", false),
        ] {
            let settings = load_ok(&sources(None, &[], &[("log.content", text)]));
            assert_eq!(settings.log.content, want, "{text:?}");
        }
    }

    #[test]
    fn unknown_key_in_file_names_key_file_and_line() {
        check_file_err(
            "[capture]\nall_windows = true\nexclude_app = [\"x\"]\n",
            expect!["config file $DIR/config.toml: line 3, column 1: unknown field `exclude_app`, expected one of `all_windows`, `exclude_apps`, `exclude_windows`, `enable_accessibility`, `screen_reader_hint`, `ocr`"],
        );
        check_file_err(
            "[captur]\nall_windows = true\n",
            expect![[
                r#"config file $DIR/config.toml: line 1, column 2: unknown field `captur`, expected one of `capture`, `store`, `model`, `clients`, `log`, `parse`"#
            ]],
        );
    }

    #[test]
    fn unknown_deixis_section_key_is_an_error() {
        check_env_err(
            "DEIXIS_MODEL_FOO",
            "1",
            expect![[
                r#"environment DEIXIS_MODEL_FOO: unknown config key model.foo ([model] has resolver, path, dram_budget_mib, lexical_weight)"#
            ]],
        );
        let dir = Dir::new();
        let (error, _) = load_err(&dir, &sources(None, &[("DEIXIS_LOG_STYLE", "x")], &[]));
        assert!(
            matches!(&error, ConfigError::UnknownKey { key, origin: Origin::Env(name) }
                if key == "log.style" && name == "DEIXIS_LOG_STYLE"),
            "{error:?}"
        );
    }

    #[test]
    fn other_deixis_variables_are_ignored() {
        let settings = load_ok(&sources(
            None,
            &[
                ("DEIXIS_LOG", "deixis=trace"),
                ("DEIXIS_SOCKET", "/tmp/x"),
                ("DEIXIS_MODELS", "x"),
                ("deixis_model_foo", "x"),
                ("PATH", "/usr/bin"),
            ],
            &[],
        ));
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn unknown_override_key_is_an_error() {
        let dir = Dir::new();
        let (_, message) = load_err(&dir, &sources(None, &[], &[("resolver", "model")]));
        expect![[r#"command line: unknown config key resolver (keys are section.key; sections: capture, store, model, clients, log, parse)"#]]
            .assert_eq(&message);
    }

    #[test]
    fn every_key_is_settable_from_text() {
        for key in KEYS {
            let (section, _) = key.split_once('.').expect("key has a section");
            assert!(SECTIONS.contains(&section), "{key}");
            let mut settings = Settings::default();
            match settings.set(key, "", &Origin::CommandLine) {
                Ok(()) | Err(ConfigError::Invalid { .. }) => {}
                Err(error) => panic!("{key}: {error}"),
            }
        }
    }

    #[test]
    fn wrong_type_errors() {
        check_file_err(
            "[capture]\nall_windows = \"yes\"\n",
            expect![[
                r#"config file $DIR/config.toml: line 2, column 15: invalid type: string "yes", expected a boolean"#
            ]],
        );
        check_file_err(
            "[parse]\nmax_elements = 1.5\n",
            expect![[
                r#"config file $DIR/config.toml: line 2, column 16: invalid type: floating point `1.5`, expected usize"#
            ]],
        );
        check_file_err(
            "[model]\nresolver = \"neural\"\n",
            expect![[
                r#"config file $DIR/config.toml: model.resolver must be one of "baseline", "model", got "neural""#
            ]],
        );
        check_file_err(
            "[capture\n",
            expect![[
                r#"config file $DIR/config.toml: line 1, column 9: invalid table header
expected `.`, `]`"#
            ]],
        );
        check_env_err(
            "DEIXIS_CAPTURE_ALL_WINDOWS",
            "maybe",
            expect![[
                r#"environment DEIXIS_CAPTURE_ALL_WINDOWS: capture.all_windows must be true or false (or 1/0, yes/no), got "maybe""#
            ]],
        );
        check_env_err(
            "DEIXIS_PARSE_LINE_MARGIN",
            "abc",
            expect![[
                r#"environment DEIXIS_PARSE_LINE_MARGIN: parse.line_margin must be a number in (0, 0.5], got "abc""#
            ]],
        );
        check_env_err(
            "DEIXIS_CAPTURE_OCR",
            "sometimes",
            expect![[
                r#"environment DEIXIS_CAPTURE_OCR: capture.ocr must be one of "auto", "never", "always", got "sometimes""#
            ]],
        );
        check_env_err(
            "DEIXIS_LOG_LEVEL",
            "loud",
            expect![[
                r#"environment DEIXIS_LOG_LEVEL: log.level must be one of "error", "warn", "info", "debug", "trace", got "loud""#
            ]],
        );
    }

    #[test]
    fn validation_bounds() {
        check_file_err(
            "[model]\nlexical_weight = -1.0\n",
            expect![[
                r#"config file $DIR/config.toml: model.lexical_weight must be a number in [0, 100], got -1.0"#
            ]],
        );
        check_file_err(
            "[model]\nlexical_weight = nan\n",
            expect![[
                r#"config file $DIR/config.toml: model.lexical_weight must be a number in [0, 100], got nan"#
            ]],
        );
        check_file_err(
            "[parse]\nline_margin = nan\n",
            expect![[
                r#"config file $DIR/config.toml: parse.line_margin must be a number in (0, 0.5], got nan"#
            ]],
        );
        check_file_err(
            "[parse]\ncluster_eps = inf\n",
            expect![[
                r#"config file $DIR/config.toml: parse.cluster_eps must be a number in (0, 1], got inf"#
            ]],
        );
        check_file_err(
            "[parse]\ncluster_eps = 0.0\n",
            expect![[
                r#"config file $DIR/config.toml: parse.cluster_eps must be a number in (0, 1], got 0.0"#
            ]],
        );
        check_file_err(
            "[parse]\nline_margin = 0.6\n",
            expect![[
                r#"config file $DIR/config.toml: parse.line_margin must be a number in (0, 0.5], got 0.6"#
            ]],
        );
        check_file_err(
            "[parse]\nmax_elements = 0\n",
            expect![[
                r#"config file $DIR/config.toml: parse.max_elements must be a whole number, at least 1, got 0"#
            ]],
        );
        check_file_err(
            "[parse]\ncluster_min_points = 1\n",
            expect![[
                r#"config file $DIR/config.toml: parse.cluster_min_points must be a whole number, at least 2, got 1"#
            ]],
        );
        check_file_err(
            "[parse]\nmax_text_chars = 7\n",
            expect![[
                r#"config file $DIR/config.toml: parse.max_text_chars must be a whole number, at least 8, got 7"#
            ]],
        );
        check_file_err(
            "[model]\ndram_budget_mib = 15\n",
            expect![[
                r#"config file $DIR/config.toml: model.dram_budget_mib must be a whole number of MiB, at least 16, got 15"#
            ]],
        );
        check_file_err(
            "[model]\ndram_budget_mib = -1\n",
            expect![[
                r#"config file $DIR/config.toml: line 2, column 19: invalid value: integer `-1`, expected u32"#
            ]],
        );
        check_file_err(
            "[clients]\nallow = [\"/usr/bin/ok\", \"bin/deixis\"]\n",
            expect![[
                r#"config file $DIR/config.toml: clients.allow must be a list of absolute executable paths, got ["/usr/bin/ok", "bin/deixis"]"#
            ]],
        );
        check_file_err(
            "[capture]\nexclude_apps = [\" \"]\n",
            expect![[
                r#"config file $DIR/config.toml: capture.exclude_apps must be a list of application names, none empty, got [" "]"#
            ]],
        );
        check_env_err(
            "DEIXIS_PARSE_LINE_MARGIN",
            "NaN",
            expect![[
                r#"environment DEIXIS_PARSE_LINE_MARGIN: parse.line_margin must be a number in (0, 0.5], got "NaN""#
            ]],
        );
        check_env_err(
            "DEIXIS_PARSE_CLUSTER_EPS",
            "inf",
            expect![[
                r#"environment DEIXIS_PARSE_CLUSTER_EPS: parse.cluster_eps must be a number in (0, 1], got "inf""#
            ]],
        );
        check_env_err(
            "DEIXIS_PARSE_LINE_MARGIN",
            "0",
            expect![[
                r#"environment DEIXIS_PARSE_LINE_MARGIN: parse.line_margin must be a number in (0, 0.5], got "0""#
            ]],
        );
        check_env_err(
            "DEIXIS_MODEL_DRAM_BUDGET_MIB",
            "-512",
            expect![[
                r#"environment DEIXIS_MODEL_DRAM_BUDGET_MIB: model.dram_budget_mib must be a whole number of MiB, at least 16, got "-512""#
            ]],
        );
        check_env_err(
            "DEIXIS_STORE_RETENTION_MINUTES",
            "-1",
            expect![[
                r#"environment DEIXIS_STORE_RETENTION_MINUTES: store.retention_minutes must be a whole number of minutes, got "-1""#
            ]],
        );
        check_env_err(
            "DEIXIS_CLIENTS_ALLOW",
            "/usr/bin/ok,deixis",
            expect![[
                r#"environment DEIXIS_CLIENTS_ALLOW: clients.allow must be a list of absolute executable paths, got "/usr/bin/ok,deixis""#
            ]],
        );
        let dir = Dir::new();
        let (error, _) = load_err(&dir, &sources(None, &[], &[("parse.max_elements", "0")]));
        assert!(
            matches!(&error, ConfigError::Invalid { key, origin: Origin::CommandLine, .. }
                if key == "parse.max_elements"),
            "{error:?}"
        );
    }

    #[test]
    fn bad_file_value_is_an_error_even_when_env_overrides_it() {
        let dir = Dir::new();
        let path = dir.write("config.toml", "[parse]\nmax_elements = 0\n");
        let (error, _) = load_err(
            &dir,
            &sources(Some(&path), &[("DEIXIS_PARSE_MAX_ELEMENTS", "10")], &[]),
        );
        assert!(
            matches!(&error, ConfigError::Invalid { origin: Origin::File(p), .. } if *p == path),
            "{error:?}"
        );
    }

    #[test]
    fn missing_explicit_file_errors() {
        let dir = Dir::new();
        let path = dir.path().join("nope.toml");
        let (error, message) = load_err(&dir, &sources(Some(&path), &[], &[]));
        expect![[r#"cannot read config file $DIR/nope.toml"#]].assert_eq(&message);
        match error {
            ConfigError::Read { path: p, source } => {
                assert_eq!(p, path);
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_default_file_is_fine() {
        let dir = Dir::new();
        let config_home = dir.path().to_string_lossy().into_owned();
        let settings = load_ok(&sources(None, &[("XDG_CONFIG_HOME", &config_home)], &[]));
        assert_eq!(settings, Settings::default());
        let settings = load_ok(&sources(None, &[("HOME", &config_home)], &[]));
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn default_file_is_read_from_xdg_config_home_then_home() {
        let dir = Dir::new();
        dir.write("xdg/deixis/config.toml", "[store]\nretention_minutes = 1\n");
        dir.write(
            "home/.config/deixis/config.toml",
            "[store]\nretention_minutes = 2\n",
        );
        let xdg = dir.path().join("xdg").to_string_lossy().into_owned();
        let home = dir.path().join("home").to_string_lossy().into_owned();

        let both = [("XDG_CONFIG_HOME", xdg.as_str()), ("HOME", home.as_str())];
        let settings = load_ok(&sources(None, &both, &[]));
        assert_eq!(settings.store.retention_minutes, 1);

        let relative_xdg = [("XDG_CONFIG_HOME", "relative"), ("HOME", home.as_str())];
        let settings = load_ok(&sources(None, &relative_xdg, &[]));
        assert_eq!(settings.store.retention_minutes, 2);

        dir.write("bad/deixis/config.toml", "[store]\nephemeral = 3\n");
        let bad_xdg = dir.path().join("bad").to_string_lossy().into_owned();
        let (error, _) = load_err(&dir, &sources(None, &[("XDG_CONFIG_HOME", &bad_xdg)], &[]));
        assert!(
            matches!(&error, ConfigError::Parse { path, .. }
                if path.ends_with("bad/deixis/config.toml")),
            "{error:?}"
        );
    }

    #[test]
    fn config_path_prefers_absolute_xdg_config_home() {
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| PathBuf::from(v))
            }
        };
        assert_eq!(
            config_path_in(lookup(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")])),
            Some(PathBuf::from("/x/deixis/config.toml"))
        );
        assert_eq!(
            config_path_in(lookup(&[("XDG_CONFIG_HOME", ""), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.config/deixis/config.toml"))
        );
        assert_eq!(config_path_in(lookup(&[("HOME", "")])), None);
        assert_eq!(config_path_in(lookup(&[])), None);
    }

    #[test]
    fn enums_parse_and_display() {
        for resolver in Resolver::ALL {
            assert_eq!(resolver.to_string().parse::<Resolver>(), Ok(resolver));
        }
        for mode in OcrMode::ALL {
            assert_eq!(mode.to_string().parse::<OcrMode>(), Ok(mode));
        }
        assert_eq!("Model".parse::<Resolver>(), Ok(Resolver::Model));
        assert_eq!(Resolver::Baseline.to_string(), "baseline");
        assert_eq!(OcrMode::Always.to_string(), "always");
        let error = "gpt".parse::<Resolver>().expect_err("gpt is no resolver");
        expect![[r#"expected one of "baseline", "model", got "gpt""#]]
            .assert_eq(&error.to_string());
    }

    #[test]
    fn to_toml_round_trips_every_field() {
        let settings = every_field_changed();
        let dir = Dir::new();
        let path = dir.write("config.toml", &settings.to_toml());
        assert_eq!(load_ok(&sources(Some(&path), &[], &[])), settings);
    }

    #[test]
    fn to_toml_shows_every_key() {
        let text = Settings::default().to_toml();
        let mut section = "";
        let mut seen = Vec::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name;
            } else if let Some((key, _)) = line.split_once(" = ") {
                if !line.starts_with('#') {
                    seen.push(format!("{section}.{key}"));
                }
            }
        }
        assert_eq!(seen, KEYS);
    }

    #[test]
    fn packaging_config_matches_defaults() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/config.toml");
        let text = std::fs::read_to_string(path).expect("read packaging/config.toml");
        assert_eq!(
            text,
            Settings::default().to_toml(),
            "regenerate packaging/config.toml from Settings::default().to_toml()"
        );
        let loaded = load_ok(&sources(Some(Path::new(path)), &[], &[]));
        assert_eq!(loaded, Settings::default());
    }
}
