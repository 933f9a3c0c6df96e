//! Image files: reading them for sending, probing their format and size, and
//! decoding them under a memory limit. Shared by the CLI and both apps so that
//! every one says the same clear thing about bad input.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{
    ColorType, DynamicImage, ImageDecoder as _, ImageFormat, ImageReader, Limits, RgbaImage,
};

use crate::error::WriteError;
use crate::layout::PixelFormat;
use crate::mapping::Mapping;
use crate::payload::PixelLayout;
use crate::writer::{WriteOptions, Written};

/// Formats the apps accept from a file dialog (extensions, lower case).
pub const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff", "ico", "tga", "pnm", "qoi",
];

/// Most memory one decode may hold at once: the decoder's buffers plus the
/// RGBA8 output when converting (1 GiB). The RGBA8 output alone is limited to
/// half of it (512 MiB, about 134 megapixels). A "decompression bomb"
/// declaring more is refused before any pixel is decoded.
pub const MAX_DECODE_MEMORY_BYTES: u64 = 1024 * 1024 * 1024;

/// Largest image decoded, in bytes of RGBA8: half of [`MAX_DECODE_MEMORY_BYTES`].
pub const MAX_DECODED_LEN_BYTES: u64 = MAX_DECODE_MEMORY_BYTES / 2;

/// Largest width or height accepted when decoding, in pixels.
pub const MAX_DIMENSION_PIXELS: u32 = 32_768;

/// An image file read whole, ready to send as an image record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    /// Absolute path of the file.
    pub path: PathBuf,
    /// The file's bytes, unchanged.
    pub bytes: Vec<u8>,
    /// Format and pixel size, read from the file's header.
    pub info: ImageInfo,
}

/// Format and pixel size of an encoded image, from its header alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// The container format.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl ImageInfo {
    /// Lower-case format name, e.g. `png`, `jpeg`.
    pub fn format_name(&self) -> &'static str {
        format_name(self.format)
    }
}

/// Lower-case name of `format`, e.g. `png`, `jpeg`, `webp`.
pub fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Gif => "gif",
        ImageFormat::WebP => "webp",
        ImageFormat::Bmp => "bmp",
        ImageFormat::Tiff => "tiff",
        other => other.extensions_str().first().copied().unwrap_or("image"),
    }
}

/// Why an image file could not be read or decoded.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No such file.
    #[error("no such file; check the path: {}", path.display())]
    NotFound {
        /// The path.
        path: PathBuf,
    },
    /// A directory was given.
    #[error("is a directory; give an image file inside it: {}", path.display())]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The file is empty.
    #[error("file is empty (0 bytes); it is not an image: {}", path.display())]
    Empty {
        /// The path.
        path: PathBuf,
    },
    /// The file is larger than the mapping can hold.
    #[error(
        "image is {len_bytes} bytes but the mapping holds at most {capacity_bytes} bytes; use a larger capacity or a smaller image: {}",
        path.display()
    )]
    TooLarge {
        /// The file's length.
        len_bytes: u64,
        /// The payload capacity available for the image.
        capacity_bytes: u64,
        /// The path.
        path: PathBuf,
    },
    /// The bytes are not an image format we know.
    #[error("not an image (PNG, JPEG, GIF, BMP, WebP, TIFF, ... expected): {}", path.display())]
    NotAnImage {
        /// The path (or the sender's path text).
        path: PathBuf,
    },
    /// The header is readable but decoding failed (truncated, corrupt).
    #[error("cannot decode the {format} image ({reason}); the file may be truncated or corrupt: {}", path.display())]
    Corrupt {
        /// Format name.
        format: &'static str,
        /// The decoder's words.
        reason: String,
        /// The path (or the sender's path text).
        path: PathBuf,
    },
    /// The image declares more pixels than the limit allows.
    #[error(
        "image declares {width}x{height} pixels, over the decoding limit ({MAX_DIMENSION_PIXELS} per side, {MAX_DECODED_LEN_BYTES} bytes of RGBA); refused: {}",
        path.display()
    )]
    TooManyPixels {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The path (or the sender's path text).
        path: PathBuf,
    },
    /// Decoding would need more memory than the image's declared size
    /// explains: a frame, strip or chunk inside it is far larger than the
    /// picture (a decompression bomb in a small header). See [`decoder_budget_bytes`].
    #[error(
        "decoding this {width}x{height} image would need more than {budget_bytes} bytes of memory (it holds a frame or block far larger than the picture it declares); refused: {}",
        path.display()
    )]
    OverMemoryBudget {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// What the decoder was allowed to allocate, in bytes.
        budget_bytes: u64,
        /// The path (or the sender's path text).
        path: PathBuf,
    },
    /// Reading the file failed.
    #[error("cannot read the file: {}", path.display())]
    Io {
        /// The OS error.
        source: std::io::Error,
        /// The path.
        path: PathBuf,
    },
}

