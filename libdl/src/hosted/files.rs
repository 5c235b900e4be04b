//! File access with plain system calls: `std::fs` is avoided because the
//! loader reads files while holding its lock, and std may call `dlsym`
//! (which, with the C ABI linked in, is ours).

use alloc::string::String;
use alloc::vec::Vec;

use crate::platform::FileError;

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
    let mut out: Vec<u8> = Vec::new();
    // SAFETY: `st` is plain data filled by fstat on our descriptor.
    let size = unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        if libc::fstat(fd, &raw mut st) == 0 {
            usize::try_from(st.st_size).unwrap_or(0)
        } else {
            0
        }
    };
    out.reserve_exact(size);
    let result = loop {
        if out.capacity() == out.len() {
            out.reserve(64 * 1024);
        }
        let spare = out.capacity() - out.len();
        // SAFETY: we read into the vector's spare capacity and extend its
        // length only by what was read.
        let n = unsafe { libc::read(fd, out.as_mut_ptr().add(out.len()).cast(), spare) };
        match n {
            0 => break Ok(()),
            n if n > 0 => unsafe {
                // SAFETY: `n` bytes were initialised by `read`.
                out.set_len(out.len() + n as usize);
            },
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => break Err(os_error()),
        }
    };
    // SAFETY: closing the descriptor we opened.
    unsafe { libc::close(fd) };
    result.map(|()| out)
}

/// Whether a regular file exists at `path`.
pub(crate) fn exists(path: &str) -> bool {
    let Ok(c) = c_path(path) else { return false };
    // SAFETY: `st` is plain data filled by stat for a NUL-terminated path.
    unsafe {
        let mut st: libc::stat = core::mem::zeroed();
        libc::stat(c.as_ptr().cast(), &raw mut st) == 0
            && (st.st_mode & libc::S_IFMT) == libc::S_IFREG
    }
}

/// `realpath(path)`, or `path` itself if that fails.
pub(crate) fn canonical(path: &str) -> String {
    let Ok(c) = c_path(path) else {
        return String::from(path);
    };
    let mut buf = [0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` has PATH_MAX bytes as realpath requires.
    let r = unsafe { libc::realpath(c.as_ptr().cast(), buf.as_mut_ptr().cast()) };
    if r.is_null() {
        return String::from(path);
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from(core::str::from_utf8(&buf[..len]).unwrap_or(path))
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
