//! Rendered artifacts kept by what they are rendered from (`--cache DIR`): an API stage whose
//! API, environment, account, tenant, platform and stack are unchanged is not rendered again,
//! nor is the dashboard of an API whose stages are unchanged.
//!
//! Sound by construction: a unit's inputs are collected into one value ([`StageInputs`],
//! [`DashboardInputs`]); the key hashes all of it, and on a miss the unit is rendered from a
//! small resolved estate built from that value alone ([`StageInputs::view`]), so nothing the
//! renderer reads can be missing from the key. The key also holds idpc's version and the
//! fingerprint of its whole source (`build.rs`): other code never reads an entry. Spans are
//! hashed as offsets (file ids are not serialized), so an edit that only moves text renders
//! again; that costs time, never correctness.
//!
//! Only a render without any diagnostic is kept, so a hit never hides a problem. An entry holds
//! a checksum of its key and payload and is ignored (and rewritten) when it does not match
//! (damaged, or stored under another key) or does not decode: never trusted.
#![allow(clippy::indexing_slicing)] // Indices into the resolved estate come from `resolve` and are valid by construction; a bad one is a bug, reported as `internal-error`.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Artifact, ArtifactKind};
use crate::cache::{self, Store};
use crate::diagnostics::Diagnostics;
use crate::digest::hex;
use crate::graph::{Stack, StackKind};
use crate::model::{Account, Api, Environment, Estate, Platform, Region, Tenant};
use crate::resolve::{Place, Resolved, Stage};

/// Format of an entry; bumped when the layout changes.
const FORMAT: &str = "idpc-render/1";

/// The sha256 of each entity's JSON, computed once for all the units that read it.
pub struct Digests {
    platform: Hash,
    tenants: Vec<Hash>,
    accounts: Vec<Hash>,
    environments: Vec<Hash>,
    apis: Vec<Hash>,
}

type Hash = [u8; 32];

impl Digests {
    /// The digests of every platform, tenant, account, environment and API of `resolved`;
    /// `None` (no render cache for this build) if any of them does not serialize, which the
    /// model always does.
    pub fn of(resolved: &Resolved) -> Option<Digests> {
        fn all<T: Serialize + Sync>(items: &[T]) -> Option<Vec<Hash>> {
            items.par_iter().map(digest).collect()
        }
        let estate = &resolved.estate;
        Some(Digests {
            platform: digest(resolved.platform())?,
            tenants: all(&estate.tenants)?,
            accounts: all(&estate.accounts)?,
            environments: all(&estate.environments)?,
            apis: all(&estate.apis)?,
        })
    }
}

/// The sha256 of a value's JSON.
fn digest<T: Serialize>(value: &T) -> Option<Hash> {
    let mut hashing = Hashing(Sha256::new());
    serde_json::to_writer(&mut hashing, value).ok()?;
    Some(hashing.0.finalize().into())
}

/// An entity a unit reads: serialized (into the key) as the digest of its JSON, which
/// [`Entity::at`] takes from the same index as the entity itself.
struct Entity<'a, T> {
    value: &'a T,
    digest: &'a Hash,
}

impl<'a, T> Entity<'a, T> {
    fn at(items: &'a [T], digests: &'a [Hash], at: usize) -> Entity<'a, T> {
        Entity { value: &items[at], digest: &digests[at] }
    }
}

impl<T> Serialize for Entity<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.digest)
    }
}

/// Everything the artifacts of one API stage are rendered from.
#[derive(Serialize)]
pub struct StageInputs<'a> {
    platform: Entity<'a, Platform>,
    tenant: Entity<'a, Tenant>,
    account: Entity<'a, Account>,
    environment: Entity<'a, Environment>,
    active: bool,
    api: Entity<'a, Api>,
    /// The stage's entry in the API's `deploy` list (its settings are recomputed from these
    /// entities alone: `resolve::stage::settings`).
    deploy: usize,
    /// The name of the stage's stack (its other fields are derived from the entities again
    /// where an artifact needs them, and its place in the plan is no artifact's business).
    stack: &'a str,
}

