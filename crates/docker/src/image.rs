//! Images on the daemon: build from a local context, import a rootfs tar, inspect, list, tag,
//! remove (pull and push are in `registry`).

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::path::PathBuf;

use bollard::body_full;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    BuildImageOptions, BuilderVersion, CreateImageOptions, ListImagesOptions, RemoveImageOptions,
    TagImageOptions,
};
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};

use crate::build_context;
use crate::client::DockerClient;
use crate::error::{DockerError, ObjectRef, Result};
use crate::labels::{self, LabelFilter, Labels};

/// How many log lines a failed build reports.
const BUILD_LOG_TAIL: usize = 15;
/// What the classic builder says when a cached layer it built on has been removed (by another
/// stack's destroy, which removed an image sharing it) while it built.
const LAYER_GONE: &[&str] = &["failed to get digest", "unknown parent image ID"];
/// Builds of one image before its failure counts: each retry makes the lost layers anew.
const BUILD_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSpec {
    /// The folder sent to the daemon (less what its `.dockerignore` excludes).
    pub context: PathBuf,
    /// Relative to the context; `Dockerfile` when `None`.
    pub dockerfile: Option<String>,
    /// `name:tag` references the image gets; none leaves it reachable by id only.
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    /// The stage of a multi-stage Dockerfile to stop at.
    pub target: Option<String>,
    pub labels: Labels,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// `sha256:...`
    pub id: String,
    pub tags: Vec<String>,
    /// `repository@sha256:...`: the digests a registry gave the image on push or pull.
    pub repo_digests: Vec<String>,
    pub labels: Labels,
}

impl DockerClient {
    /// Builds with the classic builder (what works without a BuildKit session) and returns the
    /// image id. Every line the build prints goes to `on_output` as it comes.
    ///
    /// A build that stood on a cached layer removed meanwhile (with another image that shared
    /// it) fails; it is built again, and makes that layer anew.
    pub async fn build_image(&self, spec: &BuildSpec, mut on_output: impl FnMut(&str)) -> Result<String> {
        let object = ObjectRef::image(
            spec.tags
                .first()
                .cloned()
                .unwrap_or_else(|| spec.context.display().to_string()),
        );
        let dockerfile = spec
            .dockerfile
            .clone()
            .unwrap_or_else(|| "Dockerfile".to_string());
        // Shared by the attempts, not copied: a context may be large.
        let archive = Bytes::from(pack_context(spec, &dockerfile, &object).await?);
        let mut attempts = 1;
        loop {
            let built = self
                .build_once(spec, &dockerfile, archive.clone(), &object, &mut on_output)
                .await;
            match built {
                Err(DockerError::BuildFailed { message, .. })
                    if LAYER_GONE.iter().any(|words| message.contains(words))
                        && attempts < BUILD_ATTEMPTS =>
                {
                    attempts += 1;
                }
                built => return built,
            }
        }
    }

