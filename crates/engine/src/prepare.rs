//! Planning: what each resource should be, what is live, and the difference,
//! decided before anything is touched.

use std::collections::{BTreeSet, HashSet};

use futures_util::future::join_all;
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use stack_diagnostics::{Diagnostic, Diagnostics};
use stack_graph::ResourceGraph;
use stack_language::{Address, Data, Resource, Stack};
use stack_plan::{Action, Kept, Plan, Reason, ResourcePlan, diff};
use stack_provider::{Config, Desired, Live, ProviderError, Providers, Resolve, Scope, Setting};

use crate::order::deletion_order;

/// A plan with everything needed to carry it out.
#[derive(Debug)]
pub struct Prepared {
    pub plan: Plan,
    /// Objects of the stack that would go but are kept (their kind is kept
    /// unless asked, like volumes): never deleted by this plan.
    pub kept: Vec<Live>,
    pub(crate) desired: IndexMap<Address, Desired>,
    /// The declarations of the resources the plan changes: planned again during the apply
    /// when a dependency's outputs turn out other than planned.
    pub(crate) declared: IndexMap<Address, Resource>,
    /// Every live object of the stack, by address.
    pub(crate) live: IndexMap<Address, Live>,
    /// The objects to delete, users first, and for each the deletions that go before it.
    pub(crate) deletions: Vec<Live>,
    pub(crate) deletion_needs: Vec<Vec<usize>>,
    /// The resources not planned ([`Action::Unknown`]) because their provider could not read
    /// them, with why: the apply fails them and skips their dependents.
    pub(crate) unknown: IndexMap<Address, ProviderError>,
    /// An error for each of them, on its declaration.
    pub problems: Diagnostics,
}

impl Prepared {
    /// The desired state of the resource at `address`, as the files say.
    pub fn desired(&self, address: &Address) -> Option<&Desired> {
        self.desired.get(address)
    }

    /// A hash of the live state the plan was made against: the objects, their
    /// recorded configuration and their drift. A saved plan is applied only
    /// while this is unchanged.
    pub fn live_fingerprint(&self) -> String {
        let mut objects: Vec<serde_json::Value> = self
            .live
            .values()
            .map(|live| serde_json::json!([live.address.to_string(), live.name, live.config, live.drift]))
            .collect();
        objects.sort_by_key(ToString::to_string);
        fingerprint(&serde_json::Value::Array(objects))
    }

    /// A hash of what the files ask for (sensitive values only as their hashes).
    pub fn desired_fingerprint(&self) -> String {
        let resources: Vec<serde_json::Value> = self
            .desired
            .values()
            .map(|desired| {
                serde_json::json!([
                    desired.address.to_string(),
                    desired.name,
                    desired.config,
                    desired.external
                ])
            })
            .collect();
        fingerprint(&serde_json::Value::Array(resources))
    }
}

fn fingerprint(value: &serde_json::Value) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(value.to_string().as_bytes()))
    )
}

/// Plans `stack` against the live state: each declared resource's action in
/// graph order (dependencies first), then the deletion of the stack's objects
/// that left the files (users first). Objects of the kinds in `keep` are never
/// deleted: they are listed in [`Prepared::kept`] instead.
pub async fn plan(
    providers: &Providers,
    scope: &Scope,
    stack: &Stack,
    graph: &ResourceGraph,
    keep: &[&str],
) -> Result<Prepared, Diagnostics> {
    plan_against(read_live(providers, scope), providers, scope, stack, graph, keep).await
}

