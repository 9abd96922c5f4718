//! `image`: built locally from a build context with the Docker build API; pushed to a registry
//! when it has `push`.
//!
//! An image is built under a tag made from a hash of its inputs (the context's files as
//! `.dockerignore` leaves them, the Dockerfile, args, target, labels). `"${image.NAME}"` reads
//! as that tag, so a rebuild changes the configuration of every service running the image and
//! rolls it, while unchanged inputs are never built again.
//!
//! With `push "HOST/NAME"`, a build is also tagged `HOST/NAME:<content tag>` and pushed there,
//! and `"${image.NAME}"` reads as `HOST/NAME@sha256:...`, the digest the registry gave it: at
//! plan time when this build was pushed before, else once the apply has pushed it (the engine
//! plans its dependents again with it). A build whose push failed is live without `push`, so
//! the next plan pushes it.
//!
//! A built image's labels cannot change, and they record its configuration: `tags` is read
//! from the image's actual tags (and retagged in place); any other change builds again.
//! Several builds of one resource can exist while a container still runs an older one; the
//! newest is the live one, and the others are removed at the next rebuild or on delete.

mod content;
mod reference;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use indexmap::IndexMap;
use stack_diagnostics::Diagnostic;
use stack_docker::{BuildSpec, DockerClient, DockerError, ImageInfo, LabelFilter, Labels, registry_of};
use stack_language::schema::KindSchema;
use stack_language::{Address, Data, Resource, Value};
use stack_provider::labels::{
    ADDRESS, CONFIG, HASH, IMAGE_ADDRESS, IMAGE_CONFIG, IMAGE_HASH, IMAGE_STACK, STACK,
};
use stack_provider::{Config, Desired, Drift, Live, Provider, ProviderError, Resolve, Scope, Setting};

use crate::{common, registry};
use content::BuildInputs;

/// When the image was built, in nanoseconds since the epoch: the newest build of a resource
/// is its live state (the daemon's own creation time counts whole seconds only).
const BUILT: &str = "dev.stack.image.built";
/// The labels every object of a stack carries, and the keys an image carries them under.
const IMAGE_KEYS: [(&str, &str); 4] = [
    (STACK, IMAGE_STACK),
    (ADDRESS, IMAGE_ADDRESS),
    (CONFIG, IMAGE_CONFIG),
    (HASH, IMAGE_HASH),
];
/// The configuration field holding the content hash.
const CONTENT: &str = "content";
const TAGS: &str = "tags";
const PUSH: &str = "push";

pub struct ImageProvider {
    docker: Arc<DockerClient>,
    schema: &'static KindSchema,
}

impl ImageProvider {
    pub fn new(docker: Arc<DockerClient>) -> Self {
        let schema = stack_language::schema::builtin()
            .kind("image")
            .expect("the built-in schema has the image kind");
        ImageProvider { docker, schema }
    }
}

/// One build of a resource found on the daemon.
struct Build {
    address: Address,
    image: ImageInfo,
    config: Config,
    /// The tag the configuration it records gives it.
    own_tag: Option<String>,
}

