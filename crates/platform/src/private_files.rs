//! Files with personal data (SQLite stores hold the whole directory, the
//! master key seals every credential) are for galsync's user only: what
//! galsync creates is 0700 (directories) and 0600 (files), set at creation
//! whatever the umask, and what it finds looser at start is reported.

use std::io;
use std::path::{Path, PathBuf};

/// Mode of a directory galsync creates for data.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of a data file galsync creates.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `path` and any missing parents with mode 0700; an existing
/// directory is left as it is.
pub fn create_private_dir(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() || path.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR_MODE);
    }
    builder.create(path)
}

/// Creates an empty file with mode 0600 unless it exists, so a program that
/// then opens it (SQLite) never creates it with the umask's mode.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_FILE_MODE);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// The existing paths among `paths` that group or others may read, write or
/// enter, with their mode.
pub fn exposed_paths(paths: &[PathBuf]) -> Vec<(PathBuf, u32)> {
    let mut exposed = Vec::new();
    #[cfg(unix)]
    for path in paths {
        use std::os::unix::fs::PermissionsExt;
        let Ok(metadata) = std::fs::metadata(path) else {
            continue;
        };
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            exposed.push((path.clone(), mode));
        }
    }
    exposed
}

/// Logs a warning for each of `paths` that others may access; returns them.
pub fn warn_if_exposed(paths: &[PathBuf]) -> Vec<(PathBuf, u32)> {
    let exposed = exposed_paths(paths);
    for (path, mode) in &exposed {
        let wanted = if path.is_dir() { "700" } else { "600" };
        tracing::warn!(
            path = %path.display(),
            mode = %format!("{mode:o}"),
            "a file with personal data is accessible to other users; restrict it with chmod {wanted}"
        );
    }
    exposed
}

/// A SQLite database with its write-ahead log and shared-memory files, and
/// the directory holding them.
pub fn sqlite_paths(database: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(parent) = database.parent() {
        if !parent.as_os_str().is_empty() {
            paths.push(parent.to_owned());
        }
    }
    paths.push(database.to_owned());
    for suffix in ["-wal", "-shm"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        paths.push(PathBuf::from(name));
    }
    paths
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_dirs_and_files_are_private_and_looser_ones_are_reported() {
        let root = tempfile::tempdir().unwrap();
        let data_dir = root.path().join("data/nested");
        create_private_dir(&data_dir).unwrap();
        assert_eq!(mode(&data_dir), 0o700);
        assert_eq!(mode(&root.path().join("data")), 0o700);
        let database = data_dir.join("reader.db");
        create_private_file(&database).unwrap();
        assert_eq!(mode(&database), 0o600);
        assert!(exposed_paths(&sqlite_paths(&database)).is_empty());

        std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).unwrap();
        create_private_file(&database).unwrap();
        assert_eq!(mode(&database), 0o644, "an existing file is left as it is");
        assert_eq!(
            warn_if_exposed(&sqlite_paths(&database)),
            vec![(database.clone(), 0o644)]
        );
    }
}
