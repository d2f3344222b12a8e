//! Daemon: `deixisd --screen FILE` on a private session bus (a real dbus-daemon), called by
//! busctl, gdbus and our own `deixis` client; bad input gets the documented error and the
//! daemon keeps serving; SIGTERM stops it cleanly.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{deixis, deixisd, Run};

/// A private session bus, stopped when dropped.
struct Bus {
    /// Holds the bus socket and config; kept for its removal on drop.
    _dir: tempfile::TempDir,
    address: String,
    pid: u32,
}

impl Bus {
    fn start() -> Bus {
        let dir = tempfile::tempdir().expect("bus dir");
        std::fs::create_dir(dir.path().join("services")).expect("service dir");
        let config = dir.path().join("session.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{}/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.path().display(),
                dir.path().display()
            ),
        )
        .expect("bus config");
        let out = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--fork", "--print-address=1", "--print-pid=1"])
            .output()
            .expect("start dbus-daemon");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let address = lines.next().expect("bus address").to_owned();
        let pid = lines
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("bus pid");
        Bus {
            _dir: dir,
            address,
            pid,
        }
    }

    fn env(&self, mut cmd: Command) -> Command {
        cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .env_remove("AT_SPI_BUS_ADDRESS");
        cmd
    }

    fn busctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("busctl")
            .arg(format!("--address={}", self.address))
            .args(args)
            .output()
            .expect("busctl")
    }

    /// `deixisd --screen FILE` on this bus, once it owns its name.
    fn daemon(&self, screen: &str) -> Child {
        let mut cmd = self.env(deixisd());
        let child = cmd
            .args(["--screen", screen])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start deixisd");
        let mut child = child;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            let out = self.busctl(&[
                "call",
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "NameHasOwner",
                "s",
                "org.deixis.Deixis1",
            ]);
            if text(&out).trim() == "b true" {
                return child;
            }
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("deixisd exited with {status}:\n{err}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("deixisd never owned org.deixis.Deixis1");
    }

    fn resolve(&self, query: &str, options: &[&str]) -> std::process::Output {
        let count = (options.len() / 3).to_string();
        let mut args = vec![
            "call",
            "org.deixis.Deixis1",
            "/org/deixis/Deixis1",
            "org.deixis.Deixis1",
            "Resolve",
            "sa{sv}",
            query,
            &count,
        ];
        args.extend_from_slice(options);
        self.busctl(&args)
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

const CONTACT: &str = "parser/testdata/screens/contact_card.json";

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn busctl_gdbus_and_our_client_get_the_same_answer() {
    let bus = Bus::start();
    let mut daemon = bus.daemon(CONTACT);

    let out = bus.resolve("call her work number", &["max_results", "u", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    let reply = text(&out);
    assert!(reply.starts_with("aa{sv} 2 "), "{reply}");
    assert!(
        reply.contains(r#""id" s "44""#) && reply.contains(r#""selected" b true"#),
        "{reply}"
    );

    let gdbus = Command::new("gdbus")
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .args([
            "call",
            "--session",
            "--dest",
            "org.deixis.Deixis1",
            "--object-path",
            "/org/deixis/Deixis1",
            "--method",
            "org.deixis.Deixis1.Resolve",
            "email her",
            "{'max_results': <uint32 1>, 'some_future_option': <'ignored'>}",
        ])
        .output()
        .expect("gdbus");
    let reply = text(&gdbus);
    assert!(gdbus.status.success(), "{reply}");
    assert!(
        reply.contains("'id': <'47'>") && reply.contains("'selected': <true>"),
        "{reply}"
    );

    let mut client = bus.env(deixis());
    client.args(["resolve", "--json", "call her work number"]);
    let run = Run::of(&mut client).code(0);
    let answer: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    let selected: Vec<&serde_json::Value> = answer["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .filter(|c| c["selected"] == true)
        .collect();
    assert_eq!(selected.len(), 1, "{answer}");
    assert_eq!(selected[0]["id"], "44");
    assert_eq!(
        selected[0]["bounds"],
        serde_json::json!([981, 529, 140, 24])
    );

    let props = bus.busctl(&[
        "get-property",
        "org.deixis.Deixis1",
        "/org/deixis/Deixis1",
        "org.deixis.Deixis1",
        "Status",
        "CaptureSources",
    ]);
    assert_eq!(text(&props), "s \"ready\"\nas 1 \"screen-file\"\n");

    let screen = bus.busctl(&[
        "call",
        "org.deixis.Deixis1",
        "/org/deixis/Deixis1",
        "org.deixis.Deixis1",
        "CurrentScreen",
        "a{sv}",
        "0",
    ]);
    let reply = text(&screen);
    assert!(
        screen.status.success() && reply.contains("(408) 555-0123"),
        "{reply}"
    );

    stop(&mut daemon);
}

#[test]
fn bad_input_gets_the_documented_error_and_the_daemon_keeps_serving() {
    let bus = Bus::start();
    let mut daemon = bus.daemon(CONTACT);
    let long = "x".repeat(100 * 1024);
    let cases = [
        (
            "x",
            "{'max_results': <'three'>}",
            "org.deixis.Deixis1.Error.InvalidArgument",
        ),
        (
            "x",
            "{'min_score': <'high'>}",
            "org.deixis.Deixis1.Error.InvalidArgument",
        ),
        (
            "x",
            "{'context': <'not turns'>}",
            "org.deixis.Deixis1.Error.InvalidArgument",
        ),
        (long.as_str(), "{}", "org.deixis.Deixis1.Error.TooLarge"),
    ];
    for (query, options, error) in cases {
        let out = Command::new("gdbus")
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .args(["call", "--session", "--dest", "org.deixis.Deixis1"])
            .args(["--object-path", "/org/deixis/Deixis1"])
            .args(["--method", "org.deixis.Deixis1.Resolve", query, options])
            .output()
            .expect("gdbus");
        assert!(!out.status.success(), "{options}: {}", text(&out));
        let reply = text(&out);
        assert!(reply.contains(error), "{error} not in {reply}");
    }
    // A call with the wrong signature is refused by zbus.
    let out = bus.busctl(&[
        "call",
        "org.deixis.Deixis1",
        "/org/deixis/Deixis1",
        "org.deixis.Deixis1",
        "Resolve",
        "s",
        "no options",
    ]);
    assert!(!out.status.success());
    // Still serving.
    let out = bus.resolve("call her work number", &[]);
    assert!(
        out.status.success() && text(&out).contains(r#""id" s "44""#),
        "{}",
        text(&out)
    );
    stop(&mut daemon);
}

#[test]
fn the_client_without_a_daemon_says_how_to_start_one() {
    let bus = Bus::start();
    let mut cmd = bus.env(deixis());
    cmd.args(["resolve", "anything"]);
    let run = Run::of(&mut cmd).code(1);
    assert!(
        run.stderr.contains("no deixisd on the session bus"),
        "{}",
        run.stderr
    );
}

/// SIGTERM: the daemon gives its name up and exits 0.
fn stop(daemon: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let start = Instant::now();
    loop {
        if let Some(status) = daemon.try_wait().expect("wait") {
            assert!(status.success(), "deixisd exited with {status}");
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "deixisd ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