/// Reads an image file for sending: checks it exists, is a regular non-empty
/// file no larger than `capacity_bytes`, and starts like a known image format.
/// The size is checked before the file is read, so a 1 GB file costs nothing.
///
/// # Errors
/// [`ImageError::NotFound`], [`ImageError::IsDirectory`], [`ImageError::Empty`],
/// [`ImageError::TooLarge`], [`ImageError::NotAnImage`], [`ImageError::Corrupt`]
/// (header unreadable), [`ImageError::Io`].
pub fn read_image_file(path: &Path, capacity_bytes: u64) -> Result<ImageFile, ImageError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let io = |source: std::io::Error| match source.kind() {
        std::io::ErrorKind::NotFound => ImageError::NotFound { path: path.clone() },
        std::io::ErrorKind::IsADirectory => ImageError::IsDirectory { path: path.clone() },
        _ => ImageError::Io {
            source,
            path: path.clone(),
        },
    };
    let meta = std::fs::metadata(&path).map_err(io)?;
    if meta.is_dir() {
        return Err(ImageError::IsDirectory { path });
    }
    if meta.len() == 0 {
        return Err(ImageError::Empty { path });
    }
    if meta.len() > capacity_bytes {
        return Err(ImageError::TooLarge {
            len_bytes: meta.len(),
            capacity_bytes,
            path,
        });
    }
    let bytes = std::fs::read(&path).map_err(io)?;
    if bytes.is_empty() {
        return Err(ImageError::Empty { path });
    }
    let info = probe(&bytes, &path)?;
    Ok(ImageFile { path, bytes, info })
}

/// Reads format and pixel size from an encoded image's header, without decoding.
///
/// # Errors
/// [`ImageError::NotAnImage`] or [`ImageError::Corrupt`]; `path` is only used
/// in the message.
pub fn probe(bytes: &[u8], path: &Path) -> Result<ImageInfo, ImageError> {
    let format = image::guess_format(bytes).map_err(|_| ImageError::NotAnImage {
        path: path.to_owned(),
    })?;
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| ImageError::Corrupt {
            format: format_name(format),
            reason: e.to_string(),
            path: path.to_owned(),
        })?;
    Ok(ImageInfo {
        format,
        width,
        height,
    })
}

/// What the decoder may allocate for an image whose RGBA8 output is
/// `rgba_len_bytes` long, in bytes: 64 MiB plus four times the output, and never
/// more than [`MAX_DECODE_MEMORY_BYTES`] leaves beside the output. The image's
/// declared size bounds what an honest decoder needs (rows, planes, a GIF frame
/// no larger than its screen); a file whose frames or blocks declare far more
/// (a 566-byte GIF whose 63x4 screen holds one 14648x16225 frame, found by
/// fuzzing: 1.2 GB allocated at once) is refused with
/// [`ImageError::OverMemoryBudget`] instead of allocated.
pub fn decoder_budget_bytes(rgba_len_bytes: u64) -> u64 {
    const BASE_BYTES: u64 = 64 * 1024 * 1024;
    let beside_output = MAX_DECODE_MEMORY_BYTES.saturating_sub(rgba_len_bytes);
    BASE_BYTES
        .saturating_add(rgba_len_bytes.saturating_mul(4))
        .min(beside_output)
}

