//! Which memory of this process maps a mapping's file, so that a write whose
//! source lies there is copied out first.
//!
//! A frame written from bytes that alias a mapping (a zero-copy view of the
//! frame being replaced, a slice of a loan, Python's own `mmap` of the same
//! file) would read its source while overwriting it: `send_pixels(view[::-1])`
//! stored the bottom half as a mirror of the top, with a valid CRC-32. Every
//! region shm-core maps is registered here for its lifetime, and memory mapped
//! by others (Python's view) can be registered with [`register_foreign_mapping`];
//! [`Mapping::write_frame`](crate::Mapping::write_frame) and
//! [`Mapping::write_pixels_from`](crate::Mapping::write_pixels_from) check their
//! source against it. Only addresses are compared: nothing here reads memory.

use std::ops::Range;

pub use crate::sys::MappedMemoryGuard;

/// Registers `range` (addresses in this process) as memory that maps a
/// mapping's file, made by something other than shm-core (Python's `mmap` of
/// the file for zero-copy views, say), until the guard is dropped: writes from
/// memory there are then copied out first. An empty range registers nothing.
pub fn register_foreign_mapping(range: Range<usize>) -> MappedMemoryGuard {
    crate::sys::register_mapped_memory(range)
}

/// Whether `range` (addresses in this process) overlaps memory that maps a
/// mapping's file: a region shm-core mapped and has not unmapped, or a range
/// registered with [`register_foreign_mapping`].
pub fn overlaps_mapped_memory(range: Range<usize>) -> bool {
    crate::sys::mapped_memory(&range)
}

/// The addresses `bytes` occupies.
pub(crate) fn address_range(bytes: &[u8]) -> Range<usize> {
    bytes.as_ptr_range().start.addr()..bytes.as_ptr_range().end.addr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_overlap_while_registered() {
        let guard = register_foreign_mapping(0x1000..0x3000);
        assert!(overlaps_mapped_memory(0x2fff..0x3001));
        assert!(overlaps_mapped_memory(0x0..0x1001));
        assert!(!overlaps_mapped_memory(0x3000..0x4000));
        assert!(!overlaps_mapped_memory(0x0..0x1000));
        assert!(!overlaps_mapped_memory(0x1800..0x1800), "empty");
        drop(guard);
        assert!(!overlaps_mapped_memory(0x1000..0x3000));
    }
}
