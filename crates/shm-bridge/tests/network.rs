//! The bridge between two hosts: two network namespaces joined by a veth pair
//! (`ip netns`, root only, so these tests are `#[ignore]`d in a plain `cargo
//! test`; `.ci/run` runs them with `--ignored`). The publisher runs in one
//! namespace, the subscriber in the other; frames flow over TLS with mutual
//! TLS, or over TCP with user/password authentication, and a peer without
//! the right certificate or password is refused and writes nothing into B.
//! Certificates are made by the test with the `openssl` command.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shm_core::{Mapping, MappingName, Payload, WriteOptions};

const BRIDGE: &str = env!("CARGO_BIN_EXE_shm-bridge");
const ASSETS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets");

/// Runs `program args...` and fails the test with its stderr if it fails.
fn must(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program}: {e} (the tests need iproute2 and openssl, and root)")
        });
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two hosts: namespaces A and B, joined by a veth pair, addresses
/// 10.X.Y.1 (A) and 10.X.Y.2 (B). Removed when dropped.
struct Hosts {
    a: String,
    b: String,
    a_ip: String,
    b_ip: String,
}

impl Hosts {
    fn new(tag: &str) -> Self {
        let id = std::process::id();
        let (a, b) = (format!("shmA{tag}{id}"), format!("shmB{tag}{id}"));
        let (veth_a, veth_b) = (
            format!("va{tag}{}", id % 100_000),
            format!("vb{tag}{}", id % 100_000),
        );
        let subnet = format!("10.{}.{}", 100 + id % 100, (id / 100) % 250);
        let hosts = Self {
            a: a.clone(),
            b: b.clone(),
            a_ip: format!("{subnet}.1"),
            b_ip: format!("{subnet}.2"),
        };
        // (From here on, a failed step drops `hosts`, which deletes them.)
        let _ = Command::new("ip").args(["netns", "del", &a]).output();
        let _ = Command::new("ip").args(["netns", "del", &b]).output();
        must("ip", &["netns", "add", &a]);
        must("ip", &["netns", "add", &b]);
        must(
            "ip",
            &[
                "link", "add", &veth_a, "netns", &a, "type", "veth", "peer", "name", &veth_b,
                "netns", &b,
            ],
        );
        for (ns, dev, ip) in [(&a, &veth_a, &hosts.a_ip), (&b, &veth_b, &hosts.b_ip)] {
            must(
                "ip",
                &["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", dev],
            );
            must("ip", &["-n", ns, "link", "set", dev, "up"]);
            must("ip", &["-n", ns, "link", "set", "lo", "up"]);
        }
        hosts
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of the veth pair, and the pair.
        let _ = Command::new("ip").args(["netns", "del", &self.a]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.b]).output();
    }
}

fn scratch(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("network-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A certificate authority made with openssl (EC P-256), and leaf
/// certificates it signs for the given IP addresses.
struct Authority {
    dir: PathBuf,
    name: String,
}

impl Authority {
    fn new(dir: &Path, name: &str) -> Self {
        let key = dir.join(format!("{name}.key"));
        let cert = dir.join(format!("{name}.pem"));
        must(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                key.to_str().unwrap(),
                "-out",
                cert.to_str().unwrap(),
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Self {
            dir: dir.to_owned(),
            name: name.to_owned(),
        }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join(format!("{}.pem", self.name))
    }

    /// A leaf certificate and key for `common_name` at `ip` (server and
    /// client use), signed by this authority.
    fn issue(&self, common_name: &str, ip: &str) -> (PathBuf, PathBuf) {
        let key = self.dir.join(format!("{common_name}.key"));
        let csr = self.dir.join(format!("{common_name}.csr"));
        let cert = self.dir.join(format!("{common_name}.pem"));
        let ext = self.dir.join(format!("{common_name}.ext"));
        std::fs::write(
            &ext,
            format!(
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
                 extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:{ip},DNS:localhost\n"
            ),
        )
        .unwrap();
        must(
            "openssl",
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                key.to_str().unwrap(),
                "-out",
                csr.to_str().unwrap(),
                "-subj",
                &format!("/CN={common_name}"),
            ],
        );
        must(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                csr.to_str().unwrap(),
                "-CA",
                self.cert().to_str().unwrap(),
                "-CAkey",
                self.dir
                    .join(format!("{}.key", self.name))
                    .to_str()
                    .unwrap(),
                "-CAcreateserial",
                "-out",
                cert.to_str().unwrap(),
                "-days",
                "2",
                "-extfile",
                ext.to_str().unwrap(),
            ],
        );
        (cert, key)
    }
}

/// A bridge process in a namespace; killed when dropped.
struct Bridge {
    child: Child,
}

impl Bridge {
    /// A bridge that runs until the test ends (its log is not kept: an
    /// unread pipe could fill and stop it).
    fn start(namespace: &str, args: &[String]) -> Self {
        Self::spawn(namespace, args, Stdio::null())
    }

    /// A bridge expected to exit by itself; [`Bridge::finish`] reads its log.
    fn start_logged(namespace: &str, args: &[String]) -> Self {
        Self::spawn(namespace, args, Stdio::piped())
    }

    fn spawn(namespace: &str, args: &[String], stderr: Stdio) -> Self {
        let child = Command::new("ip")
            .args(["netns", "exec", namespace, BRIDGE])
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Self { child }
    }

    /// Waits (at most 60 s) for the process to end by itself; returns its exit
    /// status and stderr.
    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the bridge did not exit within 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        for line in BufReader::new(self.child.stderr.take().unwrap()).lines() {
            stderr.push_str(&line.unwrap());
            stderr.push('\n');
        }
        (status, stderr)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn path(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

/// A mapping name for this test, removed when dropped.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Self {
        let name = format!("net-{tag}-{}", std::process::id());
        let _ = std::fs::remove_file(format!("/dev/shm/{name}"));
        Self(name)
    }

    fn mapping_name(&self) -> MappingName {
        MappingName::new(&self.0).unwrap()
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.0));
    }
}