/// One image's header and the memory its decoder may use.
struct Limited {
    info: ImageInfo,
    budget_bytes: u64,
}

/// An image reader over bytes in memory.
type BytesReader<'a> = ImageReader<Cursor<&'a [u8]>>;

/// A reader for `bytes` with the decoding limits set, after checking the
/// declared size against them: a small file declaring 100000x100000 pixels is
/// refused at once. The decoder may allocate [`decoder_budget_bytes`].
fn limited_reader<'a>(
    bytes: &'a [u8],
    path: &Path,
) -> Result<(BytesReader<'a>, Limited), ImageError> {
    let info = probe(bytes, path)?;
    let rgba_len_bytes = u64::from(info.width) * u64::from(info.height) * 4;
    if info.width > MAX_DIMENSION_PIXELS
        || info.height > MAX_DIMENSION_PIXELS
        || rgba_len_bytes > MAX_DECODED_LEN_BYTES
    {
        return Err(too_many_pixels(&info, path));
    }
    let budget_bytes = decoder_budget_bytes(rgba_len_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), info.format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION_PIXELS);
    limits.max_image_height = Some(MAX_DIMENSION_PIXELS);
    limits.max_alloc = Some(budget_bytes);
    reader.limits(limits);
    Ok((reader, Limited { info, budget_bytes }))
}

fn too_many_pixels(info: &ImageInfo, path: &Path) -> ImageError {
    ImageError::TooManyPixels {
        width: info.width,
        height: info.height,
        path: path.to_owned(),
    }
}

fn decode_error(e: image::ImageError, limited: &Limited, path: &Path) -> ImageError {
    let info = &limited.info;
    match e {
        // A frame or image larger than the dimension limits, whatever the header said.
        image::ImageError::Limits(limit)
            if limit.kind() == image::error::LimitErrorKind::DimensionError =>
        {
            too_many_pixels(info, path)
        }
        image::ImageError::Limits(_) => ImageError::OverMemoryBudget {
            width: info.width,
            height: info.height,
            budget_bytes: limited.budget_bytes,
            path: path.to_owned(),
        },
        other => ImageError::Corrupt {
            format: info.format_name(),
            reason: other.to_string(),
            path: path.to_owned(),
        },
    }
}

/// Decodes an encoded image to RGBA8 under [`MAX_DIMENSION_PIXELS`] and
/// [`MAX_DECODE_MEMORY_BYTES`]: the decoder may allocate
/// [`decoder_budget_bytes`], never more than the RGBA8 output leaves of that
/// limit, so decoding and conversion together stay within it.
///
/// # Errors
/// [`ImageError::NotAnImage`], [`ImageError::TooManyPixels`],
/// [`ImageError::OverMemoryBudget`], [`ImageError::Corrupt`]; `path` is only
/// used in the message.
pub fn decode_rgba(bytes: &[u8], path: &Path) -> Result<RgbaImage, ImageError> {
    let (reader, limited) = limited_reader(bytes, path)?;
    let image = reader
        .decode()
        .map_err(|e| decode_error(e, &limited, path))?;
    Ok(image.into_rgba8())
}

/// Why [`send_decoded`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendDecodedError {
    /// The image could not be read or decoded.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The frame could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Decodes an encoded image straight into a pixels frame of `mapping` (kind 3),