/// [`plan`] against the live state `live` gives: a read of the stack's
/// objects, awaited while the desired states are worked out. A command that
/// started the read before the files loaded passes it here.
///
/// A resource whose provider could not read it (the kind's `read` failed, or its
/// `read_external` failed with [`ProviderError::unavailable`]) is planned as
/// [`Action::Unknown`], with an error in [`Prepared::problems`]; the rest is planned.
pub async fn plan_against(
    live: impl Future<Output = LiveRead>,
    providers: &Providers,
    scope: &Scope,
    stack: &Stack,
    graph: &ResourceGraph,
    keep: &[&str],
) -> Result<Prepared, Diagnostics> {
    let mut diagnostics = Diagnostics::new();
    diagnostics.extend(
        stack
            .resources
            .values()
            .filter(|resource| providers.get(resource.kind.name).is_none())
            .map(no_provider),
    );
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let (desired, live) = tokio::join!(desired_states(providers, scope, stack, graph), live);
    let (desired, problems) = desired;
    diagnostics.extend(problems);
    let mut unknown: IndexMap<Address, ProviderError> = desired
        .values()
        .filter_map(|state| {
            let (_, error) = live.unread.iter().find(|(kind, _)| *kind == state.kind.name)?;
            Some((state.address.clone(), error.clone()))
        })
        .collect();
    let (wrong, unchecked) = check_external(providers, scope, &desired, &unknown).await;
    diagnostics.extend(
        wrong
            .iter()
            .map(|(address, error)| provider_failure(address, stack.resources.get(address), error)),
    );
    unknown.extend(unchecked);
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let unknown: IndexMap<Address, ProviderError> = unknown
        .into_iter()
        .map(|(address, error)| {
            let message = format!("not planned: {}", error.message);
            (address, ProviderError { message, ..error })
        })
        .collect();
    let problems: Diagnostics = unknown
        .iter()
        .map(|(address, error)| provider_failure(address, stack.resources.get(address), error))
        .collect();

    let live = by_address(live.objects);
    let mut resources = Vec::new();
    // Replaced resources whose objects their dependents' objects hold.
    let mut held = HashSet::new();
    let every_desired = &desired;
    for address in graph.layers().into_iter().flatten() {
        let (Some(desired), Some(resource)) = (desired.get(address), stack.resources.get(address)) else {
            continue;
        };
        if let Some(error) = unknown.get(address) {
            resources.push(not_planned(desired, error));
            continue;
        }
        let Some(mut planned) = diff(Some(desired), live.get(address)) else {
            continue;
        };
        if live.contains_key(address) && !desired.external {
            replace_with_held(&mut planned, graph, &held);
            follows_new_objects(&mut planned, graph, every_desired, &live);
        }
        if planned.action == Action::Replace
            && providers
                .get(desired.kind.name)
                .is_some_and(|provider| provider.held_by_dependents())
        {
            held.insert(address.clone());
        }
        if planned.action == Action::Replace
            && (prevents_destroy(&desired.config) || declares_prevent_destroy(resource))
        {
            diagnostics.push(replace_prevented(resource, &planned));
        }
        resources.push(planned);
    }

    let (gone, kept): (Vec<Live>, Vec<Live>) = live
        .values()
        .filter(|object| !stack.resources.contains_key(&object.address))
        .cloned()
        .partition(|object| !keep.contains(&object.kind));
    let (deletions, deletion_needs) = deletion_order(gone, None);
    for object in &deletions {
        if prevents_destroy(&object.config) {
            diagnostics.push(
                Diagnostic::error(
                    "stack::prevent_destroy",
                    format!("`{}` is no longer in the files, but it has `prevent-destroy #true`", object.address),
                )
                .help(
                    "put it back into the files; to delete it, set `prevent-destroy #false` on it and apply first, then remove it",
                ),
            );
        }
        resources.extend(diff(None, Some(object)));
    }
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let fetches = crate::fetch::find(providers, scope, stack, &desired, &resources).await;
    let declared = resources
        .iter()
        .filter(|planned| planned.action.changes_something())
        .filter_map(|planned| {
            Some((
                planned.address.clone(),
                stack.resources.get(&planned.address)?.clone(),
            ))
        })
        .collect();
    let mut plan = plan_keeping(stack, resources, &kept);
    match fetches {
        Ok(fetches) => plan.fetches = fetches,
        Err(problems) => return Err(Diagnostics::from(problems)),
    }
    Ok(Prepared {
        plan,
        kept,
        desired,
        declared,
        live,
        deletions,
        deletion_needs,
        unknown,
        problems,
    })
}

/// The plan of a resource its provider could not read.
fn not_planned(desired: &Desired, error: &ProviderError) -> ResourcePlan {
    ResourcePlan {
        address: desired.address.clone(),
        kind: desired.kind.name.to_owned(),
        action: Action::Unknown,
        reasons: vec![Reason::ProviderFailed {
            message: error.message.clone(),
        }],
        changes: Vec::new(),
        drift: Vec::new(),
    }
}

