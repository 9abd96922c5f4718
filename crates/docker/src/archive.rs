//! Files put into a container before it starts: how secrets reach `/run/secrets` without Swarm.

use bollard::body_full;
use bollard::query_parameters::UploadToContainerOptions;

use crate::client::DockerClient;
use crate::error::{DockerError, ObjectRef, Result};

/// A file to write into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerFile {
    /// Absolute path inside the container; missing parent folders are created.
    pub path: String,
    pub contents: Vec<u8>,
    /// Permission bits, e.g. `0o400` for a secret.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

impl DockerClient {
    /// Writes the file into a created (or running) container. In a created container it is in
    /// the writable layer when the container starts; a tmpfs mounted over its folder would hide it.
    pub async fn copy_file_into(&self, container: &str, file: &ContainerFile) -> Result<()> {
        let object = ObjectRef::container(container);
        let archive = file_archive(file).map_err(|message| DockerError::BadParameter {
            object: object.clone(),
            message,
        })?;
        let options = UploadToContainerOptions {
            path: "/".to_string(),
            ..Default::default()
        };
        self.docker
            .upload_to_container(container, Some(options), body_full(archive.into()))
            .await
            .map_err(self.error(object))
    }
}

/// A tar holding the file alone, relative to `/`. No folder entries: the daemon creates
/// missing parents (0755, root), and entries for existing folders would reset their modes.
/// Also a root file system of one file, for an image imported with `import_image`.
pub fn file_archive(file: &ContainerFile) -> Result<Vec<u8>, String> {
    let relative = file
        .path
        .strip_prefix('/')
        .filter(|path| !path.is_empty() && !path.ends_with('/'))
        .ok_or_else(|| format!("{:?} is not an absolute file path", file.path))?;
    if relative
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(format!(
            "{:?} must not contain empty, `.` or `..` parts",
            file.path
        ));
    }
    let to_message = |error: std::io::Error| format!("cannot pack {}: {error}", file.path);
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_mode(file.mode);
    header.set_uid(file.uid);
    header.set_gid(file.gid);
    header.set_size(file.contents.len() as u64);
    builder
        .append_data(&mut header, relative, file.contents.as_slice())
        .map_err(to_message)?;
    builder.into_inner().map_err(to_message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> ContainerFile {
        ContainerFile {
            path: path.to_string(),
            contents: b"s3cret".to_vec(),
            mode: 0o400,
            uid: 1000,
            gid: 1000,
        }
    }

    #[test]
    fn packs_the_file_alone() {
        let archive = file_archive(&file("/run/secrets/token")).unwrap();
        let mut reader = tar::Archive::new(archive.as_slice());
        let entries: Vec<(String, u32, u64)> = reader
            .entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().display().to_string(),
                    header.mode().unwrap(),
                    header.uid().unwrap(),
                )
            })
            .collect();
        assert_eq!(entries, [("run/secrets/token".to_string(), 0o400, 1000)]);
    }

    #[test]
    fn refuses_paths_that_are_not_plain_absolute_files() {
        for path in ["relative", "/", "/run/", "/run/../etc/passwd", "/run//x", "/./x"] {
            assert!(file_archive(&file(path)).is_err(), "{path}");
        }
    }
}
