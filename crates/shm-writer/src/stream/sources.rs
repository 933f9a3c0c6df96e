//! The sources besides the test pattern: a folder's images, an animated
//! GIF's frames with their delays.

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::AnimationDecoder as _;
use shm_core::picture;

use super::worker::DecodedFrame;

/// The image files of `folder` (by extension), sorted by name.
///
/// # Errors
/// A one-line message when the folder cannot be read or holds no images.
pub fn folder_images(folder: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| format!("cannot read the folder {}: {e}", folder.display()))?;
    let mut images: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path.extension().is_some_and(|ext| {
                    picture::IMAGE_EXTENSIONS
                        .iter()
                        .any(|known| ext.eq_ignore_ascii_case(known))
                })
        })
        .collect();
    images.sort();
    if images.is_empty() {
        return Err(format!(
            "no images in the folder {} (looked for .{})",
            folder.display(),
            picture::IMAGE_EXTENSIONS.join(", .")
        ));
    }
    Ok(images)
}

/// The frames of an animated GIF, decoded one by one as the caller takes them.
///
/// # Errors
/// A one-line message when the file cannot be opened or is not a GIF.
pub(super) fn gif_frames(
    path: &Path,
) -> Result<impl Iterator<Item = Result<DecodedFrame, String>>, String> {
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot open the GIF {}: {e}", path.display()))?;
    let decoder = image::codecs::gif::GifDecoder::new(std::io::BufReader::new(file))
        .map_err(|e| format!("{} is not a readable GIF: {e}", path.display()))?;
    let path_text = path.display().to_string();
    let described = path.display().to_string();
    Ok(decoder
        .into_frames()
        .enumerate()
        .map(move |(index, frame)| {
            let frame = frame.map_err(|e| {
                format!(
                    "cannot decode frame {} of the GIF {described}: {e}",
                    index + 1
                )
            })?;
            Ok(DecodedFrame {
                path: format!("{path_text}#{}", index + 1),
                delay: Some(gif_delay(Duration::from(frame.delay()))),
                rgba: frame.into_buffer(),
            })
        }))
}

/// A GIF frame's delay as browsers play it: 10 ms or less (many GIFs say 0)
/// means 100 ms.
pub(super) fn gif_delay(delay: Duration) -> Duration {
    if delay <= Duration::from_millis(10) {
        Duration::from_millis(100)
    } else {
        delay
    }
}
