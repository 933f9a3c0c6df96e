//! Opening a window whose app restores its settings from eframe's storage
//! (the `persistence` feature of eframe, enabled by the app's crate).

use std::cell::RefCell;
use std::rc::Rc;

use crate::WindowSpec;

/// Opens a native window like [`crate::run_window`], handing `make_app`
/// eframe's storage (`None` when the app's crate does not enable eframe's
/// `persistence` feature or no storage folder exists), so the app can restore
/// what it remembered; eframe stores under `$XDG_DATA_HOME` (or
/// `~/.local/share`) in a folder named after the title.
///
/// # Errors
/// When no window can be created (no display, no GPU or software renderer).
pub fn run_persistent_window<A: eframe::App + 'static>(
    spec: WindowSpec,
    make_app: impl FnOnce(Option<&dyn eframe::Storage>) -> A + 'static,
) -> eframe::Result {
    let mut viewport = eframe::egui::ViewportBuilder::default()
        .with_title(spec.title)
        .with_inner_size(spec.inner_size)
        .with_drag_and_drop(spec.drag_and_drop);
    if let Some(position) = spec.position {
        viewport = viewport.with_position(position);
    }
    let options = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    // Made once, by whichever renderer gets a window: a renderer that fails
    // fails before it makes the app.
    let make_app = Rc::new(RefCell::new(Some(make_app)));
    let result = eframe::run_native(spec.title, options.clone(), creator(make_app.clone()));
    #[cfg(windows)]
    if let Err(error) = &result
        && make_app.borrow().is_some()
    {
        // wgpu finds no adapter or device where there is no usable GPU driver
        // (Wine, old drivers, remote desktops): OpenGL, as eframe's glow
        // renderer draws it, still works there.
        eprintln!(
            "{}: wgpu could not draw ({error}); falling back to OpenGL (glow)",
            spec.title
        );
        let options = eframe::NativeOptions {
            renderer: eframe::Renderer::Glow,
            ..options
        };
        return eframe::run_native(spec.title, options, creator(make_app));
    }
    result
}

/// An [`eframe::Storage`] kept in memory only: settings live as long as the
/// value. For tests (they must never read or write the user's settings) and
/// for runs that should remember nothing.
#[derive(Debug, Default)]
pub struct MemoryStorage(std::collections::HashMap<String, String>);

impl eframe::Storage for MemoryStorage {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }
    fn flush(&mut self) {}
}

/// An app creator that takes `make_app` out of its cell: the first renderer
/// that gets a window makes the app.
fn creator<A, F>(make_app: Rc<RefCell<Option<F>>>) -> eframe::AppCreator<'static>
where
    A: eframe::App + 'static,
    F: FnOnce(Option<&dyn eframe::Storage>) -> A + 'static,
{
    Box::new(move |cc| {
        let make_app = make_app
            .borrow_mut()
            .take()
            .ok_or("the app was made already")?;
        Ok(Box::new(make_app(cc.storage)) as Box<dyn eframe::App>)
    })
}
