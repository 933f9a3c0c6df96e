//! Smooth downscaling without mipmaps: the reader draws an image shown below
//! half size from a copy halved with a 2x2 box filter (see `DrawnTexture` in
//! the crate root and docs/DESIGN.md, "Downscaling").

use eframe::egui;

/// How many times to halve an image of `size` pixels drawn at
/// `pixels_per_image_pixel` so that what is drawn is at half size or more:
/// 0 at half size and above, 1 for scales in (1/4, 1/2), and k >= 2 for
/// scales in (2^-(k+1), 2^-k], never below a 1-pixel side.
pub fn reduction_level(pixels_per_image_pixel: f32, size: [usize; 2]) -> u32 {
    // NaN, zero or negative: nothing sensible to reduce for.
    if pixels_per_image_pixel.is_nan() || pixels_per_image_pixel <= 0.0 {
        return 0;
    }
    if pixels_per_image_pixel >= 0.5 {
        return 0;
    }
    let wanted = (1.0 / pixels_per_image_pixel).log2().floor() as u32;
    let largest_side = size[0].max(size[1]).max(1);
    wanted.min(largest_side.ilog2())
}

/// `image` halved `times` times, each time averaging 2x2 pixels (a box
/// filter, in the stored premultiplied sRGB values); an odd last row or
/// column is averaged with itself, so an odd side is rounded up and the
/// copy, stretched over the image, is off by up to half a source pixel there.
pub fn halve_times(image: &egui::ColorImage, times: u32) -> egui::ColorImage {
    if times == 0 {
        return image.clone();
    }
    let mut current = halve(image);
    for _ in 1..times {
        current = halve(&current);
    }
    current
}

fn halve(image: &egui::ColorImage) -> egui::ColorImage {
    let [width, height] = image.size;
    let (half_width, half_height) = (width.div_ceil(2).max(1), height.div_ceil(2).max(1));
    let mut half = egui::ColorImage::filled([half_width, half_height], egui::Color32::TRANSPARENT);
    if width == 0 || height == 0 {
        return half;
    }
    // On the bytes, two source rows at a time, so that the compiler can
    // vectorise the sums (2.4x faster than pixel by pixel here).
    let (source, row_len) = (image.as_raw(), width * 4);
    let half_row_len = half_width * 4;
    for (y, out) in half.as_raw_mut().chunks_exact_mut(half_row_len).enumerate() {
        let top = &source[2 * y * row_len..][..row_len];
        // An odd last row is averaged with itself.
        let bottom = if 2 * y + 1 < height {
            &source[(2 * y + 1) * row_len..][..row_len]
        } else {
            top
        };
        for ((out, top), bottom) in out
            .chunks_exact_mut(4)
            .zip(top.chunks_exact(8))
            .zip(bottom.chunks_exact(8))
        {
            for channel in 0..4 {
                let sum = u16::from(top[channel])
                    + u16::from(top[channel + 4])
                    + u16::from(bottom[channel])
                    + u16::from(bottom[channel + 4]);
                // At most 255: the mean of four u8, rounded.
                out[channel] = ((sum + 2) / 4) as u8;
            }
        }
        // An odd last column is averaged with itself.
        if width % 2 == 1 {
            let last = row_len - 4;
            for channel in 0..4 {
                let sum =
                    2 * u16::from(top[last + channel]) + 2 * u16::from(bottom[last + channel]);
                out[half_row_len - 4 + channel] = ((sum + 2) / 4) as u8;
            }
        }
    }
    half
}

#[cfg(test)]
mod tests {
    use eframe::egui::{Color32, ColorImage};

    use super::{halve_times, reduction_level};

    #[test]
    fn the_level_keeps_the_drawn_texture_between_half_and_full_size() {
        let size = [1920, 1080];
        assert_eq!(reduction_level(1.0, size), 0);
        assert_eq!(reduction_level(0.5, size), 0);
        assert_eq!(reduction_level(0.49, size), 1);
        assert_eq!(reduction_level(0.25, size), 2);
        assert_eq!(reduction_level(0.1, size), 3);
        // Never below a 1-pixel side, and nothing odd for odd scales.
        assert_eq!(reduction_level(1e-9, [4, 2]), 2);
        assert_eq!(reduction_level(0.0, size), 0);
        assert_eq!(reduction_level(f32::NAN, size), 0);
        assert_eq!(reduction_level(-1.0, size), 0);
    }

    #[test]
    fn halving_averages_every_pixel_instead_of_skipping_some() {
        // A one-pixel checkerboard: sampling every other pixel (what linear
        // filtering at a quarter size does) sees only black or only white.
        let (width, height) = (8, 6);
        let pixels = (0..width * height)
            .map(|i| {
                if (i % width + i / width) % 2 == 0 {
                    Color32::WHITE
                } else {
                    Color32::BLACK
                }
            })
            .collect();
        let board = ColorImage::new([width, height], pixels);
        let half = halve_times(&board, 1);
        assert_eq!(half.size, [4, 3]);
        let grey = Color32::from_rgba_premultiplied(128, 128, 128, 255);
        assert!(half.pixels.iter().all(|p| *p == grey), "{:?}", half.pixels);
        // Odd sides: the last row and column are averaged with themselves.
        let quarter = halve_times(&board, 2);
        assert_eq!(quarter.size, [2, 2]);
        assert_eq!(halve_times(&board, 3).size, [1, 1]);
        assert_eq!(halve_times(&board, 0), board);
    }
}
