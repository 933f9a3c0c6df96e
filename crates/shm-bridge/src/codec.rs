//! Pixel frames compressed on the wire (`shm-bridge publish --compress`).
//!
//! Only pixel frames (kind 3) are compressed; image records already carry a
//! compressed file, and TestData and objects are small: they travel as they
//! are. Two encodings, named in the wire header ([`Encoding`]):
//! - **zstd** (lossless): each row of pixels goes through the PNG "Sub" filter
//!   (every byte minus the same channel of the pixel to its left), which turns
//!   a photograph's smooth gradients into small numbers, then the whole
//!   payload is compressed with zstd (its own checksum on). B undoes both and
//!   gets the payload byte for byte.
//! - **JPEG** (lossy, `--jpeg-quality`): the rows are encoded as a baseline
//!   JPEG (4:2:0 below quality 90) in their own channel order; the 32-byte
//!   pixels prefix and the path travel unchanged in front of it. B decodes
//!   into the same layout (size, stride, format, capture time); an alpha
//!   channel arrives opaque (255), padding bytes as 0.
//!
//! Decoding never trusts the wire: lengths are checked against the header and
//! B's capacity before anything is allocated, and a JPEG must decode to the
//! size the prefix declares.

use shm_core::layout::PIXELS_PREFIX_LEN_BYTES;
use shm_core::{Kind, PixelFormat, PixelLayout};

/// How a payload travels (wire header bytes 60..64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 0: the payload as in the mapping.
    Raw,
    /// 1: a pixels payload with Sub-filtered rows, compressed with zstd.
    Zstd,
    /// 2: a pixels payload's prefix and path, then its rows as a JPEG.
    Jpeg,
}

impl Encoding {
    /// The code in the wire header.
    pub const fn code(self) -> u32 {
        match self {
            Self::Raw => 0,
            Self::Zstd => 1,
            Self::Jpeg => 2,
        }
    }

    /// The encoding with `code`, or `None` for codes this build does not know.
    pub const fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            0 => Self::Raw,
            1 => Self::Zstd,
            2 => Self::Jpeg,
            _ => return None,
        })
    }

    /// `raw`, `zstd` or `jpeg`, as the JSON lines say it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Zstd => "zstd",
            Self::Jpeg => "jpeg",
        }
    }
}

/// What the publisher does with pixel frames (`--compress`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compression {
    /// Send pixel frames as they are.
    #[default]
    None,
    /// Lossless: a row filter, then zstd (B gets the same bytes).
    Zstd,
    /// Lossy: JPEG at `--jpeg-quality` (alpha arrives opaque).
    Jpeg,
}

/// The publisher's compression settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compressor {
    /// Which encoding pixel frames get.
    pub compression: Compression,
    /// zstd's level, 1 (fastest) to 19.
    pub zstd_level: i32,
    /// JPEG quality, 1 to 100.
    pub jpeg_quality: u8,
}

/// Why a payload could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The pixels payload does not decode (its prefix or lengths).
    #[error("pixels payload: {0}")]
    Pixels(#[from] shm_core::DecodeError),
    /// zstd failed (or the data is not zstd, or decompresses to another length).
    #[error("zstd: {0}")]
    Zstd(String),
    /// The JPEG encoder or decoder failed, or the JPEG has another size.
    #[error("JPEG: {0}")]
    Jpeg(String),
    /// The payload would be larger than the destination can hold.
    #[error("the frame is {len_bytes} bytes, over the {limit_bytes} bytes this subscriber takes")]
    TooLarge {
        /// Declared length.
        len_bytes: u64,
        /// The limit.
        limit_bytes: u64,
    },
}

/// A pixels payload's layout and where its parts lie.
struct PixelsParts {
    layout: PixelLayout,
    rows_len: usize,
}

fn pixels_parts(payload: &[u8]) -> Result<PixelsParts, CodecError> {
    let (layout, _path_len) = PixelLayout::decode_prefix(payload, payload.len() as u64)?;
    // Fits: decode_prefix checked prefix + rows + path == payload.len().
    let rows_len = layout.pixels_len_bytes() as usize;
    Ok(PixelsParts { layout, rows_len })
}

