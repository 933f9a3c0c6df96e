//! The seeds' layout: what the programs this project replaces (a .NET
//! WinForms writer and reader, Win32 C++) put at offset 0 of their 10 MB
//! mapping, with no header: an image record `[i32 path_len][UTF-8 path][i32
//! image_len][image bytes]` (little-endian lengths), or the 48-byte
//! `TestData`. Written and read on request, so a team can replace one seed
//! program at a time.
//!
//! What this layout cannot promise, and frame format v2 does: a reader may
//! see a record half-written (no sequence word: the seeds read whatever is
//! there), there are no frame numbers (a reader cannot tell a new record from
//! the same one sent again) and no wake-ups (readers read when asked). The
//! seeds guard reads and writes with a named mutex (`testmapmutex`) in one of
//! their versions; here every read and write takes the file's lock (`flock`
//! on Linux), so our own readers and writers never tear each other's records,
//! but a seed program that takes no lock still can. See `docs/PROTOCOL.md`,
//! "The seeds' layout".
//!
//! On Windows a named seed mapping is what the seeds themselves open: the
//! page-file section `Local\<name>`, guarded by their named mutex
//! `Local\testmapmutex` ([`SEED_MUTEX_NAME`]); a file-backed one is a file,
//! as on Linux.

use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{DecodeError, OpenError, WriteError};
use crate::layout::{MAGIC, TEST_DATA_LEN_BYTES};
use crate::mapping::{check_file, create_exclusive, no_space_or, open_existing_file};
use crate::name::Location;
use crate::payload::{ImageRecordRef, TestData};
use crate::sys::{self, SharedRegion};

/// The length of a seed mapping the seeds make: 10 MB (their `CreateOrOpen(name,
/// 10 MB)`, counted as 10 MiB).
pub const SEED_MAPPING_LEN_BYTES: u64 = 10 * 1024 * 1024;

/// The named mutex one of the seeds' versions takes around every read and write
/// of its mapping (.NET `new Mutex(false, "testmapmutex")`, which lives in the
/// session's `Local\` namespace): taken on Windows for named seed mappings.
pub const SEED_MUTEX_NAME: &str = "Local\\testmapmutex";

/// An image record read from a seed mapping: owned copies of its path and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedImage {
    /// The sender's path text.
    pub path: String,
    /// The image file's bytes, unchanged.
    pub image: Vec<u8>,
}

/// A mapping in the seeds' layout (see the module docs): a file of any length
/// (at least 8 bytes) whose bytes from offset 0 are the record.
#[derive(Debug)]
pub struct SeedMapping {
    region: SharedRegion,
    path: PathBuf,
    /// The seeds' named mutex, for a Windows section (which has no file to lock).
    #[cfg(windows)]
    mutex: Option<sys::NamedMutex>,
}

/// The lock a seed mapping's reads and writes hold, released on drop: the
/// file's lock (`flock` on Linux), or on Windows the seeds' named mutex.
struct SeedLock<'a> {
    _file: Option<sys::Exclusive<'a>>,
    #[cfg(windows)]
    _mutex: Option<sys::NamedMutexGuard<'a>>,
}

impl SeedMapping {
    /// Opens the seed mapping at `location`; when it does not exist and
    /// `create_len_bytes` is given, creates it that long, zero-filled (an empty
    /// image record: no path, no image), with storage reserved and access for
    /// this user only.
    ///
    /// # Errors
    /// [`OpenError::DoesNotExist`] (and no length to create it),
    /// [`OpenError::NotARegularFile`], [`OpenError::InsufficientPermissions`] /
    /// [`OpenError::TooPermissive`] (another user's, or open to others; on
    /// Windows [`OpenError::ForeignOwner`] / [`OpenError::TooPermissiveAcl`]
    /// for a file, while a section is taken as the seeds make it),
    /// [`OpenError::SeedTooSmall`] (under 8 bytes),
    /// [`OpenError::FrameFormatMapping`] for a frame format v2 mapping (whose
    /// header a seed record would overwrite),
    /// [`OpenError::NoSpace`], [`OpenError::Io`].
    pub fn open(location: &Location, create_len_bytes: Option<u64>) -> Result<Self, OpenError> {
        #[cfg(windows)]
        if let Location::Named(name) = location {
            return Self::open_section(name, create_len_bytes);
        }
        let path = location.path();
        let file = match (open_existing_file(location, &path), create_len_bytes) {
            (Err(OpenError::DoesNotExist { .. }), Some(len_bytes)) => {
                match create(&path, len_bytes) {
                    // Another process created it between our two attempts.
                    Err(OpenError::AlreadyExists { .. }) => open_existing_file(location, &path)?,
                    other => other?,
                }
            }
            (opened, _) => opened?,
        };
        let meta = check_file(&file, &path)?;
        let too_small = |len_bytes: u64| OpenError::SeedTooSmall {
            len_bytes,
            path: path.clone(),
        };
        let len_bytes = usize::try_from(meta.len()).map_err(|_| too_small(meta.len()))?;
        if len_bytes < 8 {
            return Err(too_small(meta.len()));
        }
        let mut region =
            SharedRegion::map(&file, len_bytes, false).map_err(io_error(&path, "mmap"))?;
        refuse_frame_format(&region, &path)?;
        region
            .attach_writer_lock(file)
            .map_err(io_error(&path, "take the lock file"))?;
        Ok(Self {
            region,
            path,
            #[cfg(windows)]
            mutex: None,
        })
    }