    async fn build_once(
        &self,
        spec: &BuildSpec,
        dockerfile: &str,
        archive: Bytes,
        object: &ObjectRef,
        on_output: &mut impl FnMut(&str),
    ) -> Result<String> {
        let object = object.clone();
        let options = BuildImageOptions {
            dockerfile: dockerfile.to_string(),
            t: spec.tags.first().cloned(),
            buildargs: Some(labels::to_hash_map(&spec.build_args)),
            labels: Some(labels::to_hash_map(&spec.labels)),
            target: spec.target.clone().unwrap_or_default(),
            rm: true,
            forcerm: true,
            version: BuilderVersion::BuilderV1,
            ..Default::default()
        };
        let mut stream = self.docker.build_image(options, None, Some(body_full(archive)));
        let mut log = VecDeque::with_capacity(BUILD_LOG_TAIL);
        let mut image_id = None;
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(error) => return Err(self.build_error(object, error, log.into())),
            };
            // Without BuildKit, bollard reports the classic builder's `{"aux":{"ID":...}}` as an `ImageId`.
            if let Some(aux) = info.aux {
                image_id = aux.id.or(image_id);
            }
            for line in info
                .stream
                .iter()
                .chain(&info.status)
                .flat_map(|text| text.lines())
            {
                let line = line.trim_end();
                if line.is_empty() {
                    continue;
                }
                on_output(line);
                if log.len() == BUILD_LOG_TAIL {
                    log.pop_front();
                }
                log.push_back(line.to_string());
            }
        }
        let Some(image_id) = image_id else {
            let message = "the daemon did not report the new image's id".to_string();
            return Err(DockerError::BuildFailed {
                object,
                message,
                log_tail: log.into(),
            });
        };
        for tag in spec.tags.iter().skip(1) {
            self.tag_image(&image_id, tag).await?;
        }
        Ok(image_id)
    }

    fn build_error(&self, object: ObjectRef, error: BollardError, log_tail: Vec<String>) -> DockerError {
        match error {
            BollardError::DockerStreamError { error: message }
            | BollardError::DockerResponseServerError { message, .. } => DockerError::BuildFailed {
                object,
                message,
                log_tail,
            },
            error => self.error(object)(error),
        }
    }

    /// Imports a root filesystem tar as the image `reference` (`name:tag`), like `docker
    /// import`. `labels` are set with `LABEL` changes, since import has no label parameter.
    pub async fn import_image(
        &self,
        rootfs_tar: Vec<u8>,
        reference: &str,
        labels: &Labels,
    ) -> Result<String> {
        let object = ObjectRef::image(reference);
        let (repo, tag) = split_reference(reference);
        let options = CreateImageOptions {
            from_src: Some("-".to_string()),
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
            changes: labels
                .iter()
                .map(|(key, value)| format!("LABEL {}={}", quote(key), quote(value)))
                .collect(),
            ..Default::default()
        };
        self.docker
            .create_image(Some(options), Some(body_full(rootfs_tar.into())), None)
            .try_collect::<Vec<_>>()
            .await
            .map_err(self.error(object))?;
        Ok(self.inspect_image(reference).await?.id)
    }

    pub async fn inspect_image(&self, reference: &str) -> Result<ImageInfo> {
        let image = self
            .docker
            .inspect_image(reference)
            .await
            .map_err(self.error(ObjectRef::image(reference)))?;
        Ok(ImageInfo {
            id: image.id.unwrap_or_default(),
            tags: image.repo_tags.unwrap_or_default(),
            repo_digests: image.repo_digests.unwrap_or_default(),
            labels: labels::from_hash_map(image.config.and_then(|config| config.labels)),
        })
    }

    /// The images carrying the label, in one request.
    pub async fn list_images(&self, filter: &LabelFilter) -> Result<Vec<ImageInfo>> {
        let options = ListImagesOptions {
            filters: Some(filter.to_filters()),
            ..Default::default()
        };
        let images = self
            .docker
            .list_images(Some(options))
            .await
            .map_err(self.error(ObjectRef::image(format!("label {}={}", filter.key, filter.value))))?;
        Ok(images
            .into_iter()
            .map(|image| ImageInfo {
                id: image.id,
                // Untagged images list `<none>:<none>`.
                tags: image
                    .repo_tags
                    .into_iter()
                    .filter(|tag| tag != "<none>:<none>")
                    .collect(),
                repo_digests: image
                    .repo_digests
                    .into_iter()
                    .filter(|digest| !digest.starts_with("<none>@"))
                    .collect(),
                labels: image.labels.into_iter().collect(),
            })
            .collect())
    }

    /// Gives the image `source` (a reference or id) the reference `target` (`name:tag`).
    pub async fn tag_image(&self, source: &str, target: &str) -> Result<()> {
        let (repo, tag) = split_reference(target);
        let options = TagImageOptions {
            repo: Some(repo.to_string()),
            tag: Some(tag.to_string()),
        };
        self.docker
            .tag_image(source, Some(options))
            .await
            .map_err(self.error(ObjectRef::image(target)))
    }

    /// Removes the reference (and the image, when it was the last one). An image a container
    /// uses is [`DockerError::InUse`] unless `force`.
    pub async fn remove_image(&self, reference: &str, force: bool) -> Result<()> {
        let options = RemoveImageOptions {
            force,
            ..Default::default()
        };
        self.docker
            .remove_image(reference, Some(options), None)
            .await
            .map(drop)
            .map_err(self.error(ObjectRef::image(reference)))
    }
}

/// Packs the context off the async threads: it reads every file of the folder.
async fn pack_context(spec: &BuildSpec, dockerfile: &str, object: &ObjectRef) -> Result<Vec<u8>> {
    let context = spec.context.clone();
    let dockerfile = dockerfile.to_string();
    let packed = tokio::task::spawn_blocking(move || build_context::pack(&context, &dockerfile)).await;
    let local_file = |path: PathBuf, source| DockerError::LocalFile {
        object: object.clone(),
        path,
        source,
    };
    match packed {
        Ok(Ok(archive)) => Ok(archive),
        Ok(Err(error)) => Err(local_file(error.path, error.source)),
        Err(panicked) => Err(local_file(spec.context.clone(), std::io::Error::other(panicked))),
    }
}

/// `name:tag` into its parts; the tag is `latest` when absent. A `:` before the last `/` is
/// a registry port, not a tag.
fn split_reference(reference: &str) -> (&str, &str) {
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, tag),
        _ => (reference, "latest"),
    }
}

/// A Dockerfile string literal, so label keys and values may hold spaces and quotes.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_references() {
        assert_eq!(split_reference("demo:1.0"), ("demo", "1.0"));
        assert_eq!(split_reference("demo"), ("demo", "latest"));
        assert_eq!(
            split_reference("localhost:5000/demo"),
            ("localhost:5000/demo", "latest")
        );
        assert_eq!(
            split_reference("localhost:5000/demo:2"),
            ("localhost:5000/demo", "2")
        );
    }

    #[test]
    fn quotes_label_values() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}
