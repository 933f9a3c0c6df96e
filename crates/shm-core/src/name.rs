//! Mapping names and where a mapping lives.

use std::fmt;
use std::path::PathBuf;

use crate::error::NameError;

/// The default mapping name, `shm-exchange`.
pub const DEFAULT_NAME: &str = "shm-exchange";

/// Longest name in bytes (the macOS `shm_open` limit, kept on every platform so
/// names stay portable).
pub const MAX_NAME_LEN_BYTES: usize = 30;

/// Directory where Linux keeps POSIX shared-memory objects.
#[cfg(unix)]
pub const SHM_DIR: &str = "/dev/shm";

/// The directory that holds named mappings: [`SHM_DIR`] (`/dev/shm`) on Unix.
///
/// On Windows, for now, `shm-exchange` in the user's temporary directory
/// (`%TEMP%\shm-exchange`, made by the first writer): named mappings are files
/// there, mapped like any file-backed mapping, so only this project's programs
/// find them. Page-file sections in the `Local\` namespace, which the seeds'
/// programs use, are planned (docs/WINDOWS-PLAN.md).
pub fn named_mappings_dir() -> PathBuf {
    #[cfg(unix)]
    return PathBuf::from(SHM_DIR);
    #[cfg(windows)]
    return std::env::temp_dir().join("shm-exchange");
}

/// A validated mapping name: 1 to 30 bytes of `[A-Za-z0-9._-]`, not starting
/// with `.` (spec, "Names"). Such a name can never contain `/`, `..` as a path
/// component, or NUL, so it is safe to join to [`named_mappings_dir`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MappingName(String);

impl MappingName {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`NameError`] naming the rule that `name` breaks.
    ///
    /// # Example
    /// ```
    /// use shm_core::MappingName;
    /// assert!(MappingName::new("shm-exchange").is_ok());
    /// assert!(MappingName::new("../etc/passwd").is_err());
    /// ```
    pub fn new(name: &str) -> Result<Self, NameError> {
        let len_bytes = name.len();
        if len_bytes == 0 {
            return Err(NameError::Empty);
        }
        if len_bytes > MAX_NAME_LEN_BYTES {
            return Err(NameError::TooLong {
                len_bytes,
                max_len_bytes: MAX_NAME_LEN_BYTES,
            });
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(NameError::BadCharacter {
                name: name.escape_debug().to_string(),
                character: bad,
            });
        }
        if name.starts_with('.') {
            return Err(NameError::LeadingDot {
                name: name.to_owned(),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `/dev/shm/<name>`: the file that `shm_open("/<name>")` and Python's
    /// `SharedMemory(name=...)` use on Linux (on Windows, for now, the file
    /// `<name>` in [`named_mappings_dir`]).
    pub fn shm_path(&self) -> PathBuf {
        named_mappings_dir().join(&self.0)
    }
}

impl Default for MappingName {
    fn default() -> Self {
        Self(DEFAULT_NAME.to_owned())
    }
}

impl fmt::Display for MappingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for MappingName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

/// Where a mapping lives: a named POSIX shared-memory object, or a regular file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `/dev/shm/<name>` ([`MappingName::shm_path`]).
    Named(MappingName),
    /// A regular file, sized to the mapping length; its data outlives processes.
    File(PathBuf),
}

impl Location {
    /// How people name it: the mapping name (`shm-exchange`), or the file's
    /// path. [`Display`](fmt::Display) adds the file behind a name.
    pub fn short_name(&self) -> String {
        match self {
            Self::Named(name) => name.as_str().to_owned(),
            Self::File(path) => path.display().to_string(),
        }
    }

    /// The file behind the mapping.
    pub fn path(&self) -> PathBuf {
        match self {
            Self::Named(name) => name.shm_path(),
            Self::File(path) => path.clone(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Named(name) => write!(f, "{name} ({})", name.shm_path().display()),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in ["a", "shm-exchange", "A.b_c-9", &"x".repeat(30)] {
            assert_eq!(MappingName::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_each_broken_rule_with_its_own_error() {
        assert_eq!(MappingName::new(""), Err(NameError::Empty));
        assert!(matches!(
            MappingName::new(&"x".repeat(31)),
            Err(NameError::TooLong { len_bytes: 31, .. })
        ));
        assert!(matches!(
            MappingName::new("a/b"),
            Err(NameError::BadCharacter { character: '/', .. })
        ));
        assert!(matches!(
            MappingName::new("a\0b"),
            Err(NameError::BadCharacter {
                character: '\0',
                ..
            })
        ));
        assert!(matches!(
            MappingName::new(".."),
            Err(NameError::LeadingDot { .. })
        ));
        assert!(matches!(
            MappingName::new(".hidden"),
            Err(NameError::LeadingDot { .. })
        ));
        assert!(matches!(
            MappingName::new("é"),
            Err(NameError::BadCharacter {
                character: 'é', ..
            })
        ));
    }

    #[test]
    fn error_messages_name_the_rule() {
        let msg = MappingName::new("a/b").unwrap_err().to_string();
        assert!(msg.contains("'/'") && msg.contains("A-Za-z0-9._-"), "{msg}");
    }
}
