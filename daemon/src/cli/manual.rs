//! The man pages and shell completions the package ships (`packaging/man/`,
//! `packaging/completions/`), generated from the clap definitions by clap_mangen and
//! clap_complete. The generated files are committed, so that building the package needs no
//! generator run and a review sees what users will read; the test below keeps them equal to
//! what the definitions generate. `UPDATE_EXPECT=1 cargo test -p deixis-daemon cli::` rewrites
//! them.
//!
//! Each binary gets one page, and each subcommand a page of its own in git's style
//! (`deixis-model-train(1)`), which is how clap_mangen names them. Sections the command line
//! cannot say (files, environment, signals, exit status) are written here.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;

/// Sections after clap_mangen's, by page: raw roff.
fn extra_sections(page: &str) -> String {
    let see_also = |pages: &[&str]| {
        let list: Vec<String> = pages.iter().map(|p| format!("\\fB{p}\\fR(1)")).collect();
        format!(".SH \"SEE ALSO\"\n{}\n", list.join(", "))
    };
    match page {
        "deixisd" => [
            DAEMON_DESCRIPTION,
            FILES,
            ENVIRONMENT,
            ".SH SIGNALS\n\
             .TP\n\\fBSIGHUP\\fR\nRead the configuration again. A configuration with errors is \
             reported in the log and the running one is kept.\n\
             .TP\n\\fBSIGTERM\\fR, \\fBSIGINT\\fR\nRefuse new calls, let the ones in flight \
             finish, flush the store and exit.\n",
            &see_also(&["deixis", "systemctl", "dbus-daemon"]),
        ]
        .concat(),
        "deixis" => [
            ENVIRONMENT,
            ".SH \"EXIT STATUS\"\n\
             .TP\n\\fB0\\fR\nSuccess.\n\
             .TP\n\\fB1\\fR\nAn error that is the user's to fix: a bad file, argument or \
             configuration (the message names the file, line and field), or no deixisd on \
             the bus.\n\
             .TP\n\\fB2\\fR\nAn internal error.\n",
            &see_also(&["deixisd"]),
        ]
        .concat(),
        _ => see_also(&["deixis", "deixisd"]),
    }
}

const DAEMON_DESCRIPTION: &str = ".SH SERVICE\n\
deixisd owns the name \\fBorg.deixis.Deixis1\\fR on the session bus and serves the \
interface of the same name at \\fB/org/deixis/Deixis1\\fR (its introspection XML is \
installed as /usr/share/dbus-1/interfaces/org.deixis.Deixis1.xml). Where systemd manages \
the session, \\fBsystemctl --user enable --now deixisd\\fR starts it with the graphical \
session; otherwise the first call to the name starts it (D-Bus activation).\n\
.PP\n\
Screen text is kept only in memory and, unless \\fBstore.ephemeral\\fR is set, in the \
store below for \\fBstore.retention_minutes\\fR. Password fields are never read, no pixels \
are stored, and logs carry no screen text or queries unless \\fBlog.content\\fR is set. \
\\fBdeixis forget all\\fR deletes everything kept.\n";

const FILES: &str = ".SH FILES\n\
.TP\n\\fI$XDG_CONFIG_HOME/deixis/config.toml\\fR (else \\fI~/.config/deixis/config.toml\\fR)\n\
The configuration. Every key is optional; /usr/share/deixis/config.toml lists them all \
with their defaults and meaning.\n\
.TP\n\\fI$XDG_DATA_HOME/deixis/\\fR (else \\fI~/.local/share/deixis/\\fR)\n\
The store: conversation and background entities, the text of recent screens (never \
pixels) and a log of resolutions that holds no queries.\n\
.TP\n\\fI/usr/share/deixis/models/deixis-small/\\fR\n\
The shipped model, where a package installs one; \\fImodel.path\\fR names another.\n";