    /// Opens (or creates, `create_len_bytes` long) the page-file section
    /// `Local\<name>` and the seeds' mutex.
    #[cfg(windows)]
    fn open_section(
        name: &crate::MappingName,
        create_len_bytes: Option<u64>,
    ) -> Result<Self, OpenError> {
        let section = format!("Local\\{name}");
        let path = PathBuf::from(&section);
        if let Some(len_bytes) = create_len_bytes
            && !(8..=crate::layout::MAX_MAPPING_LEN_BYTES).contains(&len_bytes)
        {
            return Err(OpenError::InvalidLength {
                requested_len_bytes: len_bytes,
                min_len_bytes: 8,
                max_len_bytes: crate::layout::MAX_MAPPING_LEN_BYTES,
            });
        }
        let (view, _created) =
            sys::SectionView::open(&section, create_len_bytes).map_err(|source| {
                match source.kind() {
                    std::io::ErrorKind::NotFound => OpenError::DoesNotExist {
                        name: name.to_string(),
                        path: path.clone(),
                        hint: "start the seed program (or a writer) first, or check the name",
                    },
                    _ => io_error(&path, "open the section")(source),
                }
            })?;
        let region = SharedRegion::from_section(view);
        refuse_frame_format(&region, &path)?;
        let mutex =
            sys::NamedMutex::open(SEED_MUTEX_NAME).map_err(io_error(&path, "open testmapmutex"))?;
        Ok(Self {
            region,
            path,
            mutex: Some(mutex),
        })
    }

    /// The file mapped.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// The mapping's length in bytes: the largest record it holds.
    pub fn len_bytes(&self) -> u64 {
        self.region.len_bytes() as u64
    }

    /// Writes an image record at offset 0, holding the file's lock for at most
    /// `lock_timeout`.
    ///
    /// # Errors
    /// [`WriteError::LengthOverflow`] for a path or image over `i32::MAX`
    /// bytes, [`WriteError::TooLarge`] when the record does not fit,
    /// [`WriteError::WriterBusy`], [`WriteError::Lock`].
    pub fn write_image(
        &self,
        path_text: &str,
        image: &[u8],
        lock_timeout: Duration,
    ) -> Result<(), WriteError> {
        let len_i32 = |field, len: usize| {
            i32::try_from(len).map_err(|_| WriteError::LengthOverflow {
                field,
                len_bytes: len as u64,
            })
        };
        let path_len = len_i32("path", path_text.len())?;
        let image_len = len_i32("image", image.len())?;
        let record_len = 8 + path_text.len() as u64 + image.len() as u64;
        self.check_fits(record_len)?;
        let _lock = self.lock(lock_timeout)?;
        let mut offset = 0;
        for part in [
            &path_len.to_le_bytes()[..],
            path_text.as_bytes(),
            &image_len.to_le_bytes()[..],
            image,
        ] {
            self.region.copy_in(offset, part);
            offset += part.len();
        }
        self.region.flush().map_err(WriteError::Lock)?;
        Ok(())
    }

    /// Writes the 48-byte `TestData` at offset 0, holding the file's lock for
    /// at most `lock_timeout`.
    ///
    /// # Errors
    /// As [`SeedMapping::write_image`].
    pub fn write_test_data(
        &self,
        data: &TestData,
        lock_timeout: Duration,
    ) -> Result<(), WriteError> {
        self.check_fits(TEST_DATA_LEN_BYTES as u64)?;
        let _lock = self.lock(lock_timeout)?;
        self.region.copy_in(0, &data.to_bytes());
        self.region.flush().map_err(WriteError::Lock)?;
        Ok(())
    }

