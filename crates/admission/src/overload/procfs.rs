//! Reading small `/proc` files without allocating.

use std::io::Read;

/// Reads a small procfs file into `buf` without allocating (std opens a short path through a
/// stack buffer): signals may be read on the request path, once per shortest window. `None`
/// when the file is missing, not UTF-8, or does not fit in `buf` (a truncated read would
/// parse as something else).
pub(crate) fn read_small<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut len = 0;
    loop {
        if len == buf.len() {
            // Full: it fits only if the file ends exactly here.
            let mut probe = [0_u8; 1];
            match file.read(&mut probe) {
                Ok(0) => break,
                _ => return None,
            }
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    std::str::from_utf8(&buf[..len]).ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_does_not_fit_is_refused_not_truncated() {
        let mut small = [0_u8; 8];
        assert_eq!(read_small("/proc/self/stat", &mut small), None);
        let mut big = [0_u8; 4096];
        let stat = read_small("/proc/self/stat", &mut big).unwrap_or_default();
        assert!(stat.ends_with('\n'), "{stat:?}");
    }
}
