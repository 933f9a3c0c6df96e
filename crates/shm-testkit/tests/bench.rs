//! `shm-bench` runs every transport at every size across two processes, and
//! every payload the peers received was whole (they check it and fail otherwise).

use std::process::Command;

use serde_json::Value;

#[test]
fn bench_quick_json_has_every_transport_and_size() {
    let out = Command::new(env!("CARGO_BIN_EXE_shm-bench"))
        .args(["--quick", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    for size in [48u64, 65_536, 1_048_576, 10_485_760] {
        for (transport, mode) in [
            ("memcpy", "-"),
            ("shm", "crc-off-copy"),
            ("shm", "crc-on-copy"),
            ("shm", "spin"),
            ("shm", "loan-in-place"),
            ("iceoryx2", "copy"),
            ("iceoryx2", "spin-copy"),
            ("iceoryx2", "loan-in-place"),
            ("uds", "-"),
            ("pipe", "-"),
            ("tcp", "-"),
        ] {
            let row = rows
                .iter()
                .find(|r| {
                    r["transport"] == transport && r["mode"] == mode && r["size_bytes"] == size
                })
                .unwrap_or_else(|| panic!("no row for {transport} {mode} {size}"));
            let (p50, p99) = (
                row["p50_us"].as_f64().unwrap(),
                row["p99_us"].as_f64().unwrap(),
            );
            assert!(p50 > 0.0 && p99 >= p50, "{row}");
        }
    }
    eprintln!("shm-bench --quick --json: {} rows", rows.len());
}
