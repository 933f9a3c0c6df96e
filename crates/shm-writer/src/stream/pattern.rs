//! The moving test pattern: colour bars and the frame counter in digits,
//! drawn straight into the mapping.

/// Moving colour bars, a band moving down, and the frame number in large
/// digits: consecutive frames differ visibly everywhere.
pub(super) struct TestPattern {
    pub(super) width: u32,
    pub(super) height: u32,
    /// One row of the bars (RGBA8), drawn twice over so any shift is one copy.
    bars: Vec<u8>,
    /// One row of the moving band (opaque grey).
    band: Vec<u8>,
}

/// Colour bars, RGBA8.
const BAR_COLOURS: [[u8; 4]; 8] = [
    [235, 235, 235, 255],
    [235, 235, 16, 255],
    [16, 235, 235, 255],
    [16, 235, 16, 255],
    [235, 16, 235, 255],
    [235, 16, 16, 255],
    [16, 16, 235, 255],
    [16, 16, 16, 255],
];

/// 3x5 digits, one bit a cell, row by row from the top (bit 14 = top left).
const DIGITS: [u16; 10] = [
    0b111_101_101_101_111,
    0b010_110_010_010_111,
    0b111_001_111_100_111,
    0b111_001_111_001_111,
    0b101_101_111_001_001,
    0b111_100_111_001_111,
    0b111_100_111_101_111,
    0b111_001_001_001_001,
    0b111_101_111_101_111,
    0b111_101_111_001_111,
];

impl TestPattern {
    /// Pixels the bars move per frame.
    const BAR_STEP_PIXELS: u64 = 8;

    pub(super) fn new(width: u32, height: u32) -> Result<Self, String> {
        if !(16..=8192).contains(&width) || !(16..=8192).contains(&height) {
            return Err(format!(
                "a test pattern of {width}x{height} pixels is not possible; use 16 to 8192 pixels a side"
            ));
        }
        let w = width as usize;
        let mut bars = Vec::with_capacity(w * 8);
        for x in 0..2 * w {
            bars.extend_from_slice(&BAR_COLOURS[(x % w) * BAR_COLOURS.len() / w]);
        }
        Ok(Self {
            width,
            height,
            bars,
            band: [128, 128, 128, 255].repeat(w),
        })
    }

    /// Draws frame `counter` into `pixels` (packed RGBA8 rows).
    pub(super) fn draw(&self, counter: u64, pixels: &mut [u8]) {
        let (w, h) = (self.width as usize, self.height as usize);
        let row_len = w * 4;
        let shift = (counter * Self::BAR_STEP_PIXELS % w as u64) as usize;
        let bar_row = &self.bars[shift * 4..shift * 4 + row_len];
        let band_len = (h / 12).max(1);
        let band_top = (counter as usize * 4) % h;
        for (y, row) in pixels.chunks_exact_mut(row_len).enumerate() {
            let in_band = (y + h - band_top) % h < band_len;
            if in_band {
                row.copy_from_slice(&self.band);
            } else {
                row.copy_from_slice(bar_row);
            }
        }
        self.draw_number(counter, pixels);
    }

    /// The frame number in black on white at the top left.
    pub(super) fn draw_number(&self, counter: u64, pixels: &mut [u8]) {
        let (w, h) = (self.width as usize, self.height as usize);
        let cell = (h / 48).max(1);
        let digits: Vec<usize> = counter
            .to_string()
            .bytes()
            .map(|b| usize::from(b - b'0'))
            .collect();
        let margin = cell;
        let box_w = (margin * 2 + digits.len() * 4 * cell).min(w);
        let box_h = (margin * 2 + 5 * cell).min(h);
        for y in 0..box_h {
            let row = &mut pixels[y * w * 4..(y * w + box_w) * 4];
            row.fill(255);
        }
        for (i, digit) in digits.iter().enumerate() {
            let glyph = DIGITS[*digit];
            for gy in 0..5 {
                for gx in 0..3 {
                    if glyph >> (14 - (gy * 3 + gx)) & 1 == 0 {
                        continue;
                    }
                    let x0 = margin + (i * 4 + gx) * cell;
                    let y0 = margin + gy * cell;
                    for y in y0..(y0 + cell).min(h) {
                        let start = (y * w + x0.min(w)) * 4;
                        let end = (y * w + (x0 + cell).min(w)) * 4;
                        for px in pixels[start..end].chunks_exact_mut(4) {
                            px.copy_from_slice(&[0, 0, 0, 255]);
                        }
                    }
                }
            }
        }
    }
}
