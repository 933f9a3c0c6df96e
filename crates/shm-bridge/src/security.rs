//! TLS, mutual TLS and user/password authentication from the bridge's
//! options (Zenoh's `transport/link/tls` and `transport/auth/usrpwd`), and the
//! rule that a listener other machines can reach must authenticate its peers
//! or be declared `--insecure`.

use std::net::IpAddr;
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};

use crate::{SecurityArgs, set};

/// Puts the security options into `config`, then checks its listeners.
///
/// # Errors
/// A file that cannot be read, an empty password, or a listener reachable
/// from other machines without authentication (unless `--insecure`).
pub(crate) fn apply(args: &SecurityArgs, config: &mut zenoh::Config) -> anyhow::Result<()> {
    let tls = "transport/link/tls";
    if let Some(ca) = &args.tls_root_ca {
        set_file(
            config,
            &format!("{tls}/root_ca_certificate"),
            "--tls-root-ca",
            ca,
        )?;
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        for side in ["listen", "connect"] {
            set_file(
                config,
                &format!("{tls}/{side}_certificate"),
                "--tls-cert",
                cert,
            )?;
            set_file(
                config,
                &format!("{tls}/{side}_private_key"),
                "--tls-key",
                key,
            )?;
        }
    }
    if args.mtls {
        set(config, &format!("{tls}/enable_mtls"), "true")?;
    }
    let usrpwd = "transport/auth/usrpwd";
    if let (Some(user), Some(password_file)) = (&args.user, &args.password_file) {
        let text = std::fs::read_to_string(password_file)
            .with_context(|| format!("--password-file {}", password_file.display()))?;
        let password = text.lines().next().unwrap_or("").trim();
        if user.is_empty() || password.is_empty() || user.contains(':') {
            bail!(
                "--user and the first line of --password-file {} must not be empty (and a user name holds no ':')",
                password_file.display()
            );
        }
        set(config, &format!("{usrpwd}/user"), &json_string(user))?;
        set(
            config,
            &format!("{usrpwd}/password"),
            &json_string(password),
        )?;
    }
    if let Some(users) = &args.users_file {
        // Zenoh takes a file without entries as "no authentication": refuse it.
        let text = std::fs::read_to_string(users)
            .with_context(|| format!("--users-file {}", users.display()))?;
        let entries = text
            .lines()
            .filter_map(|line| line.trim().split_once(':'))
            .filter(|(user, password)| !user.is_empty() && !password.is_empty())
            .count();
        if entries == 0 {
            bail!(
                "--users-file {} holds no `user:password` line: it would let everyone in",
                users.display()
            );
        }
        set_file(
            config,
            &format!("{usrpwd}/dictionary_file"),
            "--users-file",
            users,
        )?;
    }
    if !args.insecure {
        // Peers found by scouting (multicast, gossip) would be connected to
        // over whatever locator they announce, authenticated or not: only the
        // endpoints given are used.
        for key in [
            "scouting/multicast/autoconnect",
            "scouting/gossip/autoconnect",
        ] {
            set(config, key, "[]")?;
        }
    }
    check_listeners(config, args.insecure)
}

/// A JSON string literal for `text`.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Checks that `path` can be read, then sets `key` to it (absolute).
fn set_file(
    config: &mut zenoh::Config,
    key: &str,
    option: &str,
    path: &Path,
) -> anyhow::Result<()> {
    std::fs::File::open(path).with_context(|| format!("{option} {}", path.display()))?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let text = absolute
        .to_str()
        .ok_or_else(|| anyhow!("{option} {}: the path is not UTF-8", path.display()))?;
    set(config, key, &json_string(text))
}

