//! Files for this user only, on Windows (docs/WINDOWS-PLAN.md, section 3.6):
//! what this crate creates gets an explicit owner (this process's user) and a
//! protected DACL with one entry, full access for that user; what it opens must
//! be owned by this user and grant access to nobody but this user, `SYSTEM`,
//! the Administrators group (who can take any file anyway) and `OWNER RIGHTS`.

use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt as _;
use std::os::windows::io::{AsRawHandle as _, FromRawHandle as _};
use std::path::Path;
use std::sync::OnceLock;

use windows_sys::Win32::Foundation::{
    ERROR_ALREADY_EXISTS, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, GetSecurityInfo,
    SDDL_REVISION_1, SE_FILE_OBJECT, SetNamedSecurityInfoW,
};
use windows_sys::Win32::Security::{
    ACE_HEADER, ACL, ACL_SIZE_INFORMATION, AclSizeInformation, DACL_SECURITY_INFORMATION, EqualSid,
    GetAce, GetAclInformation, GetSecurityDescriptorDacl, GetSecurityDescriptorOwner,
    GetTokenInformation, INHERIT_ONLY_ACE, IsWellKnownSid, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SECURITY_ATTRIBUTES,
    TOKEN_QUERY, TOKEN_USER, TokenUser, WinBuiltinAdministratorsSid, WinCreatorOwnerRightsSid,
    WinLocalSystemSid,
};
use windows_sys::Win32::Storage::FileSystem::{
    CREATE_NEW, CreateDirectoryW, CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_FLAG_OPEN_REPARSE_POINT,
    FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

use super::OwnedHandle;
use crate::sys::AccessProblem;

/// `ACCESS_ALLOWED_ACE_TYPE` (winnt.h).
const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;
/// The deny entry types (winnt.h): `ACCESS_DENIED_ACE_TYPE`,
/// `ACCESS_DENIED_OBJECT_ACE_TYPE`, `ACCESS_DENIED_CALLBACK_ACE_TYPE` and
/// `ACCESS_DENIED_CALLBACK_OBJECT_ACE_TYPE`: they take access away, so they
/// never make a file too open.
const DENY_ACE_TYPES: [u8; 4] = [1, 6, 10, 12];

/// This process's user: its SID (copied out of the token) and its string form.
struct User {
    /// The SID's bytes; `PSID` points at them.
    sid: Vec<u8>,
    /// E.g. `S-1-5-21-…-1001`.
    text: String,
}

impl User {
    fn psid(&self) -> PSID {
        self.sid.as_ptr().cast_mut().cast()
    }
}

/// This process's user, read once from its token.
fn user() -> io::Result<&'static User> {
    static USER: OnceLock<Option<User>> = OnceLock::new();
    USER.get_or_init(read_user).as_ref().ok_or_else(|| {
        io::Error::other("cannot read this process's user from its token (OpenProcessToken)")
    })
}

fn read_user() -> Option<User> {
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the pseudo-handle of this process is always valid; `token` is a
    // valid out-parameter.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return None;
    }
    let token = OwnedHandle::new(token)?;
    // A TOKEN_USER is a pointer and an attributes word followed by the SID
    // (at most 68 bytes): 256 bytes hold it. u64 words keep it aligned.
    let mut buffer = [0u64; 32];
    let mut needed = 0u32;
    // SAFETY: the buffer is writable for its stated size; `needed` is a valid
    // out-parameter; the token was opened with TOKEN_QUERY.
    let ok = unsafe {
        GetTokenInformation(
            token.0,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            std::mem::size_of_val(&buffer) as u32,
            &mut needed,
        )
    };
    if ok == 0 {
        return None;
    }
    // SAFETY: the call succeeded, so the buffer starts with a TOKEN_USER whose
    // SID points into the buffer.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    // SAFETY: `sid` is the token's valid SID inside `buffer` (above).
    let text = unsafe { sid_text(sid) }?;
    // SAFETY: `sid` is a valid SID inside `buffer` (above); its length comes
    // from the SID itself.
    let len = unsafe { windows_sys::Win32::Security::GetLengthSid(sid) } as usize;
    // SAFETY: `sid` points at `len` readable bytes inside `buffer`.
    let bytes = unsafe { std::slice::from_raw_parts(sid.cast::<u8>(), len) }.to_vec();
    Some(User { sid: bytes, text })
}