/// The Sub filter over each row (in place): byte `i` minus byte `i - bpp`.
fn sub_filter(rows: &mut [u8], stride: usize, bytes_per_pixel: usize) {
    for row in rows.chunks_exact_mut(stride) {
        for i in (bytes_per_pixel..row.len()).rev() {
            row[i] = row[i].wrapping_sub(row[i - bytes_per_pixel]);
        }
    }
}

/// Undoes [`sub_filter`] (in place).
fn sub_unfilter(rows: &mut [u8], stride: usize, bytes_per_pixel: usize) {
    for row in rows.chunks_exact_mut(stride) {
        for i in bytes_per_pixel..row.len() {
            row[i] = row[i].wrapping_add(row[i - bytes_per_pixel]);
        }
    }
}

fn jpeg_color(format: PixelFormat) -> jpeg_encoder::ColorType {
    match format {
        PixelFormat::Rgba8 => jpeg_encoder::ColorType::Rgba,
        PixelFormat::Bgra8 => jpeg_encoder::ColorType::Bgra,
        PixelFormat::Rgb8 => jpeg_encoder::ColorType::Rgb,
        PixelFormat::Bgr8 => jpeg_encoder::ColorType::Bgr,
        _ => jpeg_encoder::ColorType::Luma,
    }
}

fn zune_color(format: PixelFormat) -> zune_core::colorspace::ColorSpace {
    use zune_core::colorspace::ColorSpace;
    match format {
        PixelFormat::Rgba8 => ColorSpace::RGBA,
        PixelFormat::Bgra8 => ColorSpace::BGRA,
        PixelFormat::Rgb8 => ColorSpace::RGB,
        PixelFormat::Bgr8 => ColorSpace::BGR,
        _ => ColorSpace::Luma,
    }
}

impl Compressor {
    /// Encodes a frame's payload for the wire. Frames other than pixels,
    /// pixels with [`Compression::None`], and YUV pixels with
    /// [`Compression::Jpeg`] go raw (the payload is handed back
    /// without a copy). A JPEG needs a width and height under 65,536.
    ///
    /// # Errors
    /// [`CodecError`] for a pixels payload that does not decode, or an
    /// encoder's failure, with the payload handed back unchanged (the caller
    /// then sends it raw).
    pub fn encode(
        &self,
        kind: Kind,
        payload: Vec<u8>,
    ) -> Result<(Encoding, Vec<u8>), (CodecError, Vec<u8>)> {
        if kind != Kind::Pixels || self.compression == Compression::None {
            return Ok((Encoding::Raw, payload));
        }
        let parts = match pixels_parts(&payload) {
            Ok(parts) => parts,
            Err(e) => return Err((e, payload)),
        };
        match self.compression {
            Compression::None => Ok((Encoding::Raw, payload)),
            Compression::Zstd => self.encode_zstd(payload, &parts),
            // JPEG takes RGB and grey rows: YUV frames (already 4:2:0 or
            // 4:2:2) go raw.
            Compression::Jpeg if parts.layout.format.is_yuv() => Ok((Encoding::Raw, payload)),
            Compression::Jpeg => self.encode_jpeg(&payload, &parts).map_err(|e| (e, payload)),
        }
    }

    fn encode_zstd(
        &self,
        mut payload: Vec<u8>,
        parts: &PixelsParts,
    ) -> Result<(Encoding, Vec<u8>), (CodecError, Vec<u8>)> {
        let (stride, bytes_per_pixel) = (
            parts.layout.stride_bytes as usize,
            parts.layout.format.bytes_per_pixel() as usize,
        );
        let rows = PIXELS_PREFIX_LEN_BYTES..PIXELS_PREFIX_LEN_BYTES + parts.rows_len;
        sub_filter(&mut payload[rows.clone()], stride, bytes_per_pixel);
        let compressed = zstd::bulk::Compressor::new(self.zstd_level).and_then(|mut c| {
            c.include_checksum(true)?;
            c.compress(&payload)
        });
        match compressed {
            Ok(wire) => Ok((Encoding::Zstd, wire)),
            Err(e) => {
                sub_unfilter(&mut payload[rows], stride, bytes_per_pixel);
                Err((CodecError::Zstd(e.to_string()), payload))
            }
        }
    }

