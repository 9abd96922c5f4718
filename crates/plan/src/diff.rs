//! Deciding each resource's action from its desired and live state.

use stack_language::schema::Effect;
use stack_provider::{Desired, Live};

use crate::{Action, FieldChange, Reason, ResourcePlan};

/// The plan of one resource: `desired` is `None` when it left the files,
/// `live` is `None` when it is not on the daemon.
pub fn diff(desired: Option<&Desired>, live: Option<&Live>) -> Option<ResourcePlan> {
    match (desired, live) {
        (Some(desired), _) if desired.external => {
            let reason = desired
                .source
                .clone()
                .map_or(Reason::External, Reason::ReadFromSource);
            Some(plan(desired, Action::Read, vec![reason], Vec::new(), live))
        }
        (Some(desired), None) => {
            let changes = desired
                .config
                .0
                .iter()
                .map(|(field, setting)| FieldChange {
                    field: field.clone(),
                    before: None,
                    after: Some(setting.clone()),
                    effect: Effect::Replace,
                })
                .collect();
            Some(plan(
                desired,
                Action::Create,
                vec![Reason::NotFound],
                changes,
                None,
            ))
        }
        (Some(desired), Some(live)) => {
            let changes: Vec<FieldChange> = desired
                .config
                .differing(&live.config, desired.kind)
                .into_iter()
                .map(|field| FieldChange {
                    field: field.to_owned(),
                    before: live.config.get(field).cloned(),
                    after: desired.config.get(field).cloned(),
                    effect: desired
                        .kind
                        .field(field)
                        .map_or(Effect::Replace, |schema| schema.effect),
                })
                .collect();
            let mut reasons = Vec::new();
            let forcing: Vec<&FieldChange> = changes
                .iter()
                .filter(|change| change.effect == Effect::Replace)
                .collect();
            for change in &forcing {
                reasons.push(Reason::ForcesReplacement {
                    field: change.field.clone(),
                });
            }
            // A field that only drifted was not changed in the files.
            let changed_in_files = changes
                .iter()
                .any(|change| !live.drift.iter().any(|drift| drift.field == change.field));
            if changed_in_files && forcing.is_empty() {
                reasons.push(Reason::Changed);
            }
            if !live.drift.is_empty() {
                reasons.push(Reason::Drift);
            }
            let action = match (forcing.is_empty(), changes.is_empty() && live.drift.is_empty()) {
                (false, _) => Action::Replace,
                (true, true) => Action::NoChange,
                (true, false) => Action::Update,
            };
            Some(plan(desired, action, reasons, changes, Some(live)))
        }
        (None, Some(live)) => Some(ResourcePlan {
            address: live.address.clone(),
            kind: live.kind.to_owned(),
            action: Action::Delete,
            reasons: vec![Reason::RemovedFromFiles],
            changes: Vec::new(),
            drift: Vec::new(),
        }),
        (None, None) => None,
    }
}

fn plan(
    desired: &Desired,
    action: Action,
    reasons: Vec<Reason>,
    changes: Vec<FieldChange>,
    live: Option<&Live>,
) -> ResourcePlan {
    ResourcePlan {
        address: desired.address.clone(),
        kind: desired.kind.name.to_owned(),
        action,
        reasons,
        changes,
        drift: live.map(|live| live.drift.clone()).unwrap_or_default(),
    }
}