/// `sid` as text (`S-1-…`), or `None` if it cannot be converted.
///
/// # Safety
/// `sid` points to a valid SID.
unsafe fn sid_text(sid: PSID) -> Option<String> {
    let mut text: *mut u16 = std::ptr::null_mut();
    // SAFETY: `sid` is a valid SID (this function's contract); `text` is a valid
    // out-parameter, set to a LocalAlloc'ed NUL-terminated string on success.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return None;
    }
    // SAFETY: on success `text` is NUL-terminated; read up to the NUL.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: `len` u16s before the NUL are readable (just counted).
    let result = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
    // SAFETY: `text` was allocated by the call above with LocalAlloc and is
    // freed once.
    unsafe { LocalFree(text.cast()) };
    Some(result)
}

/// A security descriptor, freed on drop. Invariant: the pointer is a valid,
/// LocalAlloc'ed descriptor (made only by [`Descriptor::from_sddl`] and from
/// what `GetSecurityInfo` returned).
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Descriptor {
    /// # Errors
    /// The conversion's error (a malformed SDDL string).
    fn from_sddl(sddl: &str) -> io::Result<Self> {
        let wide: Vec<u16> = sddl.encode_utf16().chain([0]).collect();
        let mut descriptor: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; `descriptor` is a valid
        // out-parameter; the size out-parameter may be null.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                wide.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                std::ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(descriptor))
    }

    /// Owned by this process's user, with a protected DACL (nothing inherited)
    /// that grants this user full access (`FA`) and nobody else anything.
    fn owner_only() -> io::Result<Self> {
        let sid = &user()?.text;
        Self::from_sddl(&format!("O:{sid}D:P(A;;FA;;;{sid})"))
    }

    /// [`Descriptor::owner_only`] for a directory: its one entry is also
    /// inherited by the files and directories made in it (`OICI`), so that
    /// what another program makes there is this user's only too.
    fn owner_only_dir() -> io::Result<Self> {
        let sid = &user()?.text;
        Self::from_sddl(&format!("O:{sid}D:P(A;OICI;FA;;;{sid})"))
    }

    /// Its owner and its DACL (null when it has none: everyone has access).
    fn owner_and_dacl(&self) -> (PSID, *const ACL) {
        let (mut owner, mut dacl): (PSID, *mut ACL) = (std::ptr::null_mut(), std::ptr::null_mut());
        let (mut defaulted, mut present) = (0, 0);
        // SAFETY: `self.0` is a valid descriptor (the type's invariant); the
        // out-parameters are valid. The pointers returned point into the
        // descriptor: callers use them only while `self` lives.
        unsafe {
            GetSecurityDescriptorOwner(self.0, &mut owner, &mut defaulted);
            GetSecurityDescriptorDacl(self.0, &mut present, &mut dacl, &mut defaulted);
        }
        if present == 0 {
            dacl = std::ptr::null_mut();
        }
        (owner, dacl)
    }
}

impl Descriptor {
    /// Security attributes that give a new object this descriptor (the handle
    /// is not inherited); they point into `self`, which must outlive their use.
    fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.0,
            bInheritHandle: 0,
        }
    }
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: the descriptor was LocalAlloc'ed by the call that made it and
        // is freed once.
        unsafe { LocalFree(self.0) };
    }
}

/// `path` as a NUL-terminated UTF-16 string.
fn wide_path(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain([0]).collect()
}