    fn encode_jpeg(
        &self,
        payload: &[u8],
        parts: &PixelsParts,
    ) -> Result<(Encoding, Vec<u8>), CodecError> {
        let layout = &parts.layout;
        let (Ok(width), Ok(height)) = (u16::try_from(layout.width), u16::try_from(layout.height))
        else {
            return Err(CodecError::Jpeg(format!(
                "{}x{} is over JPEG's 65,535 pixels per side",
                layout.width, layout.height
            )));
        };
        let rows = &payload[PIXELS_PREFIX_LEN_BYTES..][..parts.rows_len];
        // The encoder takes rows without padding.
        let row_len = layout.row_len_bytes() as usize;
        let packed_rows;
        let packed = if row_len == layout.stride_bytes as usize {
            rows
        } else {
            packed_rows = rows
                .chunks_exact(layout.stride_bytes as usize)
                .flat_map(|row| &row[..row_len])
                .copied()
                .collect::<Vec<u8>>();
            &packed_rows
        };
        let path = &payload[PIXELS_PREFIX_LEN_BYTES + parts.rows_len..];
        let mut wire = Vec::with_capacity(PIXELS_PREFIX_LEN_BYTES + path.len() + rows.len() / 8);
        wire.extend_from_slice(&payload[..PIXELS_PREFIX_LEN_BYTES]);
        wire.extend_from_slice(path);
        jpeg_encoder::Encoder::new(&mut wire, self.jpeg_quality)
            .encode(packed, width, height, jpeg_color(layout.format))
            .map_err(|e| CodecError::Jpeg(e.to_string()))?;
        Ok((Encoding::Jpeg, wire))
    }
}

/// Restores the payload of a frame that arrived with `encoding`:
/// `payload_len_bytes` is the header's (the payload's length in the source
/// mapping), `limit_bytes` the most this subscriber takes. A raw payload is
/// handed back as it is.
///
/// # Errors
/// [`CodecError::TooLarge`] before anything is allocated; otherwise when the
/// bytes do not decode, or decode to another length or size.
pub fn decode(
    encoding: Encoding,
    wire: Vec<u8>,
    payload_len_bytes: u64,
    limit_bytes: u64,
) -> Result<Vec<u8>, CodecError> {
    if payload_len_bytes > limit_bytes {
        return Err(CodecError::TooLarge {
            len_bytes: payload_len_bytes,
            limit_bytes,
        });
    }
    // Fits: at most the limit, a mapping's capacity.
    let len = payload_len_bytes as usize;
    match encoding {
        Encoding::Raw => Ok(wire),
        Encoding::Zstd => {
            let mut payload = zstd::bulk::Decompressor::new()
                .and_then(|mut d| d.decompress(&wire, len))
                .map_err(|e| CodecError::Zstd(e.to_string()))?;
            if payload.len() != len {
                return Err(CodecError::Zstd(format!(
                    "decompressed to {} bytes, the header says {len}",
                    payload.len()
                )));
            }
            let parts = pixels_parts(&payload)?;
            let layout = parts.layout;
            sub_unfilter(
                &mut payload[PIXELS_PREFIX_LEN_BYTES..][..parts.rows_len],
                layout.stride_bytes as usize,
                layout.format.bytes_per_pixel() as usize,
            );
            Ok(payload)
        }
        Encoding::Jpeg => decode_jpeg(&wire, payload_len_bytes),
    }
}

