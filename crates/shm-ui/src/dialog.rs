//! Whether a native file dialog can be shown here.

/// rfd 0.17 with its default features asks the XDG desktop portal (over the
/// D-Bus session bus) and falls back to `zenity`; with neither, a dialog
/// returns `None` at once, which would look like a silent no-op. Apps check
/// this first and say what to do instead.
pub fn file_dialog_available() -> bool {
    let has_session_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    let has_zenity = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("zenity").is_file()));
    has_session_bus || has_zenity
}
