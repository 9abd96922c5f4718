//! The thin async Docker client the providers call.
//!
//! Typed specs go in ([`NetworkSpec`], [`VolumeSpec`], [`ContainerSpec`], [`BuildSpec`]); every
//! failure comes out as a [`DockerError`] naming the object it was about, with the daemon's
//! causes sorted into the cases a user acts on (daemon down, not found, name taken, in use, port
//! taken, bad parameter, timeout). Requests speak Engine API 1.41 ([`API_VERSION`]), so the
//! crate behaves the same on Docker Engine 20.10 and on newer engines.
//!
//! Nothing here decides what should exist: planning and the order of calls belong to the
//! providers above.

mod archive;
mod build_context;
mod client;
mod container;
mod container_spec;
mod docker_config;
mod dockerignore;
mod error;
mod exec;
mod health;
mod image;
mod labels;
mod logs;
mod network;
mod raw;
mod registry;
mod secret;
pub mod service;
mod swarm;
mod volume;

pub use archive::{ContainerFile, file_archive};
pub use build_context::{ContextEntry, ContextError, entries as context_entries, in_context};
pub use client::{API_VERSION, DockerClient, EngineVersion};
pub use container::{ContainerEndpoint, ContainerInfo, ContainerStatus, ContainerSummary, HealthStatus};
pub use container_spec::{
    ContainerSpec, HealthTest, Healthcheck, Mount, PortBinding, Protocol, Resources, RestartPolicy,
};
pub use docker_config::DockerConfig;
pub use error::{DockerError, ObjectKind, ObjectRef, Result};
pub use exec::{Exec, ExecOutput, ExecSpec, ExecStreams};
pub use image::{BuildSpec, ImageInfo};
pub use labels::{LabelFilter, Labels};
pub use logs::{LogLine, LogRequest, LogStream};
pub use network::{AttachedContainer, NetworkAttachment, NetworkInfo, NetworkSpec, Subnet};
pub use registry::{DEFAULT_REGISTRY, RegistryAuth, RegistryFailure, Transfer, registry_of};
pub use secret::{SecretInfo, SecretSpec};
pub use swarm::SwarmRole;
pub use volume::{VolumeInfo, VolumeSpec};
