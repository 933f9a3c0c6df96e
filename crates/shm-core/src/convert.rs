//! RGBA8 pixels into any pixel format of the frame format, for senders whose
//! pictures are RGBA (decoded image files) and whose readers want another
//! format (an encoder's I420, a camera-like NV12 or YUY2). The inverse of
//! [`crate::PixelsRef::to_rgba8`].

use crate::layout::PixelFormat;
use crate::payload::PixelLayout;

/// `rgba` (`width * height * 4` bytes, rows packed) converted to `format`,
/// laid out as [`PixelLayout::packed`] (planes one after another, no padding).
/// YUV is BT.601 limited range, each chroma sample from the mean of the RGB of
/// the pixels it covers (2x2 for NV12 and I420, 2x1 for YUY2); grey is BT.601's
/// luma weights at full range; alpha is dropped by the formats without it.
///
/// # Panics
/// If `rgba` is not `width * height * 4` bytes long.
pub fn rgba8_to(
    format: PixelFormat,
    width: u32,
    height: u32,
    rgba: &[u8],
) -> (PixelLayout, Vec<u8>) {
    let (w, h) = (width as usize, height as usize);
    assert_eq!(
        rgba.len(),
        w * h * 4,
        "rgba must be width * height * 4 bytes"
    );
    let layout = PixelLayout::packed(width, height, format);
    let pixel = |x: usize, y: usize| -> [i32; 3] {
        let p = &rgba[(y * w + x) * 4..][..3];
        [i32::from(p[0]), i32::from(p[1]), i32::from(p[2])]
    };
    let mut out = Vec::with_capacity(layout.pixels_len_bytes() as usize);
    match format {
        PixelFormat::Rgba8 => out.extend_from_slice(rgba),
        PixelFormat::Bgra8 => {
            for p in rgba.chunks_exact(4) {
                out.extend_from_slice(&[p[2], p[1], p[0], p[3]]);
            }
        }
        PixelFormat::Rgb8 => rgba
            .chunks_exact(4)
            .for_each(|p| out.extend_from_slice(&p[..3])),
        PixelFormat::Bgr8 => {
            for p in rgba.chunks_exact(4) {
                out.extend_from_slice(&[p[2], p[1], p[0]]);
            }
        }
        PixelFormat::Gray8 => {
            for p in rgba.chunks_exact(4) {
                let [r, g, b] = [p[0], p[1], p[2]].map(u32::from);
                out.push(((77 * r + 150 * g + 29 * b + 128) >> 8) as u8);
            }
        }
        PixelFormat::Nv12 | PixelFormat::I420 => {
            for y in 0..h {
                out.extend((0..w).map(|x| luma(pixel(x, y))));
            }
            let blocks: Vec<[u8; 2]> = (0..h.div_ceil(2))
                .flat_map(|by| (0..w.div_ceil(2)).map(move |bx| (bx, by)))
                .map(|(bx, by)| {
                    let covered = [(0, 0), (1, 0), (0, 1), (1, 1)]
                        .into_iter()
                        .map(|(dx, dy)| (2 * bx + dx, 2 * by + dy))
                        .filter(|&(x, y)| x < w && y < h);
                    chroma(covered.map(|(x, y)| pixel(x, y)))
                })
                .collect();
            if format == PixelFormat::Nv12 {
                blocks.iter().for_each(|cbcr| out.extend_from_slice(cbcr));
            } else {
                out.extend(blocks.iter().map(|cbcr| cbcr[0]));
                out.extend(blocks.iter().map(|cbcr| cbcr[1]));
            }
        }
        PixelFormat::Yuy2 => {
            for y in 0..h {
                for bx in 0..w.div_ceil(2) {
                    let left = pixel(2 * bx, y);
                    // An odd width's last pair repeats its one pixel.
                    let right = if 2 * bx + 1 < w {
                        pixel(2 * bx + 1, y)
                    } else {
                        left
                    };
                    let [cb, cr] = chroma([left, right].into_iter());
                    out.extend_from_slice(&[luma(left), cb, luma(right), cr]);
                }
            }
        }
    }
    debug_assert_eq!(out.len() as u64, layout.pixels_len_bytes());
    (layout, out)
}

/// BT.601 limited-range luma of one RGB pixel.
fn luma([r, g, b]: [i32; 3]) -> u8 {
    (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16) as u8
}

/// BT.601 limited-range Cb and Cr of the mean of `pixels` (1 to 4 of them).
fn chroma(pixels: impl Iterator<Item = [i32; 3]>) -> [u8; 2] {
    let (mut sum, mut count) = ([0i32; 3], 0i32);
    for p in pixels {
        (0..3).for_each(|c| sum[c] += p[c]);
        count += 1;
    }
    let [r, g, b] = sum.map(|s| (s + count / 2) / count.max(1));
    [
        (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128) as u8,
        (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128) as u8,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::PixelsRef;

    /// A frame payload of `pixels` laid out as `layout`, with no path.
    fn payload(layout: &PixelLayout, pixels: &[u8]) -> Vec<u8> {
        let mut bytes = layout.prefix(0).to_vec();
        bytes.extend_from_slice(pixels);
        bytes
    }

    #[test]
    fn every_format_converts_back_to_the_colours_it_was_given() {
        // 5x3 (odd both ways) of flat colour blocks: chroma sharing never
        // mixes two colours, so the round trip is exact within rounding.
        let colours = [
            [255u8, 0, 0, 255],
            [0, 255, 0, 255],
            [0, 0, 255, 255],
            [255, 255, 255, 255],
        ];
        for colour in colours {
            let rgba: Vec<u8> = colour.repeat(5 * 3);
            for format in PixelFormat::ALL {
                let (layout, pixels) = rgba8_to(format, 5, 3, &rgba);
                let bytes = payload(&layout, &pixels);
                let back = PixelsRef::decode(&bytes).unwrap().to_rgba8();
                for (i, (got, want)) in back.iter().zip(&rgba).enumerate() {
                    let want = if format == PixelFormat::Gray8 && i % 4 != 3 {
                        // Grey keeps only the luma.
                        let [r, g, b] = [colour[0], colour[1], colour[2]].map(u32::from);
                        ((77 * r + 150 * g + 29 * b + 128) >> 8) as u8
                    } else {
                        *want
                    };
                    assert!(
                        got.abs_diff(want) <= 2,
                        "{format} {colour:?}: byte {i} is {got}, want {want}"
                    );
                }
            }
        }
    }
}