/// Waits (at most 60 s) until mapping `name` exists and holds an image whose
/// path is `path`; returns its frame number there.
fn wait_for_image(name: &Name, path: &str) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            Instant::now() < deadline,
            "{path} never reached mapping {}",
            name.0
        );
        let Ok(mapping) = Mapping::open_existing(&name.mapping_name()) else {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let mut after = 0;
        while Instant::now() < deadline {
            match mapping.wait_for_frame(after, Some(Duration::from_millis(200))) {
                Ok(frame) => {
                    if let Ok(Payload::Image(record)) = frame.decode()
                        && record.path == path
                    {
                        return frame.number();
                    }
                    after = frame.seq;
                }
                Err(_) => continue,
            }
        }
    }
}

/// Sends a real photograph into mapping `name` (created) under `path_text`.
fn send_photo(name: &Name, file: &str, path_text: &str) -> Mapping {
    let mapping = Mapping::create_or_open(&name.mapping_name(), 4 << 20).unwrap();
    let bytes = std::fs::read(Path::new(ASSETS).join(file)).unwrap();
    mapping
        .send_image(path_text, &bytes, &WriteOptions::default())
        .unwrap();
    mapping
}

/// A Zenoh config file for a peer that must connect or fail: `zenoh::open`
/// then returns an error when the other side refuses it, and the bridge
/// exits 1 saying so (instead of retrying in the background). It listens
/// nowhere.
fn must_connect_config(dir: &Path) -> PathBuf {
    let file = dir.join("must-connect.json5");
    std::fs::write(
        &file,
        "{ listen: { endpoints: [] }, connect: { timeout_ms: 5000, exit_on_failure: true } }\n",
    )
    .unwrap();
    file
}

/// A publisher that B must refuse: it publishes mapping `mapping` (which
/// holds a frame) from `namespace` to B's `endpoint`.
struct Stranger<'a> {
    namespace: &'a str,
    key: &'a str,
    mapping: &'a Name,
    endpoint: &'a str,
    dir: &'a Path,
}

impl Stranger<'_> {
    /// Runs it with `credentials` and checks that it could not open a session
    /// (it exits, saying so) and that B's frame number stayed `b_frame`.
    fn is_refused(&self, credentials: &[String], b: &Mapping, b_frame: u64) {
        let mut all = args(&["publish", "--key", self.key, "--name", &self.mapping.0]);
        all.extend(args(&[
            "--connect",
            self.endpoint,
            "--no-multicast-scouting",
        ]));
        all.extend(["--config".to_owned(), path(&must_connect_config(self.dir))]);
        all.extend_from_slice(credentials);
        let (status, stderr) = Bridge::start_logged(self.namespace, &all).finish();
        assert!(!status.success(), "{credentials:?} was let in: {stderr}");
        assert!(
            stderr.contains("cannot start the Zenoh session"),
            "{stderr}"
        );
        assert_eq!(b.seq() / 2, b_frame, "B got a frame from {credentials:?}");
    }
}