/// Creates the file `path`, which must not exist, read-write, owned by this
/// user with a protected DACL that lets only this user in; a reparse point
/// (symlink) at `path` is never followed.
///
/// # Errors
/// `CreateFileW`'s error (`AlreadyExists` when `path` exists), or not being
/// able to read this process's user.
pub(crate) fn create_new_file(path: &Path) -> io::Result<File> {
    let descriptor = Descriptor::owner_only()?;
    let attributes = descriptor.attributes();
    let wide = wide_path(path);
    // SAFETY: `wide` is NUL-terminated; `attributes` and the descriptor it
    // points at live across the call; no template handle.
    let handle = unsafe {
        CreateFileW(
            wide.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            &attributes,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT,
            std::ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `handle` is a file handle just opened, owned by nobody else.
    Ok(unsafe { File::from_raw_handle(handle) })
}

/// Creates the directory `dir` (its parent must exist) for this user only, as
/// [`create_new_file`] does files; an existing directory is left as it is.
///
/// # Errors
/// `CreateDirectoryW`'s error other than "already exists".
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    let descriptor = Descriptor::owner_only_dir()?;
    let attributes = descriptor.attributes();
    let wide = wide_path(dir);
    // SAFETY: `wide` is NUL-terminated; `attributes` and its descriptor live
    // across the call.
    if unsafe { CreateDirectoryW(wide.as_ptr(), &attributes) } == 0 {
        let error = io::Error::last_os_error();
        if error.raw_os_error() != Some(ERROR_ALREADY_EXISTS as i32) {
            return Err(error);
        }
    }
    Ok(())
}

/// Replaces the DACL of the file at `path` with a protected one that lets only
/// this user in (the owner is left as it is).
///
/// # Errors
/// `SetNamedSecurityInfoW`'s error (e.g. access denied on another user's file).
pub(crate) fn restrict_to_owner(path: &Path) -> io::Result<()> {
    let descriptor = Descriptor::owner_only()?;
    let (_, dacl) = descriptor.owner_and_dacl();
    let wide = wide_path(path);
    // SAFETY: `wide` is NUL-terminated; `dacl` points into `descriptor`, which
    // lives across the call; no owner, group or SACL is given.
    let status = unsafe {
        SetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            dacl,
            std::ptr::null(),
        )
    };
    if status != 0 {
        return Err(io::Error::from_raw_os_error(status as i32));
    }
    Ok(())
}