impl<'a> StageInputs<'a> {
    /// The inputs of `stage`, whose stack is `stack`.
    pub fn of(resolved: &'a Resolved, digests: &'a Digests, stack: &'a Stack, stage: &Stage) -> StageInputs<'a> {
        let estate = &resolved.estate;
        let account = resolved.env_account[stage.env];
        let tenant = resolved.account_tenant[account];
        StageInputs {
            platform: Entity { value: resolved.platform(), digest: &digests.platform },
            tenant: Entity::at(&estate.tenants, &digests.tenants, tenant),
            account: Entity::at(&estate.accounts, &digests.accounts, account),
            environment: Entity::at(&estate.environments, &digests.environments, stage.env),
            active: resolved.env_active[stage.env],
            api: Entity::at(&estate.apis, &digests.apis, stage.api),
            deploy: stage.settings.deploy,
            stack: &stack.name,
        }
    }

    /// A resolved estate holding only these inputs (its one stage is stage 0), and the stack:
    /// its name, and empty values for the rest. `None` if the stage's settings do not resolve
    /// from them (they always do: they resolved from the same entities in the whole estate).
    pub fn view(&self) -> Option<(Resolved, Stack)> {
        let estate = Estate {
            platform: Some(self.platform.value.clone()),
            tenants: vec![self.tenant.value.clone()],
            accounts: vec![self.account.value.clone()],
            environments: vec![self.environment.value.clone()],
            apis: vec![self.api.value.clone()],
            ..Estate::default()
        };
        let stage = view_stage(&estate, 0, self.deploy)?;
        let resolved = Resolved {
            estate,
            account_tenant: vec![0],
            env_account: vec![0],
            env_active: vec![self.active],
            stages: vec![stage],
            uses: Vec::new(),
            instances: Vec::new(),
        };
        let stack = Stack {
            name: self.stack.to_owned(),
            kind: StackKind::Stage(0),
            account: String::new(),
            account_id: None,
            region: Region(String::new()),
            depends_on: Vec::new(),
            wave: 0,
            tags: BTreeMap::new(),
        };
        Some((resolved, stack))
    }
}

/// Everything the dashboard of one API is rendered from: the API and, per stage, its
/// environment, account and tenant.
#[derive(Serialize)]
pub struct DashboardInputs<'a> {
    platform: Entity<'a, Platform>,
    api: Entity<'a, Api>,
    stages: Vec<StageOf<'a>>,
}

/// The environment of a stage, its account and tenant, and whether it is built.
#[derive(Serialize)]
struct StageOf<'a> {
    environment: Entity<'a, Environment>,
    deploy: usize,
    account: Entity<'a, Account>,
    tenant: Entity<'a, Tenant>,
    active: bool,
}

impl<'a> DashboardInputs<'a> {
    /// The inputs of the dashboard of the API of `stages` (all of its stages, at least one).
    pub fn of(resolved: &'a Resolved, digests: &'a Digests, api: usize, stages: &[&Stage]) -> DashboardInputs<'a> {
        let estate = &resolved.estate;
        let stages = stages
            .iter()
            .map(|stage| {
                let account = resolved.env_account[stage.env];
                let tenant = resolved.account_tenant[account];
                StageOf {
                    environment: Entity::at(&estate.environments, &digests.environments, stage.env),
                    deploy: stage.settings.deploy,
                    account: Entity::at(&estate.accounts, &digests.accounts, account),
                    tenant: Entity::at(&estate.tenants, &digests.tenants, tenant),
                    active: resolved.env_active[stage.env],
                }
            })
            .collect();
        DashboardInputs {
            platform: Entity { value: resolved.platform(), digest: &digests.platform },
            api: Entity::at(&estate.apis, &digests.apis, api),
            stages,
        }
    }

    /// A resolved estate holding only these inputs: one API, and stage `i` in environment,
    /// account and tenant `i` (`None` as for [`StageInputs::view`]).
    pub fn view(&self) -> Option<Resolved> {
        let count = self.stages.len();
        let estate = Estate {
            platform: Some(self.platform.value.clone()),
            tenants: self.stages.iter().map(|stage| stage.tenant.value.clone()).collect(),
            accounts: self.stages.iter().map(|stage| stage.account.value.clone()).collect(),
            environments: self.stages.iter().map(|stage| stage.environment.value.clone()).collect(),
            apis: vec![self.api.value.clone()],
            ..Estate::default()
        };
        let stages: Option<Vec<Stage>> =
            self.stages.iter().enumerate().map(|(env, s)| view_stage(&estate, env, s.deploy)).collect();
        Some(Resolved {
            estate,
            account_tenant: (0..count).collect(),
            env_account: (0..count).collect(),
            env_active: self.stages.iter().map(|stage| stage.active).collect(),
            stages: stages?,
            uses: Vec::new(),
            instances: Vec::new(),
        })
    }
}

/// The stage of API 0 in environment (and account and tenant) `env` of a view, its settings
/// resolved from the view's entities alone. Problems were reported when the whole estate
/// resolved, so none is reported again.
fn view_stage(estate: &Estate, env: usize, deploy: usize) -> Option<Stage> {
    let place = Place { api: 0, deploy, env, account: env, tenant: env };
    let settings = crate::resolve::stage::settings(estate, place, &mut Diagnostics::new())?;
    Some(Stage { api: 0, env, settings })
}

/// The artifacts of a unit with these inputs: from `store` when it holds a sound entry, else
/// from `render` (given the inputs), kept in `store` when rendering found no problem.
pub fn artifacts<T: Serialize>(
    store: &dyn Store,
    unit: &str,
    inputs: &T,
    render: impl FnOnce(&T) -> (Vec<Artifact>, Diagnostics),
) -> (Vec<Artifact>, Diagnostics) {
    let Some(key) = key(unit, inputs) else { return render(inputs) };
    if let Some(artifacts) = store.get(&key).and_then(|entry| decode(&key, &entry)) {
        return (artifacts, Diagnostics::new());
    }
    let (artifacts, diagnostics) = render(inputs);
    if diagnostics.is_empty() {
        store.put(&key, encode(&key, &artifacts));
    }
    (artifacts, diagnostics)
}