/// with no buffer of its own: the decoder writes its rows into the mapping
/// through [`Mapping::write_pixels_with`]. 8-bit RGB, RGBA and grey images keep
/// their layout (`RGB8`, `RGBA8`, `GRAY8`); other colour types (16-bit, grey
/// with alpha, ...) are converted to RGBA8 first, which takes one buffer. The
/// capture time is now. Limits as [`decode_rgba`].
///
/// A decoder that fails half-way leaves the frame incomplete, which readers
/// report as lost (see [`Mapping::write_with`]).
///
/// # Errors
/// [`SendDecodedError::Image`] as [`decode_rgba`];
/// [`SendDecodedError::Write`] as [`Mapping::write_with`].
pub fn send_decoded(
    mapping: &Mapping,
    bytes: &[u8],
    path: &Path,
    path_text: &str,
    options: &WriteOptions,
) -> Result<Written, SendDecodedError> {
    let (reader, limited) = limited_reader(bytes, path)?;
    let decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(e, &limited, path))?;
    let (width, height) = decoder.dimensions();
    let now = crate::unix_nanos_now();
    let format = match decoder.color_type() {
        ColorType::Rgb8 => Some(PixelFormat::Rgb8),
        ColorType::Rgba8 => Some(PixelFormat::Rgba8),
        ColorType::L8 => Some(PixelFormat::Gray8),
        _ => None,
    };
    if let Some(format) = format {
        let layout = PixelLayout::packed(width, height, format).with_capture_unix_nanos(now);
        return mapping.write_pixels_with(&layout, path_text, options, |pixels| {
            decoder
                .read_image(pixels)
                .map_err(|e| SendDecodedError::Image(decode_error(e, &limited, path)))
        });
    }
    let rgba = DynamicImage::from_decoder(decoder)
        .map_err(|e| decode_error(e, &limited, path))?
        .into_rgba8();
    let layout =
        PixelLayout::packed(width, height, PixelFormat::Rgba8).with_capture_unix_nanos(now);
    Ok(mapping.send_pixels(&layout, rgba.as_raw(), path_text, options)?)
}

/// Encodes RGBA8 pixels as PNG bytes.
///
/// # Errors
/// [`ImageError::Corrupt`] when the buffer does not match `width * height * 4`
/// or the encoder fails.
pub fn encode_png(width: u32, height: u32, pixels: &[u8]) -> Result<Vec<u8>, ImageError> {
    encode_png_as(width, height, pixels, image::ExtendedColorType::Rgba8)
}

/// Encodes packed rows of `color` pixels as PNG bytes.
fn encode_png_as(
    width: u32,
    height: u32,
    pixels: &[u8],
    color: image::ExtendedColorType,
) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    image::write_buffer_with_format(
        &mut Cursor::new(&mut out),
        pixels,
        width,
        height,
        color,
        ImageFormat::Png,
    )
    .map_err(|e| ImageError::Corrupt {
        format: "png",
        reason: e.to_string(),
        path: PathBuf::from("<raw pixels>"),
    })?;
    Ok(out)
}

