//! `cargo run --release`: opens the writer and the reader as two separate
//! processes, side by side, with a sample image already chosen in the writer
//! (unless the writer remembers the one chosen last time).
//!
//! Run with no arguments it starts two copies of itself, `writer` and `reader`;
//! each copy runs one app on the default mapping `shm-exchange`. Arguments after
//! the role are ignored; for options, run the `shm-writer` and `shm-reader`
//! binaries instead.

use std::process::{Command, ExitCode};

/// The image chosen at start (a 1920x1080 photograph from assets/).
const SAMPLE_IMAGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/coffee-1920x1080.png");

fn main() -> ExitCode {
    // As the apps do: RUST_LOG=info by default, so the reader's line per
    // displayed frame (with its latency) appears here too.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("writer") => exit_code(shm_writer::run(
            shm_writer::WriterSettings {
                fallback_image: Some(SAMPLE_IMAGE.into()),
                ..Default::default()
            },
            Some([0.0, 0.0]),
        )),
        Some("reader") => exit_code(shm_reader::run(
            shm_reader::ReaderSettings::default(),
            Some([780.0, 0.0]),
        )),
        Some(other) => {
            eprintln!(
                "shm-exchange: unknown role {other:?}; run with no arguments, or `writer` or `reader`"
            );
            ExitCode::from(2)
        }
        None => launch_both(),
    }
}

fn exit_code(result: eframe::Result) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shm-exchange: cannot open the window: {e}");
            ExitCode::from(1)
        }
    }
}

fn launch_both() -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("shm-exchange: cannot find my own executable: {e}");
            return ExitCode::from(1);
        }
    };
    let mut children = Vec::new();
    for role in ["writer", "reader"] {
        match Command::new(&exe).arg(role).spawn() {
            Ok(child) => children.push((role, child)),
            Err(e) => {
                eprintln!("shm-exchange: cannot start the {role}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    let mut code = ExitCode::SUCCESS;
    for (role, mut child) in children {
        match child.wait() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("shm-exchange: the {role} exited with {status}");
                code = ExitCode::from(1);
            }
            Err(e) => {
                eprintln!("shm-exchange: lost the {role}: {e}");
                code = ExitCode::from(1);
            }
        }
    }
    code
}