const ENVIRONMENT: &str = ".SH ENVIRONMENT\n\
.TP\n\\fBDEIXIS_CONFIG\\fR\nThe configuration file, as \\fB--config\\fR.\n\
.TP\n\\fBDEIXIS_\\fISECTION\\fB_\\fIKEY\\fR\n\
Overrides one configuration key, for example \\fBDEIXIS_MODEL_RESOLVER=model\\fR; lists \
are comma-separated.\n\
.TP\n\\fBDEIXIS_LOG\\fR\n\
A log filter (\\fBwarn\\fR, \\fBdebug\\fR, \\fBdeixis_daemon=trace\\fR...); wins over \
\\fBlog.level\\fR.\n\
.TP\n\\fBDBUS_SESSION_BUS_ADDRESS\\fR\nThe session bus.\n";

/// Every generated file: its path under `packaging/` and its content.
fn generate() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for cmd in [
        super::deixis::Cli::command(),
        super::deixisd::Cli::command(),
    ] {
        let mut cmd = cmd.disable_help_subcommand(true);
        cmd.build();
        pages(&cmd, &mut files);
        let name = cmd.get_name().to_owned();
        for (shell, file) in [
            (Shell::Bash, format!("{name}.bash")),
            (Shell::Zsh, format!("_{name}")),
            (Shell::Fish, format!("{name}.fish")),
        ] {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, &name, &mut out);
            files.push((Path::new("completions").join(file), out));
        }
    }
    files
}

/// The page of `cmd` and of each of its subcommands, recursively.
fn pages(cmd: &clap::Command, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, files);
    }
    let man = clap_mangen::Man::new(cmd.clone())
        .source(concat!("deixis ", env!("CARGO_PKG_VERSION")))
        .manual("deixis manual");
    let mut out = Vec::new();
    man.render(&mut out).expect("rendering to memory");
    let name = man.get_filename();
    let page = name.trim_end_matches(".1");
    out.extend_from_slice(extra_sections(page).as_bytes());
    files.push((Path::new("man").join(name), out));
}

#[test]
fn packaged_man_pages_and_completions_match_the_command_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging");
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let files = generate();
    let mut stale = Vec::new();
    for (path, content) in &files {
        let full = root.join(path);
        if std::fs::read(&full).ok().as_deref() == Some(content) {
            continue;
        }
        if update {
            std::fs::create_dir_all(full.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&full, content).expect("write");
        } else {
            stale.push(path.display().to_string());
        }
    }
    // Pages of subcommands that are gone.
    for dir in ["man", "completions"] {
        for entry in std::fs::read_dir(root.join(dir)).into_iter().flatten() {
            let path = Path::new(dir).join(entry.expect("entry").file_name());
            if !files.iter().any(|(p, _)| *p == path) {
                if update {
                    std::fs::remove_file(root.join(&path)).expect("remove");
                } else {
                    stale.push(format!("{} (no longer generated)", path.display()));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "packaging/ differs from the command lines in {stale:?}; \
         `UPDATE_EXPECT=1 cargo test -p deixis-daemon cli::` regenerates it"
    );
    // The pages name every subcommand, and the extra sections are there.
    let page = |name: &str| {
        let (_, content) = files
            .iter()
            .find(|(p, _)| *p == Path::new("man").join(name))
            .unwrap_or_else(|| panic!("{name} generated"));
        String::from_utf8(content.clone()).expect("UTF-8")
    };
    for (parent, sub) in [
        ("deixis.1", "deixis-resolve.1"),
        ("deixis.1", "deixis-forget.1"),
        ("deixis-model.1", "deixis-model-bench.1"),
    ] {
        // roff escapes the hyphen.
        let listed = format!("{}(1)", sub.trim_end_matches(".1").replace('-', "\\-"));
        assert!(page(parent).contains(&listed), "{sub} in {parent}");
        assert!(page(sub).contains(".SH \"SEE ALSO\""), "{sub}");
    }
    assert!(page("deixisd.1").contains(".SH SIGNALS"));
    assert!(page("deixisd.1").contains("org.deixis.Deixis1"));
    assert!(page("deixis.1").contains(".SH \"EXIT STATUS\""));
}
