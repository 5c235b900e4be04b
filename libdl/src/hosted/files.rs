//! File access with plain system calls: `std::fs` is avoided because the
//! loader reads files while holding its lock, and std may call `dlsym`
//! (which, with the C ABI linked in, is ours).

use alloc::string::String;
use alloc::vec::Vec;

use dl_core::platform::FileError;

fn c_path(path: &str) -> Result<Vec<u8>, FileError> {
    if path.contains('\0') {
        return Err(FileError(String::from("path contains NUL")));
    }
    let mut v = Vec::with_capacity(path.len() + 1);
    v.extend_from_slice(path.as_bytes());
    v.push(0);
    Ok(v)
}

fn os_error() -> FileError {
    let code = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: strerror returns a valid NUL-terminated string for any code.
    let text = unsafe { core::ffi::CStr::from_ptr(libc::strerror(code)) };
    FileError(String::from(text.to_str().unwrap_or("I/O error")))
}

/// Reads the whole file.
pub(crate) fn read(path: &str) -> Result<Vec<u8>, FileError> {
    let c = c_path(path)?;
    // SAFETY: `c` is NUL-terminated; the descriptor is closed below.
    let fd = unsafe { libc::open(c.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(os_error());
    }
    let result = read_fd(fd, file_size(fd).unwrap_or(0));
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(fd) };
    result
}

/// The size `fstat` reports for `fd`.
fn file_size(fd: libc::c_int) -> Option<usize> {
    // SAFETY: `st` is plain data filled by fstat on a descriptor we hold.
    unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        (libc::fstat(fd, &raw mut st) == 0).then(|| usize::try_from(st.st_size).unwrap_or(0))
    }
}

/// Reads `fd` to its end, or up to `size` bytes when `size` (its size when
/// opened) is known: a file is read as it was then, as a mapping would be.
fn read_fd(fd: libc::c_int, size: usize) -> Result<Vec<u8>, FileError> {
    let mut out: Vec<u8> = Vec::new();
    out.reserve_exact(size);
    loop {
        if size > 0 && out.len() == size {
            return Ok(out);
        }
        if out.capacity() == out.len() {
            out.reserve(64 * 1024);
        }
        let spare = out.capacity() - out.len();
        // SAFETY: we read into the vector's spare capacity and extend its
        // length only by what was read.
        let n = unsafe { libc::read(fd, out.as_mut_ptr().add(out.len()).cast(), spare) };
        match n {
            0 => return Ok(out),
            n if n > 0 => unsafe {
                // SAFETY: `n` bytes were initialised by `read`.
                out.set_len(out.len() + n as usize);
            },
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => return Err(os_error()),
        }
    }
}

/// The status of the file at `path`, examined through a descriptor
/// opened with `O_PATH` (which reads nothing): the path is looked up by
/// `open`, as the file itself is later. (User-mode emulators translate the
/// paths of `open` into their target's root, not always those of `statx`,
/// which 32-bit Arm's C library uses for `stat`.)
fn status(path: &str) -> Option<libc::stat> {
    let c = c_path(path).ok()?;
    // SAFETY: `c` is NUL-terminated; the descriptor is closed below.
    let fd = unsafe { libc::open(c.as_ptr().cast(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `st` is plain data filled by fstat on our descriptor, which
    // is then closed.
    unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        let ok = libc::fstat(fd, &raw mut st) == 0;
        libc::close(fd);
        ok.then_some(st)
    }
}

/// Whether a regular file exists at `path`.
pub(crate) fn exists(path: &str) -> bool {
    status(path).is_some_and(|st| (st.st_mode & libc::S_IFMT) == libc::S_IFREG)
}

/// What identifies the file at `path` (its device and inode, as the system
/// loader compares objects), or `path` itself if it cannot be examined.
pub(crate) fn identity(path: &str) -> String {
    match status(path) {
        Some(st) => identity_of(st.st_dev, st.st_ino),
        None => String::from(path),
    }
}

/// The value of environment variable `name` (read with `getenv`, no std).
pub(crate) fn env(name: &core::ffi::CStr) -> Option<String> {
    // SAFETY: getenv with a NUL-terminated name; the result is copied at once.
    let value = unsafe { libc::getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: getenv returned a NUL-terminated string.
    let value = unsafe { core::ffi::CStr::from_ptr(value) };
    value.to_str().ok().map(String::from)
}

/// Files at least this large are mapped rather than read.
const MAP_FILES_FROM: usize = 64 * 1024;

/// An object file mapped read-only (large files) or read into memory
/// (small ones). A mapped file can also place its pages into an image,
/// copy-on-write, as the system loader does.
pub(crate) struct ObjectFile {
    data: Data,
    /// Device and inode, from `fstat` on the open file.
    id: Option<(libc::dev_t, libc::ino_t)>,
}

/// How an object file's contents are held.
enum Data {
    /// Read whole.
    Read(Vec<u8>),
    /// Mapped whole, with its descriptor kept for mapping its pages again.
    Mapped {
        fd: libc::c_int,
        ptr: *const u8,
        len: usize,
    },
}

// SAFETY: the mapping is read-only and owned by this value (unmapped in
// `drop`); the descriptor is only used for `mmap`, which is thread-safe.
unsafe impl Send for ObjectFile {}
// SAFETY: as above; nothing is mutated through `&self`.
unsafe impl Sync for ObjectFile {}

/// Opens `path` for loading.
pub(crate) fn open_object(path: &str) -> Result<ObjectFile, FileError> {
    let c = c_path(path)?;
    // SAFETY: `c` is NUL-terminated; the descriptor is closed below or
    // owned by the returned mapping.
    let fd = unsafe { libc::open(c.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(os_error());
    }
    // SAFETY: `st` is plain data filled by fstat on our descriptor.
    let st = unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        (libc::fstat(fd, &raw mut st) == 0).then_some(st)
    };
    let size = st.map(|st| usize::try_from(st.st_size).unwrap_or(0));
    let id = st.map(|st| (st.st_dev, st.st_ino));
    if let Some(len) = size.filter(|&n| n >= MAP_FILES_FROM) {
        // SAFETY: a fresh read-only private mapping of our descriptor
        // aliases nothing; it is unmapped when the `ObjectFile` drops.
        let ptr = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                fd,
                0,
            )
        };
        if ptr != libc::MAP_FAILED {
            return Ok(ObjectFile {
                data: Data::Mapped {
                    fd,
                    ptr: ptr.cast_const().cast(),
                    len,
                },
                id,
            });
        }
    }
    let result = read_fd(fd, size.unwrap_or(0));
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(fd) };
    result.map(|v| ObjectFile {
        data: Data::Read(v),
        id,
    })
}

