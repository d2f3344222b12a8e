//! Daemon: `deixisd --screen FILE` on a private session bus (a real dbus-daemon), called by
//! busctl, gdbus and our own `deixis` client; bad input gets the documented error and the
//! daemon keeps serving; SIGTERM stops it cleanly.

use std::collections::HashMap;
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

    /// `deixisd --screen FILE` on this bus with its own data directory, once it owns its name.
    fn daemon(&self, screen: &str) -> Daemon {
        let data = tempfile::tempdir().expect("data dir");
        let mut d = self.daemon_in(screen, data.path(), &[]);
        d.data = Some(data);
        d
    }

    /// `deixisd --screen FILE` with `XDG_DATA_HOME=data` and more environment.
    fn daemon_in(&self, screen: &str, data: &std::path::Path, env: &[(&str, &str)]) -> Daemon {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut cmd = self.env(deixisd());
        cmd.args(["--screen", screen])
            .env("XDG_DATA_HOME", data)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log.reopen().expect("log file")));
        for (k, v) in env {
            cmd.env(k, v);
        }
        // Killed and reaped on drop, whatever happens below.
        let mut daemon = Daemon {
            child: cmd.spawn().expect("start deixisd"),
            log,
            data: None,
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if self.has_owner() {
                return daemon;
            }
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("deixisd exited with {status}:\n{}", daemon.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("deixisd never owned org.deixis.Deixis1");
    }

    fn has_owner(&self) -> bool {
        let out = self.busctl(&[
            "call",
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            "s",
            "org.deixis.Deixis1",
        ]);
        text(&out).trim() == "b true"
    }

    fn gdbus(&self, method: &str, args: &[&str]) -> std::process::Output {
        Command::new("gdbus")
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .args(["call", "--session", "--dest", "org.deixis.Deixis1"])
            .args(["--object-path", "/org/deixis/Deixis1", "--method"])
            .arg(format!("org.deixis.Deixis1.{method}"))
            .args(args)
            .output()
            .expect("gdbus")
    }

    /// busctl calling a method of the service.
    fn call(&self, method: &str, signature: &str, args: &[&str]) -> std::process::Output {
        let mut all = vec![
            "call",
            "org.deixis.Deixis1",
            "/org/deixis/Deixis1",
            "org.deixis.Deixis1",
            method,
            signature,
        ];
        all.extend_from_slice(args);
        self.busctl(&all)
    }

    /// Runs `f` with a zbus client connection of our own on this bus.
    fn client<T>(&self, f: impl AsyncFnOnce(deixis_ipc::Deixis1Proxy<'static>) -> T) -> T {
        let runtime = crate::support::runtime();
        runtime.block_on(async {
            let conn = self.connect().await;
            let proxy = deixis_ipc::Deixis1Proxy::new(&conn).await.expect("proxy");
            f(proxy).await
        })
    }

    async fn connect(&self) -> zbus::Connection {
        zbus::connection::Builder::address(self.address.as_str())
            .expect("address")
            .build()
            .await
            .expect("connect")
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
    let daemon = bus.daemon(CONTACT);

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
    assert_eq!(
        text(&props),
        "s \"ready\"\nas 2 \"screen-file\" \"accesskit\"\n"
    );

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

    daemon.stop();
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

/// A running deixisd; its stderr goes to a file.
struct Daemon {
    child: Child,
    log: tempfile::NamedTempFile,
    /// The data directory, when the daemon owns it.
    data: Option<tempfile::TempDir>,
}

impl Daemon {
    /// SIGTERM: the daemon gives its name up and exits 0. Returns what it logged.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                let log = self.log();
                assert!(status.success(), "deixisd exited with {status}:\n{log}");
                return log;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "deixisd ignored SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An AccessKit `TreeUpdate` as apps serialize it: a window with one button.
fn tree_json(button: &str) -> String {
    format!(
        r#"{{"nodes":[[1,{{"role":"window","actions":0,"childActions":0,"flags":0,"properties":{{"children":[2],"label":"Rocket","bounds":{{"x0":0.0,"y0":0.0,"x1":400.0,"y1":300.0}}}}}}],[2,{{"role":"button","actions":0,"childActions":0,"flags":0,"properties":{{"label":"{button}","bounds":{{"x0":300.0,"y0":250.0,"x1":390.0,"y1":290.0}}}}}}]],"tree":{{"root":1,"toolkitName":null,"toolkitVersion":null}},"treeId":"00000000-0000-0000-0000-000000000000","focus":2}}"#
    )
}

/// Every file under `dir` as bytes, concatenated.
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.extend(std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The text of the selected candidates in a busctl `aa{sv}` reply... read through our client.
fn selected_texts(answer: &[HashMap<String, zbus::zvariant::OwnedValue>]) -> Vec<String> {
    answer
        .iter()
        .filter(|c| {
            c.get("selected")
                .and_then(|v| bool::try_from(v).ok())
                .unwrap_or(false)
        })
        .filter_map(|c| c.get("text").and_then(|v| String::try_from(v.clone()).ok()))
        .collect()
}

#[test]
fn every_method_answers_busctl_gdbus_and_our_client() {
    let bus = Bus::start();
    let daemon = bus.daemon(CONTACT);

    // AddConversationEntities (busctl) returns ids; Resolve can pick them.
    let out = bus.call(
        "AddConversationEntities",
        "aa{sv}",
        &[
            "2",
            "3",
            "type",
            "s",
            "restaurant",
            "text",
            "s",
            "Casa Nostra, 12 Via Roma",
            "ttl_s",
            "u",
            "600",
            "2",
            "type",
            "s",
            "restaurant",
            "text",
            "s",
            "Sushi Zen, 4 Main St",
        ],
    );
    let reply = text(&out);
    assert!(out.status.success(), "{reply}");
    assert!(reply.starts_with("as 2 "), "{reply}");

    // SetBackgroundEntities (gdbus), with fields.
    let out = bus.gdbus(
        "SetBackgroundEntities",
        &["[{'type': <'alarm'>, 'text': <'Alarm 7:00 wake up'>, 'fields': <{'time': '7:00'}>}]"],
    );
    assert!(out.status.success(), "{}", text(&out));

    let (sushi, alarm, screen) = bus.client(async |proxy| {
        let sushi = proxy
            .resolve("directions to sushi zen", HashMap::new())
            .await
            .expect("resolve");
        let alarm = proxy
            .resolve("stop the alarm", HashMap::new())
            .await
            .expect("resolve");
        let screen = proxy.current_screen(HashMap::new()).await.expect("screen");
        (sushi, alarm, screen)
    });
    assert_eq!(selected_texts(&sushi), ["Sushi Zen, 4 Main St"]);
    assert_eq!(selected_texts(&alarm), ["Alarm 7:00 wake up"]);
    let kinds: Vec<String> = screen
        .2
        .iter()
        .filter_map(|c| c.get("kind").and_then(|v| String::try_from(v.clone()).ok()))
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "conversational").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "background").count(), 1);
    assert!(
        screen
            .1
            .contains("Type: alarm | name: Alarm 7:00 wake up | time: 7:00"),
        "{}",
        screen.1
    );

    // PushTree (busctl): accepted, and gone when busctl leaves the bus.
    let out = bus.call(
        "PushTree",
        "ss",
        &["org.example.Rocket", &tree_json("Busctl rocket")],
    );
    assert!(out.status.success(), "{}", text(&out));
    // PushTree (our client, which stays): the pushed button is on the screen, and
    // ScreenChanged says so.
    let (changed, answer, busctl_tree) = bus.client(async |proxy| {
        use futures_util::StreamExt;
        let mut signals = proxy.receive_screen_changed().await.expect("signal stream");
        proxy
            .push_tree("org.example.Rocket", &tree_json("Launch rocket"))
            .await
            .expect("push");
        let signal = tokio::time::timeout(Duration::from_secs(5), signals.next())
            .await
            .expect("ScreenChanged within 5 s")
            .expect("a signal");
        let args = signal.args().expect("args");
        let changed = (args.snapshot_id().to_string(), args.app().to_string());
        let answer = proxy
            .resolve("press launch", HashMap::new())
            .await
            .expect("resolve");
        let (_, parse, _) = proxy.current_screen(HashMap::new()).await.expect("screen");
        (changed, answer, parse.contains("Busctl rocket"))
    });
    assert!(!busctl_tree, "busctl's tree went with busctl");
    assert_eq!(changed.1, "org.example.Rocket", "{changed:?}");
    assert!(
        !changed.0.contains("Launch"),
        "signals carry no screen content"
    );
    assert_eq!(selected_texts(&answer), ["Launch rocket"]);

    // Forget (gdbus) and the CLI client's screen/status/forget.
    let out = bus.gdbus("Forget", &["background"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut cmd = bus.env(deixis());
    let run = Run::of(cmd.args(["screen", "--json"])).code(0);
    let screen: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert!(screen["snapshot_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert!(screen["parse"]
        .as_str()
        .expect("parse")
        .contains("Ada Lovelace"));
    let kinds: Vec<&str> = screen["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(!kinds.contains(&"background") && kinds.contains(&"conversational"));
    let mut cmd = bus.env(deixis());
    let run = Run::of(cmd.args(["status", "--json"])).code(0);
    let status: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(status["status"], "ready");
    assert_eq!(status["model"], "baseline");
    let mut cmd = bus.env(deixis());
    let run = Run::of(cmd.args(["forget", "conversation", "--json"])).code(0);
    assert_eq!(run.stdout.trim(), r#"{"forgotten":"conversation"}"#);
    let mut cmd = bus.env(deixis());
    let run = Run::of(cmd.args(["screen"])).code(0);
    assert!(!run.stdout.contains("Sushi Zen"), "{}", run.stdout);

    // The other client for each method: gdbus for CurrentScreen, PushTree and
    // AddConversationEntities, busctl for SetBackgroundEntities and Forget.
    let out = bus.gdbus("CurrentScreen", &["{}"]);
    assert!(text(&out).contains("Ada Lovelace"), "{}", text(&out));
    let out = bus.gdbus(
        "PushTree",
        &["org.example.Gdbus", &tree_json("Gdbus button")],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = bus.gdbus(
        "AddConversationEntities",
        &["[{'type': <'person'>, 'text': <'Grace Hopper'>}]"],
    );
    assert!(text(&out).starts_with("(['"), "{}", text(&out));
    let out = bus.call(
        "SetBackgroundEntities",
        "aa{sv}",
        &["1", "1", "text", "s", "Timer 5 min"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = bus.call("Forget", "s", &["log"]);
    assert!(out.status.success(), "{}", text(&out));

    // Properties, by busctl.
    let props = bus.busctl(&[
        "get-property",
        "org.deixis.Deixis1",
        "/org/deixis/Deixis1",
        "org.deixis.Deixis1",
        "Version",
        "Model",
    ]);
    assert!(text(&props).contains("s \"baseline\""), "{}", text(&props));
    daemon.stop();
}

#[test]
fn bad_input_on_every_method_is_refused_and_the_daemon_keeps_serving() {
    let bus = Bus::start();
    let daemon = bus.daemon(CONTACT);
    let error = |out: &std::process::Output| {
        assert!(!out.status.success(), "{}", text(out));
        text(out)
    };
    // Resolve: options of the wrong type, a query over the limit.
    let long = "x".repeat(100 * 1024);
    for (query, options, expected) in [
        ("x", "{'max_results': <'three'>}", "Error.InvalidArgument"),
        ("x", "{'min_score': <'high'>}", "Error.InvalidArgument"),
        ("x", "{'context': <'not turns'>}", "Error.InvalidArgument"),
        (long.as_str(), "{}", "Error.TooLarge"),
    ] {
        let reply = error(&bus.gdbus("Resolve", &[query, options]));
        assert!(reply.contains(expected), "{options}: {reply}");
    }
    // Wrong D-Bus types: zbus refuses them with InvalidArgs before the service sees them.
    for (method, signature, args) in [
        ("Resolve", "s", vec!["no options"]),
        ("CurrentScreen", "s", vec!["x"]),
        ("PushTree", "s", vec!["x"]),
        ("AddConversationEntities", "as", vec!["1", "x"]),
        ("SetBackgroundEntities", "u", vec!["1"]),
        ("Forget", "u", vec!["1"]),
    ] {
        let reply = error(&bus.call(method, signature, &args));
        assert!(reply.contains("Signature mismatch"), "{method}: {reply}");
    }
    // Known keys with the wrong type, invalid trees, unknown scopes: InvalidArgument.
    for (method, args) in [
        (
            "AddConversationEntities",
            "[{'text': <'a'>, 'ttl_s': <'soon'>}]",
        ),
        (
            "AddConversationEntities",
            "[{'text': <'a'>, 'fields': <['x']>}]",
        ),
        ("AddConversationEntities", "[{'type': <'empty'>}]"),
        ("SetBackgroundEntities", "[{'text': <uint32 5>}]"),
        ("Forget", "'everything'"),
    ] {
        let reply = error(&bus.gdbus(method, &[args]));
        assert!(
            reply.contains("Error.InvalidArgument"),
            "{method} {args}: {reply}"
        );
    }
    for tree in [
        "{not json",
        r#"{"nodes": []}"#,
        &tree_json("x").replace(r#""children":[2]"#, r#""children":[9]"#),
    ] {
        let reply = error(&bus.call("PushTree", "ss", &["app", tree]));
        assert!(reply.contains("tree update"), "{tree}: {reply}");
    }
    // Huge strings and 10k entities, through our own client (argv cannot carry 10 MiB).
    let huge = "x".repeat(10 * 1024 * 1024);
    let errors = bus.client(async |proxy| {
        let mut errors = Vec::new();
        let name = |r: zbus::Result<()>| match r {
            Err(zbus::Error::MethodError(name, _, _)) => name.to_string(),
            other => format!("{other:?}"),
        };
        errors.push(name(proxy.resolve(&huge, HashMap::new()).await.map(drop)));
        errors.push(name(proxy.push_tree("app", &huge).await));
        errors.push(name(proxy.push_tree(&huge, "").await));
        errors.push(name(proxy.forget(&huge).await));
        let entity = |text: &str| {
            let mut e: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
            e.insert("text", text.to_owned().into());
            e
        };
        errors.push(name(
            proxy
                .add_conversation_entities(vec![entity(&huge)])
                .await
                .map(drop),
        ));
        let many: Vec<_> = (0..10_000)
            .map(|n| entity(&format!("entity {n}")))
            .collect();
        errors.push(name(
            proxy
                .add_conversation_entities(many.clone())
                .await
                .map(drop),
        ));
        errors.push(name(proxy.set_background_entities(many).await));
        let mut options: HashMap<&str, zbus::zvariant::Value<'_>> = HashMap::new();
        options.insert("app", huge.as_str().into());
        errors.push(name(proxy.resolve("x", options).await.map(drop)));
        errors
    });
    let too_large = "org.deixis.Deixis1.Error.TooLarge";
    assert_eq!(
        errors,
        [
            too_large,
            too_large,
            too_large,
            "org.deixis.Deixis1.Error.InvalidArgument",
            too_large,
            too_large,
            too_large,
            too_large
        ]
    );
    // Still serving, nothing lost.
    let out = bus.resolve("call her work number", &[]);
    assert!(
        out.status.success() && text(&out).contains(r#""id" s "44""#),
        "{}",
        text(&out)
    );
    let out = bus.call("CurrentScreen", "a{sv}", &["0"]);
    assert!(text(&out).contains("Ada Lovelace"), "{}", text(&out));
    daemon.stop();
}

#[test]
fn two_hundred_concurrent_requests_over_twenty_connections_are_all_answered_right() {
    let bus = Bus::start();
    let daemon = bus.daemon(CONTACT);
    let queries = [
        "call her work number",
        "email her",
        "her birthday",
        "call the mobile",
        "open the address",
    ];
    // The expected answers, from the CLI resolving the same screen in-process.
    let expected: Vec<Vec<String>> = queries
        .iter()
        .map(|q| {
            let run = Run::of(deixis().args(["resolve", "--json", "--screen", CONTACT, q])).code(0);
            let v: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
            v["candidates"]
                .as_array()
                .expect("candidates")
                .iter()
                .filter(|c| c["selected"] == true)
                .map(|c| c["id"].as_str().expect("id").to_owned())
                .collect()
        })
        .collect();
    assert!(expected.iter().all(|e| !e.is_empty()), "{expected:?}");
    let runtime = crate::support::runtime();
    let answers = runtime.block_on(async {
        let mut connections = Vec::new();
        for _ in 0..20 {
            connections.push(bus.connect().await);
        }
        let mut calls = Vec::new();
        for n in 0..200 {
            let conn = connections[n % 20].clone();
            let q = queries[n % queries.len()];
            calls.push(tokio::spawn(async move {
                let proxy = deixis_ipc::Deixis1Proxy::new(&conn).await.expect("proxy");
                let answer = proxy.resolve(q, HashMap::new()).await.expect("answer");
                let ids: Vec<String> = answer
                    .iter()
                    .filter(|c| {
                        c.get("selected")
                            .and_then(|v| bool::try_from(v).ok())
                            .unwrap_or(false)
                    })
                    .filter_map(|c| c.get("id").and_then(|v| String::try_from(v.clone()).ok()))
                    .collect();
                (n, ids)
            }));
        }
        let mut out = Vec::new();
        for call in calls {
            out.push(call.await.expect("task"));
        }
        out
    });
    assert_eq!(answers.len(), 200);
    for (n, ids) in answers {
        assert_eq!(
            ids,
            expected[n % queries.len()],
            "request {n}: {}",
            queries[n % queries.len()]
        );
    }
    daemon.stop();
}

#[test]
fn acknowledged_entities_survive_sigkill() {
    let bus = Bus::start();
    let data = tempfile::tempdir().expect("data");
    let daemon = bus.daemon_in(CONTACT, data.path(), &[]);
    let mut acknowledged = Vec::new();
    for n in 0..25 {
        let name = format!("Pizzeria number {n}");
        let out = bus.call(
            "AddConversationEntities",
            "aa{sv}",
            &["1", "1", "text", "s", &name],
        );
        assert!(out.status.success(), "{}", text(&out));
        acknowledged.push(name);
    }
    // No SIGTERM, no flush: killed right after the last acknowledgement.
    let mut daemon = daemon;
    daemon.child.kill().expect("SIGKILL");
    daemon.child.wait().expect("wait");
    drop(daemon);
    let daemon = bus.daemon_in(CONTACT, data.path(), &[]);
    let out = bus.call("CurrentScreen", "a{sv}", &["0"]);
    let reply = text(&out);
    for text in &acknowledged {
        assert!(
            reply.contains(&format!("\"{text}\"")),
            "{text} lost:\n{reply}"
        );
    }
    daemon.stop();
}

#[test]
fn forget_deletes_from_the_files_and_ephemeral_mode_writes_nothing() {
    let bus = Bus::start();
    let data = tempfile::tempdir().expect("data");
    let daemon = bus.daemon_in(CONTACT, data.path(), &[]);
    let out = bus.call(
        "AddConversationEntities",
        "aa{sv}",
        &["1", "1", "text", "s", "Marker-Conversation-4411"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = bus.call(
        "SetBackgroundEntities",
        "aa{sv}",
        &["1", "1", "text", "s", "Marker-Background-5522"],
    );
    assert!(out.status.success(), "{}", text(&out));
    // The screen's parse is kept (sled writes it within half a second) and so is the log.
    assert!(bus.resolve("call her work number", &[]).status.success());
    std::thread::sleep(Duration::from_millis(1500));
    let bytes = all_bytes(data.path());
    for marker in [
        "Marker-Conversation-4411",
        "Marker-Background-5522",
        "(408) 555-0123",
    ] {
        assert!(contains(&bytes, marker), "{marker} was never written");
    }
    let out = bus.call("Forget", "s", &["all"]);
    assert!(out.status.success(), "{}", text(&out));
    let bytes = all_bytes(data.path());
    for marker in [
        "Marker-Conversation-4411",
        "Marker-Background-5522",
        "(408) 555-0123",
    ] {
        assert!(
            !contains(&bytes, marker),
            "{marker} is still on disk after Forget all"
        );
    }
    daemon.stop();

    // Ephemeral: the data directory stays empty.
    let empty = tempfile::tempdir().expect("data");
    let daemon = bus.daemon_in(CONTACT, empty.path(), &[("DEIXIS_STORE_EPHEMERAL", "true")]);
    let out = bus.call(
        "AddConversationEntities",
        "aa{sv}",
        &["1", "1", "text", "s", "Kept in memory"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = bus.call("CurrentScreen", "a{sv}", &["0"]);
    assert!(text(&out).contains("Kept in memory"));
    assert!(bus.resolve("call her work number", &[]).status.success());
    daemon.stop();
    let left: Vec<_> = std::fs::read_dir(empty.path()).expect("dir").collect();
    assert!(left.is_empty(), "ephemeral mode wrote {left:?}");
}

#[test]
fn logs_carry_no_screen_text_or_queries_unless_asked() {
    let bus = Bus::start();
    for content in [false, true] {
        let data = tempfile::tempdir().expect("data");
        let daemon = bus.daemon_in(
            CONTACT,
            data.path(),
            &[
                ("DEIXIS_LOG_LEVEL", "debug"),
                ("DEIXIS_LOG_CONTENT", if content { "true" } else { "false" }),
            ],
        );
        assert!(bus
            .resolve("Query-Marker-9090 her work number", &[])
            .status
            .success());
        bus.client(async |proxy| {
            proxy
                .push_tree("app", &tree_json("Screen-Marker-8080"))
                .await
                .expect("push");
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        let log = daemon.stop();
        assert!(log.contains("resolve"), "debug logging is on:\n{log}");
        for marker in ["Query-Marker-9090", "Screen-Marker-8080", "(408) 555-0123"] {
            assert_eq!(
                log.contains(marker),
                content,
                "{marker} with content={content}:\n{log}"
            );
        }
    }
}

#[test]
fn clients_allow_is_enforced_and_reloaded_on_sighup() {
    let bus = Bus::start();
    let data = tempfile::tempdir().expect("data");
    let config_home = tempfile::tempdir().expect("config");
    let config = config_home.path().join("deixis").join("config.toml");
    std::fs::create_dir_all(config.parent().expect("dir")).expect("config dir");
    let busctl = std::fs::canonicalize(
        String::from_utf8(
            Command::new("sh")
                .args(["-c", "command -v busctl"])
                .output()
                .expect("sh")
                .stdout,
        )
        .expect("path")
        .trim(),
    )
    .expect("busctl path");
    std::fs::write(
        &config,
        format!("[clients]\nallow = [{:?}]\n", busctl.display().to_string()),
    )
    .expect("config");
    let config_home_str = config_home.path().display().to_string();
    let daemon = bus.daemon_in(
        CONTACT,
        data.path(),
        &[("XDG_CONFIG_HOME", &config_home_str)],
    );
    let out = bus.resolve("email her", &[]);
    assert!(out.status.success(), "busctl is allowed: {}", text(&out));
    let out = bus.gdbus("Resolve", &["email her", "{}"]);
    assert!(
        text(&out).contains("Error.AccessDenied"),
        "gdbus is not: {}",
        text(&out)
    );
    let mut cmd = bus.env(deixis());
    let run = Run::of(cmd.args(["status"])).code(0);
    assert!(
        run.stdout.contains("ready"),
        "properties stay readable: {}",
        run.stdout
    );

    // A broken config on SIGHUP is reported and the old one kept.
    std::fs::write(&config, "[clients]\nallow = 3\n").expect("config");
    daemon.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    let out = bus.gdbus("Resolve", &["email her", "{}"]);
    assert!(text(&out).contains("Error.AccessDenied"), "{}", text(&out));
    // A good one takes effect.
    std::fs::write(&config, "[clients]\nallow = []\n").expect("config");
    daemon.signal("HUP");
    let start = Instant::now();
    loop {
        let out = bus.gdbus("Resolve", &["email her", "{}"]);
        if out.status.success() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not reloaded: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = daemon.stop();
    assert!(log.contains("config not reloaded"), "{log}");
}

#[test]
fn pushed_trees_belong_to_their_sender() {
    let bus = Bus::start();
    let data = tempfile::tempdir().expect("data");
    let daemon = bus.daemon_in(
        CONTACT,
        data.path(),
        &[("DEIXIS_CAPTURE_EXCLUDE_APPS", "keepassxc")],
    );
    let runtime = crate::support::runtime();
    runtime.block_on(async {
        let a = bus.connect().await;
        let b = bus.connect().await;
        let pa = deixis_ipc::Deixis1Proxy::new(&a).await.expect("proxy");
        let pb = deixis_ipc::Deixis1Proxy::new(&b).await.expect("proxy");
        pa.push_tree("app", &tree_json("Tree-Of-A"))
            .await
            .expect("push");
        // B clears "its" tree of the same app id: A's tree stays.
        pb.push_tree("app", "").await.expect("clear");
        let (_, parse, _) = pb.current_screen(HashMap::new()).await.expect("screen");
        assert!(parse.contains("Tree-Of-A"), "{parse}");
        assert!(!parse.contains("Secret-Vault"), "{parse}");
        // A leaves the bus: its tree goes.
        drop(pa);
        a.close().await.expect("close");
        let start = Instant::now();
        loop {
            let (_, parse, _) = pb.current_screen(HashMap::new()).await.expect("screen");
            if !parse.contains("Tree-Of-A") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "A's tree outlived A"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    daemon.stop();
}

#[test]
fn the_committed_introspection_matches_the_running_service() {
    let bus = Bus::start();
    let daemon = bus.daemon(CONTACT);
    let out = bus.busctl(&[
        "call",
        "org.deixis.Deixis1",
        "/org/deixis/Deixis1",
        "org.freedesktop.DBus.Introspectable",
        "Introspect",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // busctl prints `s "<xml>"` with C escapes.
    let reply = String::from_utf8_lossy(&out.stdout).to_string();
    let xml = reply
        .trim()
        .trim_start_matches("s \"")
        .trim_end_matches('"')
        .replace("\\n", "\n")
        .replace("\\\"", "\"");
    let interface = |xml: &str| -> String {
        let start = xml
            .find(r#"<interface name="org.deixis.Deixis1">"#)
            .expect("our interface");
        let end = start + xml[start..].find("</interface>").expect("end") + "</interface>".len();
        xml[start..end]
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let path = crate::support::workspace_root().join("packaging/org.deixis.Deixis1.xml");
    let running = interface(&xml);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let committed = format!(
            "<!DOCTYPE node PUBLIC \"-//freedesktop//DTD D-BUS Object Introspection 1.0//EN\"\n \"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd\">\n<!-- org.deixis.Deixis1 as deixisd serves it at /org/deixis/Deixis1; checked by the tests. -->\n<node>\n{}\n</node>\n",
            xml[xml.find(r#"  <interface name="org.deixis.Deixis1">"#).expect("interface")..]
                .split_inclusive('\n')
                .take_while(|l| !l.contains("org.freedesktop.DBus.Introspectable"))
                .collect::<String>()
                .trim_end()
        );
        std::fs::write(&path, committed).expect("write the introspection");
    }
    let committed = std::fs::read_to_string(&path).expect("packaging/org.deixis.Deixis1.xml");
    assert_eq!(
        interface(&committed),
        running,
        "the interface changed: run with UPDATE_EXPECT=1 and commit packaging/org.deixis.Deixis1.xml"
    );
    daemon.stop();
}

#[test]
fn password_text_is_never_stored_or_served() {
    let bus = Bus::start();
    let data = tempfile::tempdir().expect("data");
    let daemon = bus.daemon_in(
        "parser/testdata/screens/open_email.json",
        data.path(),
        &[
            ("DEIXIS_LOG_CONTENT", "true"),
            ("DEIXIS_LOG_LEVEL", "debug"),
        ],
    );
    let out = bus.call("CurrentScreen", "a{sv}", &["0"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("hunter2"), "{}", text(&out));
    let out = bus.resolve("type the master password", &[]);
    assert!(out.status.success() && !text(&out).contains("hunter2"));
    // The parse is on disk within sled's flush interval; the password is not.
    std::thread::sleep(Duration::from_millis(1500));
    let bytes = all_bytes(data.path());
    assert!(contains(&bytes, "Meeting on Tuesday") || contains(&bytes, "Tuesday"));
    assert!(!contains(&bytes, "hunter2"));
    let log = daemon.stop();
    assert!(!log.contains("hunter2"), "not even with [log] content on");
}

#[test]
fn sigterm_under_load_answers_or_refuses_every_call_and_exits_cleanly() {
    let bus = Bus::start();
    let daemon = bus.daemon(CONTACT);
    let runtime = crate::support::runtime();
    let pid = daemon.child.id();
    let outcomes = runtime.block_on(async {
        let conn = bus.connect().await;
        let answered = std::sync::Arc::new(tokio::sync::Notify::new());
        let mut calls = Vec::new();
        for n in 0..100 {
            let conn = conn.clone();
            let signal = answered.clone();
            calls.push(tokio::spawn(async move {
                let proxy = deixis_ipc::Deixis1Proxy::new(&conn).await.expect("proxy");
                let q = if n % 2 == 0 {
                    "email her"
                } else {
                    "call her work number"
                };
                let outcome =
                    tokio::time::timeout(Duration::from_secs(10), proxy.resolve(q, HashMap::new()))
                        .await
                        .map(|r| r.is_ok());
                if outcome == Ok(true) {
                    signal.notify_one();
                }
                outcome
            }));
            if n == 50 {
                // SIGTERM goes out once the daemon has answered a call, with the rest of the
                // first 50 still in flight. Sending it straight after spawning raced the
                // tasks on a loaded machine: no call had reached the daemon yet, every one
                // was refused, and the test could not tell serving from refusing.
                let _ = tokio::time::timeout(Duration::from_secs(10), answered.notified()).await;
                let _ = Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
        }
        let mut out = Vec::new();
        for c in calls {
            out.push(c.await.expect("task"));
        }
        out
    });
    // Every call got an answer or an error; none hung.
    assert!(
        outcomes.iter().all(|o| o.is_ok()),
        "a call hung: {outcomes:?}"
    );
    assert!(outcomes.contains(&Ok(true)));
    let mut daemon = daemon;
    let status = daemon.child.wait().expect("wait");
    assert!(status.success(), "{}", daemon.log());
}

#[test]
fn the_daemon_answers_with_a_trained_model_and_falls_back_to_the_baseline_without_one() {
    let tmp = tempfile::tempdir().expect("dir");
    let model = crate::support::tiny_model(tmp.path());
    let bus = Bus::start();
    let data = tempfile::tempdir().expect("data");
    let path = model.to_str().expect("utf-8");
    let daemon = bus.daemon_in(
        CONTACT,
        data.path(),
        &[
            ("DEIXIS_MODEL_RESOLVER", "model"),
            ("DEIXIS_MODEL_PATH", path),
        ],
    );
    let model_property = || {
        text(&bus.busctl(&[
            "get-property",
            "org.deixis.Deixis1",
            "/org/deixis/Deixis1",
            "org.deixis.Deixis1",
            "Model",
        ]))
    };
    assert_eq!(model_property(), "s \"model\"\n");
    let out = bus.resolve("call her work number", &["max_results", "u", "100"]);
    let reply = text(&out);
    assert!(out.status.success(), "{reply}");
    // Every candidate of the contact card comes back ranked, with a probability.
    assert!(reply.starts_with("aa{sv} "), "{reply}");
    assert!(reply.matches(r#""score" d "#).count() > 10, "{reply}");
    let log = daemon.stop();
    assert!(!log.contains("cannot"), "{log}");

    // A model directory that does not load: the log says so, the baseline answers.
    let data = tempfile::tempdir().expect("data");
    let daemon = bus.daemon_in(
        CONTACT,
        data.path(),
        &[
            ("DEIXIS_MODEL_RESOLVER", "model"),
            ("DEIXIS_MODEL_PATH", "/nonexistent"),
        ],
    );
    assert_eq!(model_property(), "s \"baseline\"\n");
    let out = bus.resolve("call her work number", &["max_results", "u", "1"]);
    assert!(text(&out).contains(r#""id" s "44""#), "{}", text(&out));
    let log = daemon.stop();
    assert!(
        log.contains("cannot load the model /nonexistent") && log.contains("the baseline answers"),
        "{log}"
    );
}