/// A mapping's file must be this user's and accessible to nobody else (but
/// `SYSTEM` and Administrators): its owner and DACL, read from the open handle
/// (`GetSecurityInfo`; the handle has `READ_CONTROL`, part of `GENERIC_READ`).
///
/// # Errors
/// [`AccessProblem::ForeignOwnerSid`] when another SID owns it (or the owner
/// cannot be read); [`AccessProblem::TooPermissiveAcl`] when it has no DACL or
/// its DACL lets someone else in.
pub(crate) fn check_access(file: &File) -> Result<(), AccessProblem> {
    let mut raw: PSECURITY_DESCRIPTOR = std::ptr::null_mut();
    let (mut owner, mut dacl): (PSID, *mut ACL) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: the handle is `file`'s, open for the call; the out-parameters are
    // valid; on success `raw` is a LocalAlloc'ed descriptor that `owner` and
    // `dacl` point into, freed by `Descriptor`'s drop after their last use.
    let status = unsafe {
        GetSecurityInfo(
            file.as_raw_handle(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            std::ptr::null_mut(),
            &mut dacl,
            std::ptr::null_mut(),
            &mut raw,
        )
    };
    if status != 0 {
        return Err(AccessProblem::ForeignOwnerSid {
            owner_sid: format!(
                "unknown (its owner cannot be read: {})",
                io::Error::from_raw_os_error(status as i32)
            ),
            our_sid: user().map_or_else(|_| "unknown".to_owned(), |u| u.text.clone()),
        });
    }
    let _descriptor = Descriptor(raw);
    // SAFETY: `owner` and `dacl` point into the descriptor just returned (or
    // are null), which `_descriptor` keeps until the end of this function.
    unsafe { judge(owner, dacl) }
}

/// The rule of [`check_access`] on an owner and a DACL (null: none).
///
/// # Safety
/// `owner` is null or a valid SID; `dacl` is null or a valid ACL; both stay
/// valid during the call.
unsafe fn judge(owner: PSID, dacl: *const ACL) -> Result<(), AccessProblem> {
    let ours = user().map_err(|_| AccessProblem::ForeignOwnerSid {
        owner_sid: "unknown".to_owned(),
        our_sid: "unknown (this process's token cannot be read)".to_owned(),
    })?;
    // SAFETY: both are valid SIDs (or `owner` is null, checked first).
    if owner.is_null() || unsafe { EqualSid(owner, ours.psid()) } == 0 {
        return Err(AccessProblem::ForeignOwnerSid {
            // SAFETY: `owner` is null or a valid SID (this function's contract).
            owner_sid: unsafe { describe(owner) },
            our_sid: ours.text.clone(),
        });
    }
    if dacl.is_null() {
        return Err(AccessProblem::TooPermissiveAcl {
            who: "everyone (it has no DACL)".to_owned(),
        });
    }
    let mut size = ACL_SIZE_INFORMATION {
        AceCount: 0,
        AclBytesInUse: 0,
        AclBytesFree: 0,
    };
    // SAFETY: `dacl` is a valid ACL; `size` is writable for its stated size.
    let ok = unsafe {
        GetAclInformation(
            dacl,
            (&raw mut size).cast(),
            std::mem::size_of::<ACL_SIZE_INFORMATION>() as u32,
            AclSizeInformation,
        )
    };
    if ok == 0 {
        return Err(AccessProblem::TooPermissiveAcl {
            who: "unknown (its DACL cannot be read)".to_owned(),
        });
    }
    for index in 0..size.AceCount {
        let mut ace: *mut core::ffi::c_void = std::ptr::null_mut();
        // SAFETY: `index` is below the ACL's entry count; `ace` is a valid
        // out-parameter, set to point into the ACL.
        if unsafe { GetAce(dacl, index, &mut ace) } == 0 {
            return Err(AccessProblem::TooPermissiveAcl {
                who: "unknown (an entry of its DACL cannot be read)".to_owned(),
            });
        }
        // SAFETY: every entry starts with an ACE_HEADER.
        let header = unsafe { *ace.cast::<ACE_HEADER>() };
        if u32::from(header.AceFlags) & INHERIT_ONLY_ACE != 0
            || DENY_ACE_TYPES.contains(&header.AceType)
        {
            continue; // applies only to children, or takes access away
        }
        if header.AceType != ACCESS_ALLOWED_ACE_TYPE {
            return Err(AccessProblem::TooPermissiveAcl {
                who: format!(
                    "an entry of type {} this check does not read",
                    header.AceType
                ),
            });
        }
        // SAFETY: an ACCESS_ALLOWED_ACE is its header, a mask (4 bytes) and
        // the SID, which starts 8 bytes in.
        let sid: PSID = unsafe { ace.cast::<u8>().add(8) }.cast();
        // SAFETY: `sid` is the entry's SID, inside the valid ACL.
        if !unsafe { is_trusted(sid, ours) } {
            return Err(AccessProblem::TooPermissiveAcl {
                // SAFETY: as above.
                who: unsafe { describe(sid) },
            });
        }
    }
    Ok(())
}

/// Whether an allow entry for `sid` keeps a file private: this user, `SYSTEM`,
/// the Administrators group (both can take any file anyway) and `OWNER RIGHTS`.
///
/// # Safety
/// `sid` points to a valid SID.
unsafe fn is_trusted(sid: PSID, ours: &User) -> bool {
    // SAFETY: `sid` is valid (this function's contract); `ours.psid()` points
    // at the SID bytes `ours` holds.
    unsafe {
        EqualSid(sid, ours.psid()) != 0
            || IsWellKnownSid(sid, WinLocalSystemSid) != 0
            || IsWellKnownSid(sid, WinBuiltinAdministratorsSid) != 0
            || IsWellKnownSid(sid, WinCreatorOwnerRightsSid) != 0
    }
}

/// `sid` for a message: its text, with the name of the common groups.
///
/// # Safety
/// `sid` is null or points to a valid SID.
unsafe fn describe(sid: PSID) -> String {
    if sid.is_null() {
        return "nobody (no owner)".to_owned();
    }
    // SAFETY: not null, so valid (this function's contract).
    let text = unsafe { sid_text(sid) }.unwrap_or_else(|| "an unreadable SID".to_owned());
    let name = match text.as_str() {
        "S-1-1-0" => "Everyone",
        "S-1-5-11" => "Authenticated Users",
        "S-1-5-32-545" => "Users",
        "S-1-5-32-546" => "Guests",
        "S-1-5-4" => "Interactive",
        "S-1-5-7" => "Anonymous",
        "S-1-5-32-544" => "Administrators (made by an elevated process?)",
        _ => return text,
    };
    format!("{name} ({text})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule on descriptors written as SDDL: the owner must be us, and
    /// only us, SYSTEM and Administrators may be let in.
    #[test]
    fn the_rule_on_owners_and_dacls() {
        let ours = &user().unwrap().text;
        let verdict = |sddl: &str| {
            let descriptor = Descriptor::from_sddl(sddl).unwrap();
            let (owner, dacl) = descriptor.owner_and_dacl();
            // SAFETY: both point into `descriptor`, alive across the call.
            unsafe { judge(owner, dacl) }
        };
        let private = [
            format!("O:{ours}D:P(A;;FA;;;{ours})"),
            format!("O:{ours}D:(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;{ours})"),
            format!("O:{ours}D:(A;;FA;;;{ours})(D;;FA;;;WD)(A;OICIIO;FA;;;WD)"),
        ];
        for sddl in &private {
            assert!(verdict(sddl).is_ok(), "{sddl}");
        }
        let foreign = format!("O:BAD:P(A;;FA;;;{ours})");
        assert!(
            matches!(verdict(&foreign), Err(AccessProblem::ForeignOwnerSid { ref owner_sid, .. })
                if owner_sid.starts_with("Administrators")),
            "{foreign}"
        );
        let open = [
            (
                format!("O:{ours}D:(A;;FA;;;{ours})(A;;FR;;;WD)"),
                "Everyone",
            ),
            (format!("O:{ours}D:(A;;FR;;;AU)"), "Authenticated Users"),
            (
                format!("O:{ours}D:(A;;FR;;;S-1-5-21-1-2-3-1001)"),
                "S-1-5-21-1-2-3-1001",
            ),
            // No DACL at all. (Wine reads `D:NO_ACCESS_CONTROL` as an empty
            // DACL, which lets nobody in, so it is not the case to test.)
            (format!("O:{ours}"), "everyone"),
        ];
        for (sddl, who_expected) in &open {
            match verdict(sddl) {
                Err(AccessProblem::TooPermissiveAcl { who }) => {
                    assert!(who.starts_with(who_expected), "{sddl}: {who}");
                }
                other => panic!("{sddl}: {other:?}"),
            }
        }
    }

    /// What [`create_new_file`] makes passes [`check_access`]: ours, with no
    /// entry for anyone else (a file made by `File::create` in the same
    /// directory gets Everyone's read under Wine, so this is not a given).
    #[test]
    fn our_files_are_ours_alone() {
        let dir = test_dir("files");
        let path = dir.join("file");
        let file = create_new_file(&path).unwrap();
        check_access(&file).unwrap();
        assert_eq!(
            create_new_file(&path).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        drop(file);
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }

    /// A mapping's file that Everyone may access is refused by
    /// [`crate::Mapping::open`] with what to do; [`restrict_to_owner`] mends
    /// it. The mapping was made by [`crate::Mapping::from_file`], so it passed
    /// until then.
    #[test]
    fn a_mapping_others_may_access_is_refused() {
        use crate::{Location, Mapping, MappingOptions, OpenError, OpenMode};
        let dir = test_dir("mapping");
        let path = dir.join("mapping");
        drop(Mapping::from_file(&path, 1 << 16).unwrap());
        let open = || {
            let options = MappingOptions::new().mode(OpenMode::OpenExisting);
            Mapping::open(&Location::File(path.clone()), &options)
        };
        open().unwrap();

        let everyone = Descriptor::from_sddl("D:(A;;FA;;;WD)").unwrap();
        let (_, dacl) = everyone.owner_and_dacl();
        let wide = wide_path(&path);
        // SAFETY: `wide` is NUL-terminated; `dacl` points into `everyone`,
        // alive across the call.
        let status = unsafe {
            SetNamedSecurityInfoW(
                wide.as_ptr(),
                SE_FILE_OBJECT,
                DACL_SECURITY_INFORMATION,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                dacl,
                std::ptr::null(),
            )
        };
        assert_eq!(status, 0);
        let error = open().err().unwrap();
        assert!(
            matches!(error, OpenError::TooPermissiveAcl { ref who, .. } if who.starts_with("Everyone")),
            "{error}"
        );
        assert!(error.to_string().contains("restrict_to_owner"), "{error}");
        restrict_to_owner(&path).unwrap();
        open().unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }

    /// A new, empty private directory for one test (Wine reuses process ids,
    /// so what a failed run left there is removed first).
    fn test_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("shm-core-acl-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        create_private_dir(&dir).unwrap();
        create_private_dir(&dir).unwrap();
        dir
    }
}