#[test]
#[ignore = "needs root (network namespaces); .ci/run runs it"]
fn mutual_tls_between_hosts_and_a_stranger_is_refused() {
    let hosts = Hosts::new("t");
    let dir = scratch("tls");
    let ca = Authority::new(&dir, "lab-ca");
    let (b_cert, b_key) = ca.issue("viewer-b", &hosts.b_ip);
    let (a_cert, a_key) = ca.issue("camera-a", &hosts.a_ip);
    let stranger_ca = Authority::new(&dir, "other-ca");
    let (s_cert, s_key) = stranger_ca.issue("stranger", &hosts.a_ip);
    let (a, b, c) = (Name::new("tls-a"), Name::new("tls-b"), Name::new("tls-c"));
    let endpoint = format!("tls/{}:7447", hosts.b_ip);
    let key = "lab/camera1";

    let _a_mapping = send_photo(&a, "grace-hopper.jpg", "/lab/from-a.jpg");
    let _subscriber = Bridge::start(
        &hosts.b,
        &args(&[
            "subscribe",
            "--key",
            key,
            "--name",
            &b.0,
            "--listen",
            &endpoint,
            "--no-multicast-scouting",
            "--tls-root-ca",
            &path(&ca.cert()),
            "--tls-cert",
            &path(&b_cert),
            "--tls-key",
            &path(&b_key),
            "--mtls",
        ]),
    );
    let _publisher = Bridge::start(
        &hosts.a,
        &args(&[
            "publish",
            "--key",
            key,
            "--name",
            &a.0,
            "--connect",
            &endpoint,
            "--no-multicast-scouting",
            "--tls-root-ca",
            &path(&ca.cert()),
            "--tls-cert",
            &path(&a_cert),
            "--tls-key",
            &path(&a_key),
            "--mtls",
        ]),
    );
    // A's frame crosses from namespace A to namespace B over mutual TLS.
    let b_frame = wait_for_image(&b, "/lab/from-a.jpg");
    let b_mapping = Mapping::open_existing(&b.mapping_name()).unwrap();
    let frame = b_mapping.read_frame().unwrap();
    let Payload::Image(record) = frame.decode().unwrap() else {
        panic!()
    };
    assert_eq!(
        record.image,
        std::fs::read(Path::new(ASSETS).join("grace-hopper.jpg")).unwrap()
    );

    // A stranger: the lab's CA to check B, but its own certificate from
    // another CA. B refuses it: its bridge cannot open a session and exits.
    let _c_mapping = send_photo(&c, "rocket.jpg", "/stranger/rocket.jpg");
    let stranger = Stranger {
        namespace: &hosts.a,
        key,
        mapping: &c,
        endpoint: &endpoint,
        dir: &dir,
    };
    stranger.is_refused(
        &[
            "--tls-root-ca".to_owned(),
            path(&ca.cert()),
            "--tls-cert".to_owned(),
            path(&s_cert),
            "--tls-key".to_owned(),
            path(&s_key),
            "--mtls".to_owned(),
        ],
        &b_mapping,
        b_frame,
    );

    // A stranger with no certificate at all is refused the same way.
    let stranger = Stranger {
        namespace: &hosts.a,
        key,
        mapping: &c,
        endpoint: &endpoint,
        dir: &dir,
    };
    stranger.is_refused(
        &["--tls-root-ca".to_owned(), path(&ca.cert())],
        &b_mapping,
        b_frame,
    );
}

#[test]
#[ignore = "needs root (network namespaces); .ci/run runs it"]
fn user_and_password_between_hosts_and_a_wrong_password_is_refused() {
    let hosts = Hosts::new("p");
    let dir = scratch("usrpwd");
    std::fs::write(
        dir.join("users"),
        "camera-a:correct horse\nviewer-b:battery staple\n",
    )
    .unwrap();
    std::fs::write(dir.join("a.password"), "correct horse\n").unwrap();
    std::fs::write(dir.join("b.password"), "battery staple\n").unwrap();
    std::fs::write(dir.join("wrong.password"), "incorrect horse\n").unwrap();
    let (a, b, c) = (Name::new("pw-a"), Name::new("pw-b"), Name::new("pw-c"));
    let endpoint = format!("tcp/{}:7448", hosts.b_ip);
    let key = "lab/camera2";
    let users = path(&dir.join("users"));

    let _a_mapping = send_photo(&a, "grace-hopper.jpg", "/lab/from-a.jpg");
    let _subscriber = Bridge::start(
        &hosts.b,
        &args(&[
            "subscribe",
            "--key",
            key,
            "--name",
            &b.0,
            "--listen",
            &endpoint,
            "--no-multicast-scouting",
            "--users-file",
            &users,
            "--user",
            "viewer-b",
            "--password-file",
            &path(&dir.join("b.password")),
        ]),
    );
    let _publisher = Bridge::start(
        &hosts.a,
        &args(&[
            "publish",
            "--key",
            key,
            "--name",
            &a.0,
            "--connect",
            &endpoint,
            "--no-multicast-scouting",
            "--users-file",
            &users,
            "--user",
            "camera-a",
            "--password-file",
            &path(&dir.join("a.password")),
        ]),
    );
    let b_frame = wait_for_image(&b, "/lab/from-a.jpg");
    let b_mapping = Mapping::open_existing(&b.mapping_name()).unwrap();

    let _c_mapping = send_photo(&c, "rocket.jpg", "/stranger/rocket.jpg");
    let stranger = Stranger {
        namespace: &hosts.a,
        key,
        mapping: &c,
        endpoint: &endpoint,
        dir: &dir,
    };
    stranger.is_refused(
        &[
            "--users-file".to_owned(),
            users.clone(),
            "--user".to_owned(),
            "camera-a".to_owned(),
            "--password-file".to_owned(),
            path(&dir.join("wrong.password")),
        ],
        &b_mapping,
        b_frame,
    );
}
