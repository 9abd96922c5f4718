use stack_docker::{BuildSpec, DockerError};

use crate::support::{self, Scope};

#[tokio::test]
async fn builds_the_demo_image_from_a_scratch_context() {
    let Some(scope) = Scope::new().await else { return };
    let tag = support::demo_image(&scope).await;
    let image = scope.client.inspect_image(&tag).await.unwrap();
    assert!(image.id.starts_with("sha256:"), "{image:?}");
    assert_eq!(image.tags, [tag]);
    assert_eq!(image.labels, scope.labels());
    let listed = scope.client.list_images(&scope.filter()).await.unwrap();
    assert_eq!(
        listed.iter().map(|image| &image.id).collect::<Vec<_>>(),
        [&image.id]
    );
}

#[tokio::test]
async fn a_failed_build_reports_the_end_of_its_log() {
    let Some(scope) = Scope::new().await else { return };
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY missing.txt /\n",
    )
    .unwrap();
    let spec = BuildSpec {
        context: context.path().to_path_buf(),
        tags: vec![
            format!("{}:broken", scope.name("app")),
            format!("{}:also", scope.name("app")),
        ],
        labels: scope.labels(),
        ..Default::default()
    };
    let mut printed = Vec::new();
    let error = scope
        .client
        .build_image(&spec, |line| printed.push(line.to_string()))
        .await
        .unwrap_err();
    let DockerError::BuildFailed {
        object,
        message,
        log_tail,
    } = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!(object.name, spec.tags[0]);
    assert!(message.contains("missing.txt"), "{message}");
    assert!(
        log_tail.iter().any(|line| line.contains("COPY missing.txt")),
        "{log_tail:?}"
    );
    assert_eq!(&printed, log_tail, "the output was streamed as it came");
}

#[tokio::test]
async fn extra_tags_are_added_after_the_build() {
    let Some(scope) = Scope::new().await else { return };
    let context = tempfile::tempdir().unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        "FROM scratch\nCOPY Dockerfile /\n",
    )
    .unwrap();
    let tags = vec![
        format!("{}:1", scope.name("app")),
        format!("{}:latest", scope.name("app")),
    ];
    let spec = BuildSpec {
        context: context.path().to_path_buf(),
        tags: tags.clone(),
        labels: scope.labels(),
        ..Default::default()
    };
    let id = scope.client.build_image(&spec, |_| {}).await.unwrap();
    let mut found = scope.client.inspect_image(&id).await.unwrap().tags;
    found.sort();
    assert_eq!(found, tags);

    scope.client.remove_image(&tags[0], false).await.unwrap();
    assert_eq!(
        scope.client.inspect_image(&id).await.unwrap().tags,
        [tags[1].clone()]
    );
    scope.client.remove_image(&tags[1], false).await.unwrap();
    assert!(scope.client.inspect_image(&id).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn imports_a_rootfs_tar() {
    let Some(scope) = Scope::new().await else { return };
    let mut rootfs = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(6);
    header.set_mode(0o755);
    rootfs
        .append_data(&mut header, "bin/hello", &b"#!/x\n\n"[..])
        .unwrap();
    let rootfs = rootfs.into_inner().unwrap();

    let reference = format!("{}:1", scope.name("rootfs"));
    let mut labels = scope.labels();
    labels.insert("dev.stack.note".to_string(), "a \"quoted\" value".to_string());
    let id = scope
        .client
        .import_image(rootfs, &reference, &labels)
        .await
        .unwrap();
    let image = scope.client.inspect_image(&reference).await.unwrap();
    assert_eq!(image.id, id);
    assert_eq!(image.tags, std::slice::from_ref(&reference));
    assert_eq!(image.labels, labels);

    scope.client.remove_image(&reference, false).await.unwrap();
    let error = scope.client.inspect_image(&reference).await.unwrap_err();
    assert_eq!(error.to_string(), format!("image `{reference}` does not exist"));
}