/// Plans the deletion of every object of the stack, users first; objects of
/// the kinds in `keep` stay. One resource with `prevent-destroy #true` (live or
/// in the files) fails the whole destroy, before anything is removed; so does a kind that
/// cannot be read, since what its objects use must outlive them.
pub async fn destroy(
    providers: &Providers,
    scope: &Scope,
    stack: &Stack,
    graph: &ResourceGraph,
    keep: &[&str],
) -> Result<Prepared, Diagnostics> {
    let live = by_address(read_live(providers, scope).await.complete(&scope.stack)?);
    let (gone, kept): (Vec<Live>, Vec<Live>) = live
        .values()
        .cloned()
        .partition(|object| !keep.contains(&object.kind));
    let (deletions, deletion_needs) = deletion_order(gone, Some(graph));
    let mut diagnostics = Diagnostics::new();
    for object in &deletions {
        let declared = stack.resources.get(&object.address);
        if prevents_destroy(&object.config) || declared.is_some_and(declares_prevent_destroy) {
            let mut diagnostic = Diagnostic::error(
                "stack::prevent_destroy",
                format!(
                    "`{}` has `prevent-destroy #true`: nothing was destroyed",
                    object.address
                ),
            )
            .help("set `prevent-destroy #false` on it and apply first if it really should go");
            if let Some(resource) = declared {
                diagnostic = diagnostic.primary(resource.span, "protected here");
            }
            diagnostics.push(diagnostic);
        }
    }
    if diagnostics.has_errors() {
        return Err(diagnostics);
    }
    let resources = deletions
        .iter()
        .map(|object| ResourcePlan {
            address: object.address.clone(),
            kind: object.kind.to_owned(),
            action: Action::Delete,
            reasons: vec![Reason::Destroy],
            changes: Vec::new(),
            drift: Vec::new(),
        })
        .collect();
    let plan = plan_keeping(stack, resources, &kept);
    Ok(Prepared {
        plan,
        kept,
        desired: IndexMap::new(),
        declared: IndexMap::new(),
        live,
        deletions,
        deletion_needs,
        unknown: IndexMap::new(),
        problems: Diagnostics::new(),
    })
}

/// The plan of `resources`, which lists the objects kept.
fn plan_keeping(stack: &Stack, resources: Vec<ResourcePlan>, kept: &[Live]) -> Plan {
    let mut plan = Plan::new(stack.name.clone(), stack.environment.clone(), resources);
    plan.kept = kept
        .iter()
        .map(|object| Kept {
            address: object.address.clone(),
            kind: object.kind.to_owned(),
        })
        .collect();
    plan
}

/// The addresses the files protect with `prevent-destroy #true`: what an
/// apply records, so that they stay protected once they leave the files.
pub fn protected(stack: &Stack) -> BTreeSet<String> {
    stack
        .resources
        .values()
        .filter(|resource| declares_prevent_destroy(resource) && resource.field("external").is_none())
        .map(|resource| resource.address.to_string())
        .collect()
}

/// Refuses a plan or destroy that deletes an object no longer in the files
/// which the last apply recorded as protected (`recorded`).
pub fn check_recorded(
    stack: &Stack,
    recorded: &BTreeSet<String>,
    prepared: Prepared,
) -> Result<Prepared, Diagnostics> {
    let mut diagnostics = Diagnostics::new();
    for object in &prepared.deletions {
        if !stack.resources.contains_key(&object.address) && recorded.contains(&object.address.to_string()) {
            diagnostics.push(
                Diagnostic::error(
                    "stack::prevent_destroy",
                    format!(
                        "`{}` is no longer in the files, but it was applied with `prevent-destroy #true`: nothing was changed",
                        object.address
                    ),
                )
                .help(
                    "put it back into the files; to delete it, first remove `prevent-destroy` from it (or set it to #false) and apply, then remove it from the files",
                ),
            );
        }
    }
    if diagnostics.has_errors() {
        Err(diagnostics)
    } else {
        Ok(prepared)
    }
}

/// The objects of a stack, as far as their providers could read them.
#[derive(Debug, Default)]
pub struct LiveRead {
    pub objects: Vec<Live>,
    /// The kinds whose provider could not read them, with why.
    pub unread: Vec<(&'static str, ProviderError)>,
}

impl LiveRead {
    /// Every object, or an error for each kind that could not be read.
    pub fn complete(self, stack: &str) -> Result<Vec<Live>, Diagnostics> {
        if self.unread.is_empty() {
            return Ok(self.objects);
        }
        Err(self
            .unread
            .iter()
            .map(|(kind, error)| {
                with_hint(
                    Diagnostic::error(
                        "stack::provider",
                        format!(
                            "cannot read the {kind} objects of stack `{stack}`: {}",
                            error.message
                        ),
                    ),
                    error,
                )
            })
            .collect())
    }