#[async_trait]
impl Provider for ImageProvider {
    fn schema(&self) -> &'static KindSchema {
        self.schema
    }

    async fn desired(
        &self,
        scope: &Scope,
        resource: &Resource,
        resolve: &dyn Resolve,
    ) -> Result<Desired, Diagnostic> {
        let reference = |address: &Address| reference_text(resolve, address);
        let inputs = build_inputs(resource, &reference)?;
        if !content::has_dockerfile(&inputs) {
            return Err(missing_dockerfile(resource, &inputs));
        }
        let hashing = inputs.clone();
        let hashed = tokio::task::spawn_blocking(move || content::hash(&hashing)).await;
        let content = match hashed {
            Ok(Ok(content)) => content,
            Ok(Err(error)) => return Err(unreadable_context(resource, &error.to_string())),
            Err(error) => {
                let error = format!("hashing the build context failed: {error}");
                return Err(unreadable_context(resource, &error));
            }
        };
        let tag = reference::own_tag(&common::object_name(scope, &resource.address), &content);

        let mut config = Config::from_resource(resource, &scope.stack, reference);
        config
            .0
            .insert(CONTENT.to_owned(), json(format!("sha256:{content}")));
        if let Some(tags) = resource.field(TAGS) {
            let tags = reference::normalized_set(tags.as_list().iter().filter_map(Value::as_str));
            config.0.insert(TAGS.to_owned(), json(tags));
        }
        // A pushed image reads as its digest once pushed; until then as the tag it is pushed
        // under, which the apply replaces by the digest for its dependents.
        let reference = match push_reference(&config, &tag) {
            Some(pushed) => self.pushed_digest(&pushed).await.unwrap_or(pushed),
            None => tag.clone(),
        };
        Ok(Desired {
            address: resource.address.clone(),
            kind: self.schema,
            name: tag,
            config,
            outputs: IndexMap::from([("ref".to_owned(), reference)]),
            external: false,
            source: None,
            payload: Some(Arc::new(inputs)),
        })
    }

    async fn read(&self, scope: &Scope) -> Result<Vec<Live>, ProviderError> {
        let mut lives: Vec<Live> = Vec::new();
        for build in self.builds(scope).await? {
            if !lives.iter().any(|live| live.address == build.address) {
                lives.push(live(build));
            }
        }
        Ok(lives)
    }

    async fn create(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        self.build(scope, desired).await.map(drop)
    }

    /// A pushed image's reference with the digest the registry gave it.
    async fn applied_outputs(
        &self,
        _scope: &Scope,
        desired: &Desired,
    ) -> Result<Option<IndexMap<String, String>>, ProviderError> {
        let Some(pushed) = push_reference(&desired.config, &desired.name) else {
            return Ok(None);
        };
        let digest = self.pushed_digest(&pushed).await.ok_or_else(|| {
            ProviderError::new(format!(
                "{}: {pushed} has no digest after its push",
                desired.address
            ))
            .with_hint("apply again: it pushes the image anew")
        })?;
        Ok(Some(IndexMap::from([("ref".to_owned(), digest)])))
    }

    async fn update(&self, scope: &Scope, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        // First, while the image still has its own tag, so that dropped tags go even if a
        // container keeps the image alive.
        self.retag(desired, live).await?;
        let changed = desired.config.differing(&live.config, self.schema);
        if changed.iter().all(|field| *field == TAGS || *field == PUSH) {
            if changed.contains(&PUSH) {
                self.push(scope, desired).await?;
            }
            return Ok(());
        }
        // The labels recording the configuration are fixed once built: build again (from the
        // daemon's cache, the inputs being the same) to record the change.
        self.replace(scope, desired, live).await
    }

    /// Builds the new image first; the old one goes once no container runs it, which for a
    /// service still to be rolled is at a later rebuild or on delete.
    async fn replace(&self, scope: &Scope, desired: &Desired, _live: &Live) -> Result<(), ProviderError> {
        let built = self.build(scope, desired).await?;
        for build in self.builds(scope).await? {
            if build.address != desired.address || build.image.id == built {
                continue;
            }
            match self.remove(&build).await {
                Ok(()) | Err(DockerError::InUse { .. } | DockerError::Conflict { .. }) => {}
                Err(error) => return Err(common::error(error)),
            }
        }
        Ok(())
    }

    /// Removes every build of the resource, going on past one a container still uses.
    async fn delete(&self, scope: &Scope, live: &Live) -> Result<(), ProviderError> {
        let mut first_error = None;
        for build in self.builds(scope).await? {
            if build.address == live.address
                && let Err(error) = self.remove(&build).await
                && first_error.is_none()
            {
                first_error = Some(self.removal_error(scope, error).await);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl ImageProvider {
    /// Every build of the stack's images, the newest first: one list request.
    async fn builds(&self, scope: &Scope) -> Result<Vec<Build>, ProviderError> {
        let filter = LabelFilter::new(IMAGE_STACK, &scope.stack);
        let images = self.docker.list_images(&filter).await.map_err(common::error)?;
        let mut builds: Vec<(u128, Build)> = images
            .into_iter()
            .filter_map(|image| {
                let (address, config) = common::recorded(&as_object_labels(&image.labels))?;
                let address = common::parse_address(&address, "image")?;
                let built = image
                    .labels
                    .get(BUILT)
                    .and_then(|time| time.parse().ok())
                    .unwrap_or(0);
                let own_tag = config
                    .get(CONTENT)
                    .and_then(Setting::as_json)
                    .and_then(serde_json::Value::as_str)
                    .and_then(|content| content.strip_prefix("sha256:"))
                    .map(|content| reference::own_tag(&common::object_name(scope, &address), content));
                Some((
                    built,
                    Build {
                        address,
                        image,
                        config,
                        own_tag,
                    },
                ))
            })
            .collect();
        builds.sort_by(|(a_built, a), (b_built, b)| {
            b_built.cmp(a_built).then_with(|| a.image.id.cmp(&b.image.id))
        });
        Ok(builds.into_iter().map(|(_, build)| build).collect())
    }

    /// Builds the image under its own tag and its extra tags; returns its id.
    async fn build(&self, scope: &Scope, desired: &Desired) -> Result<String, ProviderError> {
        let inputs = desired.payload::<BuildInputs>().ok_or_else(|| {
            ProviderError::new(format!("{}: the build inputs were not prepared", desired.address))
                .with_hint("plan again: a plan read from a file cannot build images by itself")
        })?;
        let mut labels = inputs.labels.clone();
        labels.extend(as_image_labels(common::labels(scope, desired)));
        let built = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|time| time.as_nanos())
            .unwrap_or(0);
        labels.insert(BUILT.to_owned(), built.to_string());
        let spec = BuildSpec {
            context: inputs.context.clone(),
            dockerfile: Some(inputs.dockerfile.clone()),
            tags: std::iter::once(desired.name.clone())
                .chain(tags(&desired.config))
                .collect(),
            build_args: inputs.args.clone(),
            target: inputs.target.clone(),
            labels,
        };
        let built = self.docker.build_image(&spec, |_| {}).await.map_err(|error| match error {
            DockerError::BuildFailed { .. } => ProviderError::new(format!("{}: {error}", desired.address)).with_hint(
                "fix the Dockerfile or the build context; `docker build` of the context shows the whole log",
            ),
            error => common::error(error),
        })?;
        self.push(scope, desired).await?;
        Ok(built)
    }

    /// Pushes the image under its content tag to the repository `push` names, with the
    /// registry's credentials. A failed push leaves the image built but not pushed, which the
    /// next plan sees (see [`live`]) and the next apply pushes.
    async fn push(&self, scope: &Scope, desired: &Desired) -> Result<(), ProviderError> {
        let Some(pushed) = push_reference(&desired.config, &desired.name) else {
            return Ok(());
        };
        self.docker
            .tag_image(&desired.name, &pushed)
            .await
            .map_err(common::error)?;
        let auth = registry::credentials(scope, registry_of(&pushed)).await?;
        self.docker
            .push_image(&pushed, auth.as_ref(), |_| {})
            .await
            .map(drop)
            .map_err(|error| {
                let error = common::error(error);
                ProviderError {
                    message: format!("{}: {}", desired.address, error.message),
                    ..error
                }
            })
    }

    /// `REPOSITORY@sha256:...` of an image pushed as `pushed` (`REPOSITORY:TAG`), when the host
    /// has it and knows its digest.
    async fn pushed_digest(&self, pushed: &str) -> Option<String> {
        let (repository, _) = pushed.rsplit_once(':')?;
        let image = self.docker.inspect_image(pushed).await.ok()?;
        image
            .repo_digests
            .into_iter()
            .find(|digest| digest.split_once('@').is_some_and(|(name, _)| name == repository))
    }

    /// Gives the live image its own tag (repairing it if removed by hand) and the extra tags the
    /// file lists, and takes off the extra tags it no longer lists.
    async fn retag(&self, desired: &Desired, live: &Live) -> Result<(), ProviderError> {
        let wanted = tags(&desired.config);
        for tag in std::iter::once(&desired.name).chain(&wanted) {
            self.docker
                .tag_image(&live.name, tag)
                .await
                .map_err(common::error)?;
        }
        for tag in tags(&live.config).into_iter().filter(|tag| !wanted.contains(tag)) {
            match self.docker.remove_image(&tag, false).await {
                Err(error) if !error.is_not_found() => return Err(common::error(error)),
                _ => {}
            }
        }
        Ok(())
    }

    /// A removal the daemon refused, with what to do about it: a container still runs the
    /// image, named, and said to be the stack's or not.
    async fn removal_error(&self, scope: &Scope, error: DockerError) -> ProviderError {
        let (DockerError::InUse { object, message } | DockerError::Conflict { object, message }) = &error
        else {
            return common::error(error);
        };
        let user = match error.using_container() {
            Some(id) => match self.docker.inspect_container(id).await {
                Ok(container) if container.labels.get(STACK) == Some(&scope.stack) => {
                    Some(format!("container `{}` of this stack", container.name))
                }
                Ok(container) => Some(format!(
                    "container `{}`, which is not the stack's",
                    container.name
                )),
                Err(_) => Some(format!("container {id}")),
            },
            None => None,
        };
        let problem = match user {
            Some(user) => format!("{object} is in use by {user}"),
            None => format!("{object} is in use: {message}"),
        };
        ProviderError::new(problem).with_hint(format!(
            "remove the containers that use it (`docker ps -a --filter ancestor={}`), then run again",
            object.name
        ))
    }

    /// Removes a build: its extra tags, then its own tag (so an image a container still runs
    /// keeps it), or its id when untagged. Gone already is fine.
    async fn remove(&self, build: &Build) -> Result<(), DockerError> {
        let image = &build.image;
        let mut references: Vec<&String> = image
            .tags
            .iter()
            .filter(|tag| Some(*tag) != build.own_tag.as_ref())
            .collect();
        references.extend(
            image
                .tags
                .iter()
                .filter(|tag| Some(*tag) == build.own_tag.as_ref()),
        );
        if references.is_empty() {
            references.push(&image.id);
        }
        for reference in references {
            match self.docker.remove_image(reference, false).await {
                Err(error) if !error.is_not_found() => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }
}

/// The stack's labels of an object under the keys an image carries them with.
fn as_image_labels(labels: Labels) -> Labels {
    labels
        .into_iter()
        .map(
            |(key, value)| match IMAGE_KEYS.iter().find(|(object, _)| *object == key) {
                Some((_, image)) => ((*image).to_owned(), value),
                None => (key, value),
            },
        )
        .collect()
}

/// The stack's labels of an image under the keys every other object carries them with.
fn as_object_labels(labels: &Labels) -> Labels {
    IMAGE_KEYS
        .iter()
        .filter_map(|(object, image)| Some(((*object).to_owned(), labels.get(*image)?.clone())))
        .collect()
}

/// The live state of the newest build: its configuration as recorded, except `tags`, which
/// only the image's actual tags tell.
fn live(build: Build) -> Live {
    let Build {
        address,
        image,
        mut config,
        own_tag,
    } = build;
    let tagged = own_tag.as_ref().filter(|tag| image.tags.contains(tag));
    let pushed_to = config
        .get(PUSH)
        .and_then(Setting::as_json)
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let is_push_repository = |name: &str| pushed_to.as_deref() == Some(name);
    let of_push = |tag: &str| {
        tag.rsplit_once(':')
            .is_some_and(|(name, _)| is_push_repository(name))
    };
    let extra = reference::normalized_set(
        image
            .tags
            .iter()
            .filter(|tag| Some(*tag) != own_tag.as_ref() && !of_push(tag))
            .map(String::as_str),
    );
    // Built but not pushed (the push failed): the plan pushes it again.
    let pushed = image.repo_digests.iter().any(|digest| {
        digest
            .split_once('@')
            .is_some_and(|(name, _)| is_push_repository(name))
    });
    if pushed_to.is_some() && !pushed {
        config.0.shift_remove(PUSH);
    }
    if extra.is_empty() {
        config.0.shift_remove(TAGS);
    } else {
        config.0.insert(TAGS.to_owned(), json(extra));
    }
    let drift = match (&own_tag, tagged) {
        (Some(expected), None) => vec![Drift {
            field: "ref".to_owned(),
            expected: expected.clone(),
            actual: "(untagged)".to_owned(),
        }],
        _ => Vec::new(),
    };
    let state = if image.tags.is_empty() {
        "built, untagged".to_owned()
    } else {
        format!("built: {}", image.tags.join(", "))
    };
    Live {
        address,
        kind: "image",
        name: tagged.cloned().unwrap_or(image.id),
        config,
        drift,
        state,
        healthy: None,
    }
}

/// The reference a configuration with `push` pushes the image under: the repository, and the
/// tag of the image's own tag (its content).
fn push_reference(config: &Config, own_tag: &str) -> Option<String> {
    let repository = config.get(PUSH)?.as_json()?.as_str()?;
    let (_, content) = own_tag.rsplit_once(':')?;
    Some(format!("{repository}:{content}"))
}

/// The extra tags a configuration lists.
fn tags(config: &Config) -> Vec<String> {
    config
        .get(TAGS)
        .and_then(Setting::as_json)
        .and_then(serde_json::Value::as_array)
        .map(|tags| {
            tags.iter()
                .filter_map(|tag| tag.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn json(value: impl Into<serde_json::Value>) -> Setting {
    Setting::Plain(value.into())
}

/// How a reference to another resource reads: its `ref` output, else its name.
fn reference_text(resolve: &dyn Resolve, address: &Address) -> Option<String> {
    let desired = resolve.desired(address)?;
    Some(
        desired
            .outputs
            .get("ref")
            .cloned()
            .unwrap_or_else(|| desired.name.clone()),
    )
}

/// What the build reads, from the resource's fields; the context relative to its file.
fn build_inputs(
    resource: &Resource,
    reference: &impl Fn(&Address) -> Option<String>,
) -> Result<BuildInputs, Diagnostic> {
    let Some(context) = resource.field("context").and_then(Value::as_str) else {
        return Err(Diagnostic::error(
            "stack::missing_field",
            format!("{} has no `context`", resource.address),
        )
        .primary(resource.span, "this image")
        .help("add `context \"DIR\"`: the build context, relative to the directory of the file"));
    };
    let text = |field: &str| resource.field(field).and_then(Value::as_str).map(str::to_owned);
    let map = |field: &str| -> Result<BTreeMap<String, String>, Diagnostic> {
        let entries = resource
            .field(field)
            .and_then(Value::as_map)
            .into_iter()
            .flatten();
        entries
            .map(|(key, value)| match plain_text(value, reference) {
                Some(text) => Ok((key.clone(), text)),
                None => Err(Diagnostic::error(
                    "stack::invalid_value",
                    format!("{}: `{field}.{key}` has no value to build with", resource.address),
                )
                .primary(value.span, "not known when the stack is planned")
                .help("give it a text value, or set the variable it comes from")),
            })
            .collect()
    };
    Ok(BuildInputs {
        context: resource.dir.join(context),
        dockerfile: text("dockerfile").unwrap_or_else(|| "Dockerfile".to_owned()),
        args: map("args")?,
        target: text("target"),
        labels: map("labels")?,
    })
}

/// A scalar as the build gets it.
fn plain_text(value: &Value, reference: &impl Fn(&Address) -> Option<String>) -> Option<String> {
    match &value.data {
        Data::Str(text) => Some(text.clone()),
        Data::Int(number) => Some(number.to_string()),
        Data::Float(number) => Some(number.to_string()),
        Data::Bool(flag) => Some(flag.to_string()),
        Data::Ref(address) => reference(address),
        _ => None,
    }
}

fn span_of(resource: &Resource, field: &str) -> stack_diagnostics::Span {
    resource.field(field).map_or(resource.span, |value| value.span)
}

fn unreadable_context(resource: &Resource, error: &str) -> Diagnostic {
    Diagnostic::error("stack::io", format!("{}: {error}", resource.address))
    .primary(span_of(resource, "context"), "this build context")
    .help(
        "check that the folder and everything in it is readable, or exclude what is not with `.dockerignore`",
    )
}

fn missing_dockerfile(resource: &Resource, inputs: &BuildInputs) -> Diagnostic {
    let field = if resource.field("dockerfile").is_some() {
        "dockerfile"
    } else {
        "context"
    };
    Diagnostic::error(
        "stack::io",
        format!(
            "{}: there is no `{}` in the build context {}",
            resource.address,
            inputs.dockerfile,
            inputs.context.display()
        ),
    )
    .primary(span_of(resource, field), "the Dockerfile is looked for here")
    .help("add the Dockerfile to the context, or name it with `dockerfile \"PATH\"`, relative to the context")
}