/// Encodes a pixels frame as PNG bytes in the PNG colour type that matches its
/// pixel format: grey for GRAY8, RGB for RGB8 and BGR8 (channels swapped to
/// PNG's order), RGBA for RGBA8, BGRA8 and the YUV formats (converted per
/// BT.601, see [`crate::PixelsRef::to_rgba8`]). Row padding (stride) is dropped.
///
/// # Errors
/// [`ImageError::Corrupt`] when the encoder fails.
pub fn encode_pixels_png(pixels: &crate::PixelsRef<'_>) -> Result<Vec<u8>, ImageError> {
    use crate::PixelFormat;
    let layout = &pixels.layout;
    let rows = (0..layout.height).filter_map(|y| pixels.row(y));
    let (color, bytes) = match layout.format {
        PixelFormat::Gray8 => (
            image::ExtendedColorType::L8,
            rows.flatten().copied().collect(),
        ),
        PixelFormat::Rgb8 => (
            image::ExtendedColorType::Rgb8,
            rows.flatten().copied().collect(),
        ),
        PixelFormat::Bgr8 => (
            image::ExtendedColorType::Rgb8,
            rows.flat_map(|row| row.chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]]))
                .collect(),
        ),
        PixelFormat::Rgba8 => (
            image::ExtendedColorType::Rgba8,
            rows.flatten().copied().collect(),
        ),
        _ => (image::ExtendedColorType::Rgba8, pixels.to_rgba8()),
    };
    let bytes: Vec<u8> = bytes;
    encode_png_as(layout.width, layout.height, &bytes, color)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        encode_png(width, height, &vec![200; (width * height * 4) as usize]).unwrap()
    }

    #[test]
    fn probes_and_decodes_a_png() {
        let bytes = png(3, 2);
        let info = probe(&bytes, Path::new("x.png")).unwrap();
        assert_eq!((info.format_name(), info.width, info.height), ("png", 3, 2));
        let rgba = decode_rgba(&bytes, Path::new("x.png")).unwrap();
        assert_eq!(rgba.dimensions(), (3, 2));
        assert_eq!(rgba.get_pixel(2, 1).0, [200; 4]);
    }

    #[test]
    fn refuses_a_decompression_bomb_before_decoding() {
        // A valid PNG header declaring 100000 x 100000 pixels, with no data after.
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let ihdr_crc = crc32fast::hash(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&ihdr_crc.to_be_bytes());
        let err = decode_rgba(&bytes, Path::new("bomb.png")).unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::TooManyPixels {
                    width: 100_000,
                    height: 100_000,
                    ..
                }
            ),
            "{err}"
        );
    }

    /// A GIF whose 63x4 screen holds one 14648x16225 frame with almost no
    /// data (the shape of `fuzz/regressions/image-gif-566-bytes-allocates-237MB.gif`).
    fn gif_with_a_huge_frame() -> Vec<u8> {
        let mut bytes = b"GIF89a".to_vec();
        bytes.extend_from_slice(&63u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 255, 255, 255]);
        bytes.push(0x2c);
        for v in [0u16, 0, 14_648, 16_225] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(&[0, 2, 2, 0x4c, 0x01, 0, 0x3b]);
        bytes
    }

    #[test]
    fn refuses_a_frame_far_larger_than_the_picture_before_allocating_it() {
        let bytes = gif_with_a_huge_frame();
        let info = probe(&bytes, Path::new("bomb.gif")).unwrap();
        assert_eq!((info.width, info.height), (63, 4));
        let err = decode_rgba(&bytes, Path::new("bomb.gif")).unwrap_err();
        assert!(
            matches!(
                err,
                ImageError::OverMemoryBudget {
                    width: 63,
                    height: 4,
                    budget_bytes,
                    ..
                } if budget_bytes == decoder_budget_bytes(63 * 4 * 4)
            ),
            "{err}"
        );
        let name =
            crate::MappingName::new(&format!("picture-bomb-{}", std::process::id())).unwrap();
        let mut mapping = Mapping::create_new(&name, 1 << 16).unwrap();
        mapping.set_remove_on_drop(true);
        let sent = send_decoded(
            &mapping,
            &bytes,
            Path::new("b.gif"),
            "b.gif",
            &WriteOptions::default(),
        );
        let err = sent.unwrap_err();
        assert!(
            matches!(
                err,
                SendDecodedError::Image(ImageError::OverMemoryBudget { .. })
            ),
            "{err}"
        );
    }

    #[test]
    fn truncated_and_non_images_get_their_own_errors() {
        let bytes = png(64, 64);
        let err = decode_rgba(&bytes[..bytes.len() / 2], Path::new("t.png")).unwrap_err();
        assert!(
            matches!(err, ImageError::Corrupt { format: "png", .. }),
            "{err}"
        );
        let err = probe(b"hello, world", Path::new("a.txt")).unwrap_err();
        assert!(matches!(err, ImageError::NotAnImage { .. }), "{err}");
    }
}