    /// Reads the image record at offset 0 (copied out under the file's lock).
    /// A mapping nothing was written to reads as an empty path and image.
    ///
    /// # Errors
    /// [`SeedReadError::Decode`] for lengths that are negative or run past the
    /// mapping, or a path that is not UTF-8 (the mapping may hold a `TestData`,
    /// or a record another program was writing: read again);
    /// [`SeedReadError::Lock`] when the lock is not had within `lock_timeout`.
    pub fn read_image(&self, lock_timeout: Duration) -> Result<SeedImage, SeedReadError> {
        let _lock = self.lock(lock_timeout).map_err(SeedReadError::Lock)?;
        let capacity = self.region.len_bytes();
        // In bounds: offset + 4 <= 8 + path_len <= capacity (checked below).
        let read_len = |offset: usize| -> Result<usize, DecodeError> {
            let mut word = [0u8; 4];
            self.region.copy_out(offset, &mut word);
            let value = i32::from_le_bytes(word);
            usize::try_from(value).map_err(|_| DecodeError::NegativeLength {
                field: if offset == 0 { "path_len" } else { "image_len" },
                value,
            })
        };
        let past_the_end = |declared_bytes: u64| {
            SeedReadError::Decode(DecodeError::LengthMismatch {
                what: "seed image record",
                declared_bytes,
                len_bytes: capacity,
            })
        };
        let path_len = read_len(0)?;
        if 8 + path_len as u64 > capacity as u64 {
            return Err(past_the_end(8 + path_len as u64));
        }
        let image_len = read_len(4 + path_len)?;
        let record_len = 8u64 + path_len as u64 + image_len as u64;
        if record_len > capacity as u64 {
            return Err(past_the_end(record_len));
        }
        let mut record = vec![0u8; record_len as usize];
        self.region.copy_out(0, &mut record);
        let decoded = ImageRecordRef::decode(&record)?;
        Ok(SeedImage {
            path: decoded.path.to_owned(),
            image: decoded.image.to_vec(),
        })
    }

    /// Reads the 48 bytes at offset 0 as a `TestData` (copied out under the
    /// file's lock). Any 48 bytes are a `TestData`: what the seeds' reader
    /// shows is what this returns.
    ///
    /// # Errors
    /// [`SeedReadError::Lock`] when the lock is not had within `lock_timeout`.
    pub fn read_test_data(&self, lock_timeout: Duration) -> Result<TestData, SeedReadError> {
        let _lock = self.lock(lock_timeout).map_err(SeedReadError::Lock)?;
        let mut bytes = [0u8; TEST_DATA_LEN_BYTES];
        self.region.copy_out(0, &mut bytes);
        Ok(TestData::from_bytes(&bytes)?)
    }

    fn check_fits(&self, record_len: u64) -> Result<(), WriteError> {
        let capacity_bytes = self.len_bytes();
        if record_len > capacity_bytes {
            return Err(WriteError::TooLarge {
                payload_len_bytes: record_len,
                capacity_bytes,
            });
        }
        Ok(())
    }

    fn lock(&self, timeout: Duration) -> Result<SeedLock<'_>, WriteError> {
        #[cfg(windows)]
        if let Some(mutex) = &self.mutex {
            return mutex
                .lock(timeout)
                .map(|guard| SeedLock {
                    _file: None,
                    _mutex: Some(guard),
                })
                .map_err(crate::writer::lock_error(timeout));
        }
        self.region
            .lock_writer(timeout)
            .map(|exclusive| SeedLock {
                _file: Some(exclusive),
                #[cfg(windows)]
                _mutex: None,
            })
            .map_err(crate::writer::lock_error(timeout))
    }
}

/// Why reading a seed mapping failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedReadError {
    /// The bytes at offset 0 are not an image record.
    #[error("the seed mapping holds no image record: {0}")]
    Decode(#[from] DecodeError),
    /// The file's lock was not had in time.
    #[error(transparent)]
    Lock(WriteError),
}

