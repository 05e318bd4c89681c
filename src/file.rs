//! The one bounded reader: every file credcheck reads, or hands to the SDK (profile files,
//! token files, `AWS_CA_BUNDLE`, the SSO cache), passes through [`read`], and every folder it
//! lists (a Fluent Bit `@INCLUDE` glob) through [`list_dir`].
//!
//! Rules:
//! - regular files only (a link to one is fine), and `/dev/null`, which reads as an empty file
//!   as it does for every SDK (`AWS_CONFIG_FILE=/dev/null` is the usual "no config"): a FIFO,
//!   socket, directory or any other device is refused by its type before it is opened, so
//!   `/dev/zero` or a FIFO with no writer cannot stall or flood the run;
//! - a size cap per kind of file, checked on the metadata and again while reading;
//! - the read runs on its own thread and is abandoned at the run's deadline, so a hung mount
//!   (NFS, FUSE) cannot stall the runtime; the process ends at the deadline regardless.
//!
//! Reads no env vars (the deadline is set once by `main`).

use std::fmt;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// `O_NONBLOCK` (Linux): opening a FIFO swapped in after the type check does not block.
const O_NONBLOCK: i32 = 0o4000;
/// Without a deadline (unit tests), a read may take this long.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);

static DEADLINE: OnceLock<Instant> = OnceLock::new();

/// Sets the instant after which no file read is waited for (once per process).
pub fn set_deadline(at: Instant) {
    let _ = DEADLINE.set(at);
}

fn time_left() -> Duration {
    DEADLINE.get().map_or(DEFAULT_WAIT, |d| {
        d.saturating_duration_since(Instant::now())
    })
}

/// Why a file could not be read; its Display is one clause for a message.
#[derive(Debug)]
pub enum FileError {
    NotRegular(&'static str),
    TooLarge { size: u64, cap: u64 },
    TimedOut,
    Io(io::Error),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotRegular(kind) => write!(f, "it is a {kind}, not a regular file"),
            FileError::TooLarge { size, cap } => {
                write!(
                    f,
                    "it is {size} bytes, more than the {cap} bytes such a file can be"
                )
            }
            FileError::TimedOut => {
                f.write_str("reading it did not finish before the deadline (a hung mount?)")
            }
            FileError::Io(e) => write!(f, "{}", io_text(e)),
        }
    }
}

impl std::error::Error for FileError {}

impl From<FileError> for io::Error {
    fn from(e: FileError) -> io::Error {
        match e {
            FileError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        }
    }
}

/// The OS's own words (as the SDKs print them), with a plainer name for a link loop.
fn io_text(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(40) => format!("a symbolic link loop ({e})"),
        _ => e.to_string(),
    }
}

/// Reads `path` whole, if it is a regular file of at most `cap` bytes, before the deadline.
pub fn read(path: &Path, cap: u64) -> Result<Vec<u8>, FileError> {
    let path = path.to_path_buf();
    run_bounded(move || read_here(&path, cap))
}

/// The names in a directory (at most `max`), listed on its own thread and waited for until
/// the deadline like a read: a folder on a hung mount cannot stall the run either.
pub fn list_dir(path: &Path, max: usize) -> Result<Vec<String>, FileError> {
    let path = path.to_path_buf();
    run_bounded(move || {
        let entries = std::fs::read_dir(&path).map_err(FileError::Io)?;
        Ok(entries
            .flatten()
            .take(max)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    })
}

/// Runs a read on its own thread and waits for it until the deadline.
pub fn run_bounded<T, F>(read: F) -> Result<T, FileError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, FileError> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("credcheck-read".into())
        .spawn(move || {
            let _ = tx.send(read());
        });
    if let Err(e) = spawned {
        return Err(FileError::Io(e));
    }
    rx.recv_timeout(time_left())
        .unwrap_or(Err(FileError::TimedOut))
}

/// The first `max` bytes of a regular file of any size (a script's `#!` line).
pub fn read_head(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let path = path.to_path_buf();
    run_bounded(move || {
        ensure_regular(&std::fs::metadata(&path).map_err(FileError::Io)?, u64::MAX)?;
        let mut head = Vec::new();
        open_regular(&path, u64::MAX)?
            .take(max)
            .read_to_end(&mut head)
            .map_err(FileError::Io)?;
        Ok(head)
    })
}

fn read_here(path: &Path, cap: u64) -> Result<Vec<u8>, FileError> {
    ensure_regular(&std::fs::metadata(path).map_err(FileError::Io)?, cap)?;
    read_capped(open_regular(path, cap)?, cap)
}

fn open_regular(path: &Path, cap: u64) -> Result<File, FileError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .map_err(FileError::Io)?;
    // The path may have been swapped between the check and the open: check what was opened.
    ensure_regular(&file.metadata().map_err(FileError::Io)?, cap)?;
    Ok(file)
}

fn read_capped(file: File, cap: u64) -> Result<Vec<u8>, FileError> {
    let mut buf = Vec::new();
    file.take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(FileError::Io)?;
    if buf.len() as u64 > cap {
        return Err(FileError::TooLarge {
            size: buf.len() as u64,
            cap,
        });
    }
    Ok(buf)
}

/// `/dev/null`'s device number (Linux: major 1, minor 3; `makedev(1, 3)`).
const DEV_NULL: u64 = (1 << 8) | 3;

/// The null device, wherever it is linked from: reads end at once, so it is an empty file.
fn is_dev_null(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == DEV_NULL
}

/// Refuses anything but a regular file (or `/dev/null`) within the cap, naming what it is
/// instead.
pub fn ensure_regular(meta: &Metadata, cap: u64) -> Result<(), FileError> {
    let t = meta.file_type();
    let kind = if t.is_file() || is_dev_null(meta) {
        None
    } else if t.is_dir() {
        Some("directory")
    } else if t.is_fifo() {
        Some("FIFO (named pipe)")
    } else if t.is_socket() {
        Some("socket")
    } else if t.is_char_device() {
        Some("character device")
    } else if t.is_block_device() {
        Some("block device")
    } else {
        Some("special file")
    };
    if let Some(kind) = kind {
        return Err(FileError::NotRegular(kind));
    }
    if meta.len() > cap {
        return Err(FileError::TooLarge {
            size: meta.len(),
            cap,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_large_files_are_refused_by_type_or_size() {
        let e = read(Path::new("/dev/zero"), 1024).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        let e = read(Path::new("/"), 1024).unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        assert!(matches!(read(&big, 1024), Err(FileError::TooLarge { .. })));
        assert_eq!(read(&big, 4096).unwrap().len(), 2048);
    }

    #[test]
    fn dev_null_is_an_empty_file() {
        assert_eq!(read(Path::new("/dev/null"), 1024).unwrap(), b"");
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert_eq!(read(&link, 1024).unwrap(), b"");
        for other in ["/dev/zero", "/dev/urandom", "/dev/full"] {
            let e = read(Path::new(other), 1024).unwrap_err();
            assert!(e.to_string().contains("character device"), "{other}: {e}");
        }
    }

    #[test]
    fn a_symlink_loop_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::os::unix::fs::symlink(&a, &a).unwrap();
        let e = read(&a, 10).unwrap_err();
        assert!(e.to_string().contains("symbolic link loop"), "{e}");
    }
}