    /// Adds what another read found.
    pub fn extend(&mut self, other: LiveRead) {
        self.objects.extend(other.objects);
        self.unread.extend(other.unread);
    }
}

/// Every object of the stack, read from every provider at once (one read per kind).
pub async fn read_live(providers: &Providers, scope: &Scope) -> LiveRead {
    let reads = join_all(
        providers
            .iter()
            .map(|provider| async move { (provider.schema().name, provider.read(scope).await) }),
    )
    .await;
    let mut live = LiveRead::default();
    for (kind, read) in reads {
        match read {
            Ok(objects) => live.objects.extend(objects),
            Err(error) => live.unread.push((kind, error)),
        }
    }
    live
}

/// The desired state of every resource, a graph layer at a time: all of a
/// layer at once, each seeing the desired states of its dependencies. A
/// resource whose dependency failed is left out (that failure is reported).
async fn desired_states(
    providers: &Providers,
    scope: &Scope,
    stack: &Stack,
    graph: &ResourceGraph,
) -> (IndexMap<Address, Desired>, Vec<Diagnostic>) {
    let mut desired: IndexMap<Address, Desired> = IndexMap::new();
    let mut problems = Vec::new();
    let mut missing: HashSet<Address> = HashSet::new();
    for layer in graph.layers() {
        let mut ready = Vec::new();
        for address in layer {
            let blocked = graph
                .dependencies(address)
                .iter()
                .any(|(dependency, _)| missing.contains(*dependency));
            match stack.resources.get(address) {
                Some(resource) if !blocked => ready.push(resource),
                _ => {
                    missing.insert(address.clone());
                }
            }
        }
        let resolved = Resolved(&desired);
        let results = join_all(ready.iter().map(|resource| {
            let resolved = &resolved;
            async move {
                match providers.get(resource.kind.name) {
                    Some(provider) => provider.desired(scope, resource, resolved).await,
                    None => Err(no_provider(resource)),
                }
            }
        }))
        .await;
        for (resource, result) in ready.into_iter().zip(results) {
            match result {
                Ok(state) => {
                    desired.insert(resource.address.clone(), state);
                }
                Err(problem) => {
                    problems.push(problem);
                    missing.insert(resource.address.clone());
                }
            }
        }
    }
    (desired, problems)
}

struct Resolved<'a>(&'a IndexMap<Address, Desired>);

impl Resolve for Resolved<'_> {
    fn desired(&self, address: &Address) -> Option<&Desired> {
        self.0.get(address)
    }
}

/// Checks that every external object exists, all at once, but those already `unknown`.
/// Returns the objects that are not as declared, and those whose provider could not check
/// ([`ProviderError::unavailable`]).
async fn check_external(
    providers: &Providers,
    scope: &Scope,
    desired: &IndexMap<Address, Desired>,
    unknown: &IndexMap<Address, ProviderError>,
) -> (Vec<(Address, ProviderError)>, Vec<(Address, ProviderError)>) {
    let checks = desired
        .values()
        .filter(|state| state.external && !unknown.contains_key(&state.address))
        .filter_map(|state| {
            let provider = providers.get(state.kind.name)?;
            Some(async move { (state, provider.read_external(scope, state).await) })
        });
    join_all(checks)
        .await
        .into_iter()
        .filter_map(|(state, result)| Some((state.address.clone(), result.err()?)))
        .partition(|(_, error)| !error.unavailable)
}

/// A provider's failure as a diagnostic naming the resource, with the provider's hint as help.
pub(crate) fn provider_failure(
    address: &Address,
    resource: Option<&Resource>,
    error: &ProviderError,
) -> Diagnostic {
    let mut diagnostic = Diagnostic::error("stack::provider", crate::failure_message(address, error));
    if let Some(resource) = resource {
        diagnostic = diagnostic.primary(resource.span, "declared here");
    }
    with_hint(diagnostic, error)
}

fn with_hint(diagnostic: Diagnostic, error: &ProviderError) -> Diagnostic {
    match &error.hint {
        Some(hint) => diagnostic.help(hint.clone()),
        None => diagnostic,
    }
}