/// [`OpenError::Io`] for `action` on `path`.
fn io_error(
    path: &std::path::Path,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> OpenError + use<> {
    let path = path.to_owned();
    move |source| OpenError::Io {
        action,
        source,
        path,
    }
}

/// A frame format v2 mapping (it starts with the magic) is refused: a seed
/// record would overwrite its header.
fn refuse_frame_format(region: &SharedRegion, path: &std::path::Path) -> Result<(), OpenError> {
    let mut magic = [0u8; 4];
    region.copy_out(0, &mut magic);
    if magic == MAGIC {
        return Err(OpenError::FrameFormatMapping {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// Creates `path` zero-filled, `len_bytes` long, storage reserved.
fn create(path: &std::path::Path, len_bytes: u64) -> Result<File, OpenError> {
    if !(8..=crate::layout::MAX_MAPPING_LEN_BYTES).contains(&len_bytes) {
        return Err(OpenError::InvalidLength {
            requested_len_bytes: len_bytes,
            min_len_bytes: 8,
            max_len_bytes: crate::layout::MAX_MAPPING_LEN_BYTES,
        });
    }
    let file = create_exclusive(path)?;
    let result = file
        .set_len(len_bytes)
        .and_then(|()| sys::reserve_storage(&file, len_bytes));
    if let Err(source) = result {
        let _ = std::fs::remove_file(path);
        return Err(no_space_or(&file, path, len_bytes, source, |source| {
            OpenError::Io {
                action: "size the seed mapping",
                source,
                path: path.to_owned(),
            }
        }));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> Location {
        let path = std::env::temp_dir().join(format!("seed-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        Location::File(path)
    }

    #[test]
    fn image_records_and_test_data_round_trip_at_offset_zero() {
        let location = scratch("round-trip");
        let writer = SeedMapping::open(&location, Some(SEED_MAPPING_LEN_BYTES)).unwrap();
        let reader = SeedMapping::open(&location, None).unwrap();
        let empty = reader.read_image(Duration::from_secs(5)).unwrap();
        assert_eq!((empty.path.as_str(), empty.image.len()), ("", 0));
        writer
            .write_image(
                "C:\\photos\\cat.png",
                b"\x89PNG not really",
                Duration::from_secs(5),
            )
            .unwrap();
        let bytes = std::fs::read(location.path()).unwrap();
        assert_eq!(bytes[..4], 17i32.to_le_bytes(), "path_len at offset 0");
        assert_eq!(&bytes[4..21], b"C:\\photos\\cat.png");
        assert_eq!(
            bytes[21..25],
            15i32.to_le_bytes(),
            "image_len after the path"
        );
        let read = reader.read_image(Duration::from_secs(5)).unwrap();
        assert_eq!(read.path, "C:\\photos\\cat.png");
        assert_eq!(read.image, b"\x89PNG not really");
        let data = TestData::default();
        writer
            .write_test_data(&data, Duration::from_secs(5))
            .unwrap();
        assert_eq!(reader.read_test_data(Duration::from_secs(5)).unwrap(), data);
        assert_eq!(
            std::fs::read(location.path()).unwrap()[..48],
            data.to_bytes()
        );
        std::fs::remove_file(location.path()).unwrap();
    }

    #[test]
    fn bad_lengths_big_records_and_v2_mappings_get_clear_errors() {
        let location = scratch("bad");
        let seed = SeedMapping::open(&location, Some(4096)).unwrap();
        let err = seed
            .write_image("p", &[0; 5000], Duration::from_secs(5))
            .unwrap_err();
        assert!(
            matches!(
                err,
                WriteError::TooLarge {
                    payload_len_bytes: 5009,
                    capacity_bytes: 4096
                }
            ),
            "{err}"
        );
        // A TestData read as an image: its id is the path length. Id 100 reads
        // as a 100-byte path (the layout has no kind to tell them apart); a
        // length past the mapping, or a negative one, is refused.
        for (id, overflow) in [(1_000_000, true), (-5, false)] {
            let data = TestData {
                id,
                ..TestData::default()
            };
            seed.write_test_data(&data, Duration::from_secs(5)).unwrap();
            let err = seed.read_image(Duration::from_secs(5)).unwrap_err();
            let expected = if overflow {
                matches!(
                    err,
                    SeedReadError::Decode(DecodeError::LengthMismatch { .. })
                )
            } else {
                matches!(
                    err,
                    SeedReadError::Decode(DecodeError::NegativeLength { value: -5, .. })
                )
            };
            assert!(expected, "id {id}: {err}");
        }
        std::fs::remove_file(location.path()).unwrap();

        let v2 = scratch("v2");
        let mapping = crate::Mapping::from_file(v2.path(), 1 << 16).unwrap();
        let err = SeedMapping::open(&v2, None).unwrap_err();
        assert!(matches!(err, OpenError::FrameFormatMapping { .. }), "{err}");
        drop(mapping);
        std::fs::remove_file(v2.path()).unwrap();
    }
}