/// Feeds serialized inputs straight into the hash.
struct Hashing(Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The key of a unit's entry: sha256 of the format, idpc's version, its source's fingerprint,
/// the kind of unit and its inputs as JSON.
pub fn key<T: Serialize>(unit: &str, inputs: &T) -> Option<String> {
    let mut hashing = Hashing(cache::keying(&[FORMAT, env!("IDPC_RENDERING_FINGERPRINT"), unit]));
    serde_json::to_writer(&mut hashing, inputs).ok()?;
    Some(hex(&hashing.0.finalize()))
}

/// An entry ([`cache::seal`]ed, so bound to its key) whose payload is, per artifact, a header
/// line (kind, stack or `-`, sha256, length, path; separated by spaces, the path last) and its
/// bytes.
pub fn encode(key: &str, artifacts: &[Artifact]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(artifacts.iter().map(|a| a.bytes.len() + a.path.len() + 160).sum());
    for artifact in artifacts {
        let stack = artifact.stack.as_deref().unwrap_or("-");
        let header = format!(
            "{} {stack} {} {} {}\n",
            artifact.kind.as_str(),
            artifact.sha256,
            artifact.bytes.len(),
            artifact.path
        );
        payload.extend_from_slice(header.as_bytes());
        payload.extend_from_slice(&artifact.bytes);
    }
    cache::seal(FORMAT, key, &payload)
}

/// The artifacts of the entry stored under `key`; `None` unless it is whole, well-formed and
/// written under that key.
pub fn decode(key: &str, entry: &[u8]) -> Option<Vec<Artifact>> {
    let mut payload = cache::unseal(FORMAT, key, entry)?;
    let mut artifacts = Vec::new();
    while !payload.is_empty() {
        let end = payload.iter().position(|&b| b == b'\n')?;
        let header = std::str::from_utf8(payload.get(..end)?).ok()?;
        let mut fields = header.splitn(5, ' ');
        let (kind, stack, sha256, length, path) =
            (fields.next()?, fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        let kind = ArtifactKind::ALL.into_iter().find(|k| k.as_str() == kind)?;
        let length: usize = length.parse().ok()?;
        let bytes = payload.get(end + 1..end + 1 + length)?.to_vec();
        payload = payload.get(end + 1 + length..)?;
        let stack = (stack != "-").then(|| stack.to_owned());
        artifacts.push(Artifact { kind, path: path.to_owned(), stack, bytes, sha256: sha256.to_owned() });
    }
    Some(artifacts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Artifact> {
        vec![
            Artifact::new(ArtifactKind::OpenApi, "apis/a/e/openapi.json".into(), Some("s".into()), b"{}\n".to_vec()),
            Artifact::new(ArtifactKind::DatadogDashboard, "apis/a/dashboard.json".into(), None, b"\n\n a b\n".to_vec()),
            Artifact::new(ArtifactKind::CloudFormation, "stacks/s.json".into(), Some("s".into()), Vec::new()),
        ]
    }

    #[test]
    fn an_entry_reads_back_as_written() {
        let artifacts = sample();
        let decoded = decode("k", &encode("k", &artifacts)).expect("decodes");
        assert_eq!(decoded.len(), artifacts.len());
        for (a, b) in artifacts.iter().zip(&decoded) {
            assert_eq!(
                (a.kind, &a.path, &a.stack, &a.bytes, &a.sha256),
                (b.kind, &b.path, &b.stack, &b.bytes, &b.sha256)
            );
        }
        assert_eq!(decode("k", &encode("k", &[])).map(|a| a.len()), Some(0));
    }

    #[test]
    fn a_damaged_entry_is_refused() {
        let entry = encode("k", &sample());
        assert!(decode("k", &entry).is_some());
        for at in 0..entry.len() {
            let mut damaged = entry.clone();
            damaged[at] ^= 0x20;
            assert!(decode("k", &damaged).is_none(), "byte {at} flipped");
        }
        for length in 0..entry.len() {
            assert!(decode("k", &entry[..length]).is_none(), "cut at {length}");
        }
        let mut longer = entry.clone();
        longer.push(b'x');
        assert!(decode("k", &longer).is_none());
        assert!(decode("another key", &entry).is_none(), "an entry is only read under its own key");
    }

    #[test]
    fn keys_differ_by_unit_and_inputs() {
        let a = key("stage", &("x", 1)).expect("key");
        assert_eq!(a.len(), 64);
        assert_eq!(key("stage", &("x", 1)), Some(a.clone()));
        assert_ne!(key("dashboard", &("x", 1)), Some(a.clone()));
        assert_ne!(key("stage", &("x", 2)), Some(a));
    }
}