fn no_provider(resource: &Resource) -> Diagnostic {
    Diagnostic::error(
        "stack::no_provider",
        format!(
            "no provider for `{}` resources on this backend",
            resource.kind.name
        ),
    )
    .primary(resource.span, format!("`{}` cannot be planned", resource.address))
    .help("this backend cannot create this kind of resource yet")
}

fn replace_prevented(resource: &Resource, planned: &ResourcePlan) -> Diagnostic {
    let causes: Vec<String> = planned
        .reasons
        .iter()
        .filter_map(|reason| match reason {
            Reason::ForcesReplacement { field } => Some(format!("`{field}` cannot change in place")),
            Reason::DependencyReplaced { dependency } => Some(format!("`{dependency}` it uses is replaced")),
            _ => None,
        })
        .collect();
    Diagnostic::error(
        "stack::prevent_destroy",
        format!(
            "`{}` must be replaced ({}), but it has `prevent-destroy #true`",
            resource.address,
            causes.join("; ")
        ),
    )
    .primary(resource.span, "protected from deletion")
    .help("undo the change, or set `prevent-destroy #false` if replacing it is really meant")
}

/// Replaces the object of `planned` when a dependency in `held` is replaced:
/// that dependency cannot go while this object holds it.
fn replace_with_held(planned: &mut ResourcePlan, graph: &ResourceGraph, held: &HashSet<Address>) {
    let replaced: Vec<Reason> = graph
        .dependencies(&planned.address)
        .iter()
        .filter(|(dependency, _)| held.contains(*dependency))
        .map(|(dependency, _)| Reason::DependencyReplaced {
            dependency: (*dependency).clone(),
        })
        .collect();
    if !replaced.is_empty() {
        planned.action = Action::Replace;
        planned.reasons.extend(replaced);
    }
}

/// Says which dependencies a change only follows: when every changed field differs only by
/// the names of dependencies that get a new object under a new name (a new version of a swarm
/// secret), the files of `planned` did not change, those dependencies did. Their reasons take
/// the place of "changed in the files" and of the fields that force a replacement.
pub(crate) fn follows_new_objects(
    planned: &mut ResourcePlan,
    graph: &ResourceGraph,
    desired: &IndexMap<Address, Desired>,
    live: &IndexMap<Address, Live>,
) {
    let from_files = |reason: &Reason| matches!(reason, Reason::Changed | Reason::ForcesReplacement { .. });
    let Some(at) = planned.reasons.iter().position(from_files) else {
        return;
    };
    let renamed: Vec<(&Address, &str, &str)> = graph
        .dependencies(&planned.address)
        .iter()
        .filter_map(|(dependency, _)| {
            let old = &live.get(*dependency)?.name;
            let new = &desired.get(*dependency)?.name;
            (old != new).then_some((*dependency, old.as_str(), new.as_str()))
        })
        .collect();
    let text = |setting: &Option<Setting>| serde_json::to_string(setting).unwrap_or_default();
    let followed: Vec<&Address> = renamed
        .iter()
        .filter(|(_, old, _)| {
            planned
                .changes
                .iter()
                .any(|change| text(&change.before).contains(old))
        })
        .map(|(dependency, _, _)| *dependency)
        .collect();
    let only_followed = planned.changes.iter().all(|change| {
        let renamed_before = renamed
            .iter()
            .fold(text(&change.before), |before, (_, old, new)| {
                before.replace(old, new)
            });
        renamed_before == text(&change.after)
    });
    if followed.is_empty() || !only_followed {
        return;
    }
    planned.reasons.retain(|reason| !from_files(reason));
    let reasons = followed.into_iter().map(|dependency| Reason::DependencyChanged {
        dependency: dependency.clone(),
    });
    planned.reasons.splice(at..at, reasons);
}

/// Whether a configuration asks never to delete its object.
fn prevents_destroy(config: &Config) -> bool {
    config.get("prevent-destroy").and_then(Setting::as_json) == Some(&serde_json::Value::Bool(true))
}

/// Whether the files ask never to delete `resource` (a provider may leave
/// the field out of the configuration it compares).
fn declares_prevent_destroy(resource: &Resource) -> bool {
    resource
        .field("prevent-destroy")
        .is_some_and(|value| value.data == Data::Bool(true))
}

/// Live objects by address; should a provider report one address twice, the first counts.
fn by_address(live: Vec<Live>) -> IndexMap<Address, Live> {
    let mut objects = IndexMap::new();
    for object in live {
        objects.entry(object.address.clone()).or_insert(object);
    }
    objects
}