/// The identity string for a device and inode (see [`identity`]).
/// (`dev_t` and `ino_t` are 64-bit or word-sized, depending on the target.)
fn identity_of(dev: libc::dev_t, ino: libc::ino_t) -> String {
    alloc::format!("inode {dev}:{ino}")
}

impl Drop for ObjectFile {
    fn drop(&mut self) {
        if let Data::Mapped { fd, ptr, len } = self.data {
            // SAFETY: the mapping and descriptor are this value's own; no
            // slice of the mapping outlives `&self` borrows of it.
            unsafe {
                libc::munmap(ptr.cast_mut().cast(), len);
                libc::close(fd);
            }
        }
    }
}

impl dl_core::FileContents for ObjectFile {
    fn bytes(&self) -> &[u8] {
        match &self.data {
            Data::Read(v) => v,
            // SAFETY: the whole file is mapped readable at `ptr` until drop;
            // private and never written, so the bytes do not change under
            // the borrow (short of the file being rewritten in place, which
            // breaks the system loader the same way).
            Data::Mapped { ptr, len, .. } => unsafe { core::slice::from_raw_parts(*ptr, *len) },
        }
    }

    fn mapping(&self) -> Option<&dyn modlib::FileMapping> {
        match self.data {
            Data::Read(_) => None,
            Data::Mapped { .. } => Some(self),
        }
    }

    fn identity(&self) -> Option<String> {
        self.id.map(|(dev, ino)| identity_of(dev, ino))
    }
}

impl modlib::FileMapping for ObjectFile {
    fn map_file(
        &self,
        res: &modlib::Reservation,
        offset: usize,
        len: usize,
        file_offset: u64,
        protection: modlib::Protection,
    ) -> bool {
        let Data::Mapped { fd, len: size, .. } = self.data else {
            return false;
        };
        let in_file = usize::try_from(file_offset)
            .ok()
            .and_then(|o| o.checked_add(len))
            .is_some_and(|end| end <= size);
        let in_res = offset.checked_add(len).is_some_and(|end| end <= res.size());
        let Ok(file_offset) = libc::off_t::try_from(file_offset) else {
            return false;
        };
        if !in_file || !in_res || len == 0 {
            return false;
        }
        let at = res
            .host()
            .as_ptr()
            .wrapping_add(offset)
            .cast::<libc::c_void>();
        // SAFETY: `at..at+len` lies inside the reservation, which this image
        // owns exclusively, and nothing borrows it now; the new private
        // mapping of our own descriptor replaces the reserved pages there.
        let got = unsafe {
            libc::mmap(
                at,
                len,
                super::memory::prot_flags(protection),
                if protection == modlib::Protection::ReadWrite {
                    // Copied in now, in one go, instead of one fault per
                    // page as relocations write them.
                    libc::MAP_PRIVATE | libc::MAP_FIXED | libc::MAP_POPULATE
                } else {
                    libc::MAP_PRIVATE | libc::MAP_FIXED
                },
                fd,
                file_offset,
            )
        };
        if got == at {
            return true;
        }
        // A failed fixed mapping may have dropped the reserved pages: put
        // committed ones back so that the loader can copy instead.
        // SAFETY: as above, anonymous pages over our own range.
        unsafe {
            libc::mmap(
                at,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            );
        }
        false
    }
}