/// The endpoints `config` listens on, for its mode (Zenoh accepts a list, or
/// one list per mode).
fn listen_endpoints(config: &zenoh::Config) -> Vec<String> {
    let Some(endpoints) = config
        .get_json("listen/endpoints")
        .ok()
        .and_then(|json| serde_json::from_str::<serde_json::Value>(&json).ok())
    else {
        return Vec::new();
    };
    let mode = config
        .get_json("mode")
        .ok()
        .and_then(|json| serde_json::from_str::<String>(&json).ok())
        .unwrap_or_else(|| "peer".to_owned());
    let list = match &endpoints {
        serde_json::Value::Object(per_mode) => per_mode.get(&mode).cloned().unwrap_or_default(),
        other => other.clone(),
    };
    list.as_array()
        .map(|list| {
            list.iter()
                .filter_map(|e| e.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `endpoint` (`PROTOCOL/HOST:PORT`, perhaps with `#config` or
/// `?metadata`) listens on a loopback address only.
fn is_loopback(endpoint: &str) -> bool {
    let address = endpoint
        .split(['#', '?'])
        .next()
        .unwrap_or("")
        .split_once('/')
        .map_or("", |(_, address)| address);
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses listeners other machines reach without authentication: a `tls/`
/// listener with mutual TLS authenticates its peers, and user/password
/// (a users file) authenticates on every link.
fn check_listeners(config: &zenoh::Config, insecure: bool) -> anyhow::Result<()> {
    let is_true = |key: &str| config.get_json(key).is_ok_and(|json| json.trim() == "true");
    let mtls = is_true("transport/link/tls/enable_mtls");
    let users = config
        .get_json("transport/auth/usrpwd/dictionary_file")
        .is_ok_and(|json| json.trim() != "null");
    let exposed: Vec<String> = listen_endpoints(config)
        .into_iter()
        .filter(|endpoint| {
            let authenticated = users || (mtls && endpoint.starts_with("tls/"));
            !authenticated && !is_loopback(endpoint)
        })
        .collect();
    if exposed.is_empty() {
        return Ok(());
    }
    let what = format!(
        "listening on {} without authentication: any host that reaches it can connect to this bridge (publish into a subscriber's mapping, or read a publisher's frames)",
        exposed.join(", ")
    );
    if insecure {
        log::warn!("{what} (--insecure)");
        return Ok(());
    }
    bail!(
        "{what}; authenticate peers (tls/ endpoints with --tls-root-ca, --tls-cert, --tls-key and --mtls, or --users-file), listen on a loopback address, or pass --insecure"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints() {
        for endpoint in [
            "tcp/127.0.0.1:7447",
            "tls/localhost:7447",
            "tcp/[::1]:7447",
            "tcp/127.0.0.1:7447#iface=lo",
        ] {
            assert!(is_loopback(endpoint), "{endpoint}");
        }
        for endpoint in [
            "tcp/0.0.0.0:7447",
            "tcp/[::]:0",
            "tls/10.0.0.1:7447",
            "tcp/camera.local:7447",
        ] {
            assert!(!is_loopback(endpoint), "{endpoint}");
        }
    }

    fn config(json5: &str) -> zenoh::Config {
        let mut config = zenoh::Config::default();
        config.insert_json5("listen/endpoints", json5).unwrap();
        config
    }

    #[test]
    fn an_exposed_listener_needs_authentication_or_insecure() {
        let exposed = config(r#"["tcp/0.0.0.0:7447"]"#);
        let err = check_listeners(&exposed, false).unwrap_err().to_string();
        assert!(
            err.contains("listening on tcp/0.0.0.0:7447 without authentication"),
            "{err}"
        );
        assert!(err.contains("--insecure"), "{err}");
        check_listeners(&exposed, true).unwrap();
        check_listeners(&config(r#"["tcp/127.0.0.1:7447"]"#), false).unwrap();
        // Zenoh's own default (every interface, any port) counts too.
        let err = check_listeners(&zenoh::Config::default(), false).unwrap_err();
        assert!(err.to_string().contains("tcp/[::]:0"), "{err}");

        // Mutual TLS authenticates tls/ listeners only; user/password all.
        let mut tls = config(r#"["tls/0.0.0.0:7447", "tcp/0.0.0.0:7448"]"#);
        tls.insert_json5("transport/link/tls/enable_mtls", "true")
            .unwrap();
        let err = check_listeners(&tls, false).unwrap_err().to_string();
        assert!(err.contains("on tcp/0.0.0.0:7448 without"), "{err}");
        let mut users = config(r#"["tcp/0.0.0.0:7448"]"#);
        users
            .insert_json5("transport/auth/usrpwd/dictionary_file", r#""/x""#)
            .unwrap();
        check_listeners(&users, false).unwrap();
    }
}