fn decode_jpeg(wire: &[u8], payload_len_bytes: u64) -> Result<Vec<u8>, CodecError> {
    // The prefix and the lengths it declares must add up to the header's
    // payload length; the path follows the prefix, the JPEG the path.
    let prefix = wire
        .get(..PIXELS_PREFIX_LEN_BYTES)
        .ok_or_else(|| CodecError::Jpeg(format!("{} bytes: no pixels prefix", wire.len())))?;
    let (layout, path_len) = PixelLayout::decode_prefix(prefix, payload_len_bytes)?;
    let path_len = path_len as usize;
    let path = wire
        .get(PIXELS_PREFIX_LEN_BYTES..)
        .and_then(|rest| rest.get(..path_len))
        .ok_or_else(|| CodecError::Jpeg("the path is cut short".to_owned()))?;
    let jpeg = &wire[PIXELS_PREFIX_LEN_BYTES + path_len..];
    let options = zune_core::options::DecoderOptions::default()
        .jpeg_set_out_colorspace(zune_color(layout.format))
        .set_max_width(layout.width as usize)
        .set_max_height(layout.height as usize);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
        zune_core::bytestream::ZCursor::new(jpeg),
        options,
    );
    let jpeg_error = |e: zune_jpeg::errors::DecodeErrors| CodecError::Jpeg(e.to_string());
    decoder.decode_headers().map_err(jpeg_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| CodecError::Jpeg("no image information".to_owned()))?;
    if (u32::from(info.width), u32::from(info.height)) != (layout.width, layout.height) {
        return Err(CodecError::Jpeg(format!(
            "the JPEG is {}x{}, the frame {}x{}",
            info.width, info.height, layout.width, layout.height
        )));
    }
    let row_len = layout.row_len_bytes() as usize;
    let stride = layout.stride_bytes as usize;
    let mut packed = vec![0u8; row_len * layout.height as usize];
    decoder.decode_into(&mut packed).map_err(jpeg_error)?;
    // Fits: decode_prefix checked the whole payload's length.
    let mut payload = Vec::with_capacity(payload_len_bytes as usize);
    payload.extend_from_slice(prefix);
    if stride == row_len {
        payload.extend_from_slice(&packed);
    } else {
        for row in packed.chunks_exact(row_len) {
            payload.extend_from_slice(row);
            payload.resize(payload.len() + stride - row_len, 0);
        }
    }
    payload.extend_from_slice(path);
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tag`: a name of the test's own (tests run in parallel).
    fn pixels_payload(tag: &str, layout: &PixelLayout, rows: &[u8], path: &str) -> Vec<u8> {
        let mapping_name = shm_core::MappingName::new(&format!(
            "codec-{}-{tag}-{}",
            std::process::id(),
            layout.format.code()
        ))
        .unwrap();
        // The payload exactly as a mapping holds it (shm-core writes it).
        let mapping = shm_core::Mapping::create_or_open(&mapping_name, 32 << 20).unwrap();
        mapping
            .send_pixels(layout, rows, path, &shm_core::WriteOptions::default())
            .unwrap();
        let payload = mapping.read_frame().unwrap().payload;
        mapping.remove().unwrap();
        payload
    }

    fn gradient(width: u32, height: u32, bpp: u32, stride: u32) -> Vec<u8> {
        let mut rows = vec![0u8; (stride * height) as usize];
        for y in 0..height {
            for x in 0..width {
                for c in 0..bpp {
                    rows[(y * stride + x * bpp + c) as usize] = (x * (c + 1) + y * 2) as u8;
                }
            }
        }
        rows
    }

    #[test]
    fn the_row_filter_is_undone_exactly() {
        let mut rows: Vec<u8> = (0..=255u8).cycle().take(4 * 64).collect();
        let original = rows.clone();
        sub_filter(&mut rows, 64, 3);
        assert_ne!(rows, original);
        sub_unfilter(&mut rows, 64, 3);
        assert_eq!(rows, original);
    }

    #[test]
    fn zstd_restores_pixels_byte_for_byte_and_other_kinds_pass_through() {
        let layout = PixelLayout::packed(301, 97, PixelFormat::Bgr8)
            .with_stride_bytes(960)
            .with_capture_unix_nanos(42);
        let payload = pixels_payload("zstd", &layout, &gradient(301, 97, 3, 960), "cam");
        let compressor = Compressor {
            compression: Compression::Zstd,
            zstd_level: 1,
            jpeg_quality: 80,
        };
        let (encoding, wire) = compressor
            .encode(Kind::Pixels, payload.clone())
            .map_err(|(e, _)| e)
            .unwrap();
        assert_eq!(encoding, Encoding::Zstd);
        assert!(
            wire.len() * 10 < payload.len(),
            "{} of {}",
            wire.len(),
            payload.len()
        );
        let restored = decode(encoding, wire, payload.len() as u64, 1 << 30).unwrap();
        assert!(restored == payload);
        // Image records go as they are.
        let image = vec![1u8, 2, 3];
        assert_eq!(
            compressor
                .encode(Kind::Image, image.clone())
                .map_err(|(e, _)| e)
                .unwrap(),
            (Encoding::Raw, image)
        );
    }

    #[test]
    fn jpeg_restores_the_layout_and_close_pixels() {
        for format in [PixelFormat::Bgr8, PixelFormat::Rgba8, PixelFormat::Gray8] {
            let bpp = format.bytes_per_pixel();
            let stride = 320 * bpp + 8;
            let layout = PixelLayout::packed(320, 200, format)
                .with_stride_bytes(stride)
                .with_capture_unix_nanos(7);
            let rows = gradient(320, 200, bpp, stride);
            let payload = pixels_payload("jpeg", &layout, &rows, "jpeg path");
            let compressor = Compressor {
                compression: Compression::Jpeg,
                zstd_level: 1,
                jpeg_quality: 90,
            };
            let (encoding, wire) = compressor
                .encode(Kind::Pixels, payload.clone())
                .map_err(|(e, _)| e)
                .unwrap();
            assert_eq!(encoding, Encoding::Jpeg);
            let restored = decode(encoding, wire, payload.len() as u64, 1 << 30).unwrap();
            assert_eq!(restored.len(), payload.len(), "{format}");
            let got = shm_core::PixelsRef::decode(&restored).unwrap();
            assert_eq!(got.layout, layout, "{format}");
            assert_eq!(got.path, "jpeg path");
            let sent = shm_core::PixelsRef::decode(&payload).unwrap();
            // The colour bytes are close (PSNR over them), alpha is opaque.
            let (mut squared, mut count) = (0f64, 0f64);
            for y in 0..200 {
                let pairs = got.row(y).unwrap().iter().zip(sent.row(y).unwrap());
                for (i, (got, sent)) in pairs.enumerate() {
                    if format == PixelFormat::Rgba8 && i % 4 == 3 {
                        assert_eq!(*got, 255, "alpha arrives opaque");
                    } else {
                        squared += (f64::from(*got) - f64::from(*sent)).powi(2);
                        count += 1.0;
                    }
                }
            }
            let psnr = 10.0 * (255.0f64.powi(2) / (squared / count)).log10();
            assert!(psnr > 30.0, "{format}: PSNR {psnr:.1} dB");
        }
    }

    #[test]
    fn bad_wire_bytes_are_errors() {
        assert!(matches!(
            decode(Encoding::Zstd, vec![1, 2, 3], 10, 100),
            Err(CodecError::Zstd(_))
        ));
        assert!(matches!(
            decode(Encoding::Zstd, vec![1, 2, 3], 1000, 100),
            Err(CodecError::TooLarge { .. })
        ));
        assert!(decode(Encoding::Jpeg, vec![0; 10], 10, 100).is_err());
        let mut prefix = vec![0u8; 40];
        prefix[..4].copy_from_slice(&4u32.to_le_bytes());
        assert!(decode(Encoding::Jpeg, prefix, 40, 100).is_err());
    }
}
