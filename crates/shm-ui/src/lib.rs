//! What the `shm-writer` and `shm-reader` windows share: the one-line status,
//! opening a native window, and the `--position X,Y` argument.

use eframe::egui;

pub mod dialog;
pub mod persistent_window;
pub mod task;

/// A one-line message under an app's controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Nothing to say.
    Idle,
    /// Information or success.
    Info(String),
    /// A failure, said once, in one line.
    Error(String),
}

impl Status {
    /// The message text ("" for [`Status::Idle`]).
    pub fn text(&self) -> &str {
        match self {
            Self::Idle => "",
            Self::Info(text) | Self::Error(text) => text,
        }
    }
}

/// Shows `status` in one line: errors in the theme's error colour.
pub fn status_ui(ui: &mut egui::Ui, status: &Status) {
    match status {
        Status::Idle => {}
        Status::Info(text) => {
            ui.label(text);
        }
        Status::Error(text) => {
            ui.colored_label(ui.visuals().error_fg_color, text);
        }
    }
}

/// Parses `--position X,Y` (screen points) for clap's `value_parser`.
///
/// # Errors
/// A message naming what was wrong: not two comma-separated numbers.
pub fn parse_position(text: &str) -> Result<[f32; 2], String> {
    let numbers: Vec<&str> = text.split(',').collect();
    let [x, y] = numbers[..] else {
        return Err(format!(
            "needs X,Y (two numbers), got {} value(s) in {text:?}",
            numbers.len()
        ));
    };
    let parse = |s: &str| {
        s.trim()
            .parse::<f32>()
            .map_err(|_| format!("{s:?} is not a number (expected X,Y, e.g. 780,0)"))
    };
    Ok([parse(x)?, parse(y)?])
}

/// How to open an app's window.
#[derive(Debug, Clone)]
pub struct WindowSpec {
    /// Title (also what end-to-end tests search for).
    pub title: &'static str,
    /// Inner size in points.
    pub inner_size: [f32; 2],
    /// Whether files can be dropped on it.
    pub drag_and_drop: bool,
    /// Top-left corner in screen points; `None` lets the window manager choose.
    pub position: Option<[f32; 2]>,
}

/// Opens a native window running the app `make_app` builds (once the window
/// exists) until it is closed.
///
/// # Errors
/// When no window can be created (no display, no GPU or software renderer).
pub fn run_window<A: eframe::App + 'static>(
    spec: WindowSpec,
    make_app: impl FnOnce() -> A + 'static,
) -> eframe::Result {
    persistent_window::run_persistent_window(spec, move |_storage| make_app())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_and_bad_ones_say_why() {
        assert_eq!(parse_position("780,0"), Ok([780.0, 0.0]));
        assert_eq!(parse_position(" 1.5 , -2 "), Ok([1.5, -2.0]));
        assert!(parse_position("780").unwrap_err().contains("got 1 value"));
        assert!(parse_position("1,2,3").unwrap_err().contains("got 3 value"));
        assert!(
            parse_position("a,2")
                .unwrap_err()
                .contains("\"a\" is not a number")
        );
    }
}

/// An error and its sources as one line, `: `-separated (as anyhow's `{:#}`
/// prints them): library errors keep their OS cause as a source rather than in
/// their own message, so a bare `to_string()` would lose it.
pub fn error_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod error_line_tests {
    #[test]
    fn joins_an_error_and_its_sources_on_one_line() {
        let err = shm_core::OpenError::Io {
            action: "mmap",
            source: std::io::Error::from_raw_os_error(12),
            path: "/dev/shm/x".into(),
        };
        let line = super::error_line(&err);
        assert!(line.starts_with("mmap failed: /dev/shm/x: "), "{line}");
        assert!(line.contains("Cannot allocate memory"), "{line}");
        assert!(!line.contains('\n'));
    }
}
