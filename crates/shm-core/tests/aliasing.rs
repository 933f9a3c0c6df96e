//! A write whose source lies in a mapping is copied out first (the frame never
//! reads its own bytes while overwriting them).

use shm_core::{
    Kind, Mapping, Payload, PixelFormat, PixelLayout, WriteError, WriteOptions,
    overlaps_mapped_memory, register_foreign_mapping,
};

mod common;
use common::TestName;

fn range_of(bytes: &[u8]) -> std::ops::Range<usize> {
    let r = bytes.as_ptr_range();
    r.start.addr()..r.end.addr()
}

/// A slice of a loan (memory of mapping A) sent into mapping B: seen as
/// mapped memory, copied, and B's frame holds exactly those bytes.
#[test]
fn a_slice_of_a_loan_is_recognised_and_sent_whole() {
    let (a_name, b_name) = (TestName::new("t-al"), TestName::new("t-al"));
    let a = Mapping::create_new(&a_name.0, 1 << 20).unwrap();
    let b = Mapping::create_new(&b_name.0, 1 << 20).unwrap();
    a.write_with(Kind::Object, 4096, &WriteOptions::default(), |loan| {
        for (i, byte) in loan.iter_mut().enumerate() {
            *byte = (i % 251) as u8;
        }
        assert!(overlaps_mapped_memory(range_of(loan)));
        let layout = PixelLayout::packed(64, 16, PixelFormat::Gray8);
        b.send_pixels(
            &layout,
            &loan[..1024],
            "from a loan",
            &WriteOptions::default(),
        )
        .unwrap();
        Ok::<(), WriteError>(())
    })
    .unwrap();
    let frame = b.read_frame().unwrap();
    let Payload::Pixels(pixels) = frame.decode().unwrap() else {
        panic!("expected pixels");
    };
    let expected: Vec<u8> = (0..1024).map(|i| (i % 251) as u8).collect();
    assert_eq!(pixels.pixels, &expected[..]);
}

/// `write_pixels_from` lets `fill` write in place when its source is private
/// memory, and into a private buffer when the source is registered as
/// mapping a mapping (Python's view of the frame being replaced).
#[test]
fn write_pixels_from_fills_a_private_buffer_when_the_source_aliases_a_mapping() {
    let name = TestName::new("t-al");
    let mapping = Mapping::create_new(&name.0, 1 << 20).unwrap();
    let layout = PixelLayout::packed(32, 8, PixelFormat::Gray8);
    let source: Vec<u8> = (0..256u32).map(|i| (i * 7) as u8).collect();
    let write = |mapping: &Mapping| {
        let mut filled_in_place = None;
        mapping
            .write_pixels_from(
                &layout,
                "",
                &WriteOptions::default(),
                range_of(&source),
                |rows: &mut [u8]| {
                    filled_in_place = Some(overlaps_mapped_memory(range_of(rows)));
                    rows.copy_from_slice(&source);
                    Ok::<(), WriteError>(())
                },
            )
            .unwrap();
        let frame = mapping.read_frame().unwrap();
        let Payload::Pixels(pixels) = frame.decode().unwrap() else {
            panic!("expected pixels");
        };
        assert_eq!(pixels.pixels, &source[..]);
        filled_in_place.unwrap()
    };
    assert!(
        write(&mapping),
        "private source: filled in place (zero-copy)"
    );
    let _registered = register_foreign_mapping(range_of(&source));
    assert!(
        !write(&mapping),
        "aliasing source: filled into a private buffer first"
    );
}
