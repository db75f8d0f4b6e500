//! Several targets in one run: which manifests a run reads (`-f` repeated, directories), the
//! targets they name (one per manifest, or one per entry of its `regions:`), which of them
//! belong to this shard (`--shard I/N`), and planning them concurrently (`--parallel N`) with
//! one credential chain, one cache of IAM answers and one bound on requests in flight.
//!
//! A run of one target is today's run: the commands print its documents unchanged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures_util::StreamExt;

use crate::cli::Shard;
use crate::config::{Config, Env, ManifestChoice};
use crate::error::{Error, Result};
use crate::identity;
use crate::manifest::{self, Manifest};
use crate::plan::Overrides;
use crate::render::fleet::{Fleet, TargetLabel, TargetView};
use crate::render::plural;
use crate::session::{self, Planned, Session};

/// The targets of a run, after `--shard`.
#[derive(Debug)]
pub struct Selection {
    /// One manifest per target (a manifest with `regions:` gives one per region), in order:
    /// files as given, a directory's files sorted by name, regions as listed.
    pub targets: Vec<Manifest>,
    /// How many targets there were before `--shard`.
    pub total: usize,
    /// `--shard I/N`.
    pub shard: Option<Shard>,
}

impl Selection {
    /// True when the run has, or may have, several targets: more than one, or a shard (whose
    /// documents are always fleet documents, so that every shard's report reads the same).
    pub fn is_fleet(&self) -> bool {
        self.targets.len() != 1 || self.shard.is_some()
    }
}

/// Reads the manifests of `choice` and selects the targets of `shard`. Any manifest that
/// does not load fails the run: bad input deletes nothing anywhere.
pub fn select(choice: &ManifestChoice, shard: Option<Shard>) -> Result<Selection> {
    let manifests = load(choice)?;
    let mut targets: Vec<Manifest> = manifests.into_iter().flat_map(targets_of).collect();
    let total = targets.len();
    if let Some(s) = shard {
        targets.retain(|m| shard_of(m, s.count) == s.index);
    }
    Ok(Selection {
        targets,
        total,
        shard,
    })
}

/// The one target of a selection that is not a fleet.
pub fn only(selection: Selection) -> Result<Manifest> {
    selection
        .targets
        .into_iter()
        .next()
        .ok_or_else(|| Error::Internal("a run of one target has no target".to_owned()))
}

/// The targets of one manifest: itself, or one per entry of its `regions:`.
fn targets_of(m: Manifest) -> Vec<Manifest> {
    m.into_targets()
}

/// The files `choice` names: files as given, directories expanded to their `*.yaml` and
/// `*.yml` files (sorted, not recursive, hidden files left out), each file once.
pub fn files(choice: &ManifestChoice) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for p in choice.paths() {
        if p == Path::new("-") {
            files.push(p.to_path_buf());
            continue;
        }
        match std::fs::metadata(p) {
            Ok(meta) if meta.is_dir() => files.extend(manifests_in(p)?),
            // A missing file fails when it is read, with the manifest's own message.
            _ => files.push(p.to_path_buf()),
        }
    }
    let mut seen: HashMap<PathBuf, &Path> = HashMap::new();
    for f in &files {
        let key = if f == Path::new("-") {
            f.clone()
        } else {
            std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())
        };
        if let Some(earlier) = seen.insert(key, f) {
            let what = if f == Path::new("-") {
                "standard input (`-f -`) can be read only once".to_owned()
            } else if earlier == f.as_path() {
                format!("{} is given twice", f.display())
            } else {
                format!(
                    "{} and {} are the same file",
                    earlier.display(),
                    f.display()
                )
            };
            return Err(Error::Usage(format!(
                "{what}; each manifest is one target and may be read once (the same instances \
                 must not be planned twice)"
            )));
        }
    }
    Ok(files)
}

/// The manifests of a directory: its `*.yaml` and `*.yml` files, sorted by name; not
/// recursive; names starting with `.` are left out (editors' files, and the `..data` links
/// of a Kubernetes ConfigMap volume).
fn manifests_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            tracing::warn!(
                "{}: a file name that is not UTF-8 is left out",
                path.display()
            );
            continue;
        };
        if name.starts_with('.') || !(name.ends_with(".yaml") || name.ends_with(".yml")) {
            continue;
        }
        // Follows links (a ConfigMap volume's files are links); directories are left out.
        if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            names.push((name, path));
        }
    }
    if names.is_empty() {
        return Err(Error::Usage(format!(
            "{}: a directory without any *.yaml or *.yml manifest",
            dir.display()
        )));
    }
    names.sort();
    Ok(names.into_iter().map(|(_, p)| p).collect())
}

/// Reads every manifest `choice` names.
pub fn load(choice: &ManifestChoice) -> Result<Vec<Manifest>> {
    files(choice)?.iter().map(|f| manifest::load(f)).collect()
}

/// The shard of a target among `count`: SHA-256 of its manifest path (as given), NUL, its
/// region, NUL, its project id as the manifest writes it (empty when not written), the first
/// 8 bytes as a big-endian number, modulo `count`. A target's shard depends on nothing else,
/// so adding a target moves no other one (docs/ci.md).
pub fn shard_of(m: &Manifest, count: u32) -> u32 {
    let key = format!(
        "{}\0{}\0{}",
        m.path.display(),
        m.region.as_deref().unwrap_or_default(),
        m.project_id.as_deref().unwrap_or_default()
    );
    let digest = crate::util::sha256(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let n = u64::from_be_bytes(first) % u64::from(count.max(1));
    // Below `count`, which is a u32.
    u32::try_from(n).unwrap_or_default()
}

/// The label of a target before it is resolved: what its manifest says.
pub fn label_of(m: &Manifest) -> TargetLabel {
    TargetLabel {
        manifest: m.path.display().to_string(),
        region: m.region.clone(),
        project_id: m.project_id.clone(),
        endpoint: m.endpoint.clone(),
    }
}

/// One target of a run and how planning it went.
#[derive(Debug)]
pub struct TargetPlan {
    /// What it is: manifest, region, project, endpoint.
    pub label: TargetLabel,
    /// Its manifest (one region of it).
    pub manifest: Manifest,
    /// Its session and plan, or why there is none.
    pub result: Result<(Session, Planned)>,
}

/// `--endpoint`, `--project-id` and `--ces-endpoint` name one target; with several they
/// would send every manifest's rules (or every activity question) to the same place.
pub fn check_single_target_flags(cfg: &Config, selection: &Selection) -> Result<()> {
    if !selection.is_fleet() {
        return Ok(());
    }
    for (flag, given) in [
        ("--endpoint", cfg.endpoint.is_some()),
        ("--project-id", cfg.project_id.is_some()),
        ("--ces-endpoint", cfg.ces_endpoint.is_some()),
    ] {
        if given {
            return Err(Error::Usage(format!(
                "{flag} names one target, but this run has {} (several manifests, regions or \
                 a shard); set `endpoint:`/`project_id:` in each manifest (or its `regions:`) \
                 instead; nothing was planned or deleted",
                crate::render::plural(selection.targets.len(), "target", "targets")
            )));
        }
    }
    Ok(())
}

/// Opens a session for every target and plans it, up to `cfg.fleet.parallel` at once, each
/// listing still paged concurrently, all requests under the run's one bound. Results come
/// back in the targets' order. A failure of one target is its result; the run fails only
/// for what concerns all of them: no credentials, or two targets naming the same project at
/// the same endpoint.
pub async fn plan_all(
    cfg: &Config,
    env: &Env,
    targets: Vec<Manifest>,
    overrides: Overrides,
) -> Result<Vec<TargetPlan>> {
    let plans = plan_all_then(cfg, env, targets, overrides, |_, _| ()).await?;
    Ok(plans.into_iter().map(|(p, ())| p).collect())
}

/// [`plan_all`], handing each target to `then` (with its index) as soon as it is planned, in
/// the order they finish, while the others are still waiting for their answers: what a
/// command does with one target alone (its printed section) overlaps their round trips
/// instead of following the last one. Each result comes back with what `then` made of it.
pub async fn plan_all_then<T>(
    cfg: &Config,
    env: &Env,
    targets: Vec<Manifest>,
    overrides: Overrides,
    mut then: impl FnMut(usize, &mut TargetPlan) -> T,
) -> Result<Vec<(TargetPlan, T)>> {
    let shared = identity::Shared::new(env)?;
    let shared = &shared;
    // Unordered, then put back in order: a slow target holds only its own slot, never the
    // slots of the targets after it that have finished (`buffered` would keep them until it
    // is done, and start no new target meanwhile).
    let mut plans: Vec<(usize, TargetPlan, T)> = futures_util::stream::iter(
        targets
            .into_iter()
            .enumerate()
            .map(|(index, m)| async move {
                let result = async {
                    let session =
                        Session::open(cfg, &session::target_of(&m), env, Some(shared)).await?;
                    let planned = session.plan(&m, overrides).await?;
                    Ok((session, planned))
                }
                .await;
                let mut label = label_of(&m);
                if let Ok((s, _)) = &result {
                    label.project_id = Some(s.target.project_id.clone());
                    label.endpoint = Some(s.target.endpoint.to_string());
                }
                (
                    index,
                    TargetPlan {
                        label,
                        manifest: m,
                        result,
                    },
                )
            }),
    )
    .buffer_unordered(cfg.fleet.parallel.max(1))
    .map(|(index, mut plan)| {
        let made = then(index, &mut plan);
        (index, plan, made)
    })
    .collect()
    .await;
    plans.sort_by_key(|(index, _, _)| *index);
    let (plans, made): (Vec<TargetPlan>, Vec<T>) =
        plans.into_iter().map(|(_, p, t)| (p, t)).unzip();
    check_duplicates(&plans)?;
    Ok(plans.into_iter().zip(made).collect())
}

/// Two targets that resolved to the same project at the same endpoint would plan (and
/// delete) the same instances twice, under two sets of rules: the run fails.
pub fn check_duplicates(plans: &[TargetPlan]) -> Result<()> {
    let mut seen: HashMap<(String, String), &TargetLabel> = HashMap::new();
    for p in plans {
        let Ok((s, _)) = &p.result else { continue };
        let key = (
            s.target.endpoint.as_str().trim_end_matches('/').to_owned(),
            s.target.project_id.to_ascii_lowercase(),
        );
        if let Some(earlier) = seen.insert(key, &p.label) {
            return Err(Error::Usage(format!(
                "{} and {} are the same target: project {} at {}; the same instances must not \
                 be planned twice. Keep one of them; nothing was deleted",
                earlier.name(),
                p.label.name(),
                s.target.project_id,
                s.target.endpoint.as_str().trim_end_matches('/')
            )));
        }
    }
    Ok(())
}

/// The printers' view of `plans`.
pub fn view(
    plans: &[TargetPlan],
    shard: Option<Shard>,
    total: usize,
    refusals: Vec<String>,
) -> Fleet<'_> {
    Fleet {
        targets: plans.iter().map(view_of).collect(),
        shard,
        total,
        refusals,
    }
}

/// The printers' view of one target.
pub fn view_of(p: &TargetPlan) -> TargetView<'_> {
    TargetView {
        label: &p.label,
        result: match &p.result {
            Ok((_, planned)) => Ok((&planned.plan, &planned.context)),
            Err(e) => Err(e),
        },
    }
}

/// `--max-delete-total N`: the command line's or, for `apply --plan`, the one the plan was
/// made with (the command line's wins, as for `--max-delete`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotalLimit {
    /// N.
    pub max: usize,
    /// The saved plan it comes from, when not from the command line.
    pub saved_in: Option<String>,
}

impl TotalLimit {
    /// The command line's `--max-delete-total`.
    pub fn given(cfg: &Config) -> Option<TotalLimit> {
        TotalLimit::of(cfg, None, "")
    }

    /// The command line's `--max-delete-total`, else `saved`, the one `origin` was made with.
    pub fn of(cfg: &Config, saved: Option<usize>, origin: &str) -> Option<TotalLimit> {
        match (cfg.fleet.max_delete_total, saved) {
            (Some(max), _) => Some(TotalLimit {
                max,
                saved_in: None,
            }),
            (None, Some(max)) => Some(TotalLimit {
                max,
                saved_in: Some(origin.to_owned()),
            }),
            (None, None) => None,
        }
    }

    /// `--max-delete-total 5`, or `--max-delete-total 5 (saved in plan.json)`.
    fn name(&self) -> String {
        match &self.saved_in {
            None => format!("--max-delete-total {}", self.max),
            Some(o) => format!(
                "--max-delete-total {} (saved in {})",
                self.max,
                crate::render::shown(o)
            ),
        }
    }
}

/// The fleet-wide guard `--max-delete-total N`: its refusal, when the targets the run could
/// apply would delete more than N instances in all.
pub fn total_refusals(plans: &[TargetPlan], limit: Option<&TotalLimit>) -> Vec<String> {
    let Some(limit) = limit else {
        return Vec::new();
    };
    let max = limit.max;
    // Only what the run could delete: a target that failed, is stale or is refused by its own
    // guards deletes nothing, with or without --keep-going.
    let (count, targets) = plans
        .iter()
        .filter_map(|p| p.result.as_ref().ok())
        .filter(|(_, planned)| planned.context.refusals.is_empty())
        .map(|(_, planned)| planned.plan.delete.len())
        .filter(|&n| n > 0)
        .fold((0usize, 0usize), |(c, t), n| (c.saturating_add(n), t + 1));
    if count <= max {
        return Vec::new();
    }
    vec![format!(
        "{}: the run would delete {} over {}",
        limit.name(),
        plural(count, "instance", "instances"),
        plural(targets, "target", "targets")
    )]
}

/// `--max-delete-total N` over a run of one target: a refusal of its plan, as `max_delete`.
pub fn guard_single(planned: &mut Planned, limit: Option<&TotalLimit>) {
    if let Some(limit) = limit
        && planned.plan.delete.len() > limit.max
    {
        planned.context.refusals.push(format!(
            "{}: the run would delete {}",
            limit.name(),
            plural(planned.plan.delete.len(), "instance", "instances")
        ));
    }
}

/// The targets that cannot be applied, by name, with their exit codes: those that could
/// not be planned (their error's code) and those a guard refuses (3).
pub fn faults(plans: &[TargetPlan]) -> Vec<(String, u8)> {
    plans
        .iter()
        .filter_map(|p| match &p.result {
            Err(e) => Some((p.label.name(), e.exit_code())),
            Ok((_, planned)) if !planned.context.refusals.is_empty() => {
                Some((p.label.name(), crate::error::EXIT_GUARD))
            }
            Ok(_) => None,
        })
        .collect()
}

/// The error of a run with `faults`: exit 1 when any target failed with an error, else 3.
pub fn fault_error(faults: &[(String, u8)], of: usize, consequence: &str) -> Error {
    let code = if faults.iter().any(|(_, c)| *c != crate::error::EXIT_GUARD) {
        crate::error::EXIT_ERROR
    } else {
        crate::error::EXIT_GUARD
    };
    let names: Vec<&str> = faults.iter().map(|(n, _)| n.as_str()).collect();
    let refused = faults
        .iter()
        .filter(|(_, c)| *c == crate::error::EXIT_GUARD)
        .count();
    let what = match refused {
        0 => "could not be planned",
        r if r == faults.len() => "are refused",
        _ => "could not be planned or are refused",
    };
    Error::Fleet {
        message: format!(
            "{} of {of} targets {what}: {}; {consequence}",
            faults.len(),
            names.join(", ")
        ),
        code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(path: &str, region: Option<&str>, project: Option<&str>) -> Manifest {
        let mut m = Manifest::empty(Path::new(path));
        m.region = region.map(str::to_owned);
        m.project_id = project.map(str::to_owned);
        m
    }

    #[test]
    fn the_shard_is_the_documented_hash_and_stays_put_when_targets_are_added() {
        let m = manifest("/manifests/a.yaml", Some("cn-north-4"), None);
        let digest = crate::util::sha256(b"/manifests/a.yaml\0cn-north-4\0");
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        for n in 1..=9u32 {
            let expected = u64::from_be_bytes(first) % u64::from(n);
            assert_eq!(u64::from(shard_of(&m, n)), expected, "N = {n}");
        }
        // The project id written in the manifest is part of the key; nothing else is.
        let other = manifest("/manifests/a.yaml", Some("cn-north-4"), Some("p"));
        let differs = (1..=64).any(|n| shard_of(&m, n) != shard_of(&other, n));
        assert!(differs, "the project id is part of the key");
        let mut with_rules = m.clone();
        with_rules.text = "instances: []\n".to_owned();
        for n in 1..=16 {
            assert_eq!(shard_of(&m, n), shard_of(&with_rules, n));
        }
    }

    #[test]
    fn a_directory_gives_its_yaml_files_sorted_without_hidden_ones_or_directories() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["b.yml", "a.yaml", ".hidden.yaml", "c.txt", "C.YAML"] {
            std::fs::write(dir.path().join(name), "instances: []\n").expect("write");
        }
        std::fs::create_dir(dir.path().join("d.yaml")).expect("mkdir");
        std::fs::create_dir(dir.path().join("..data")).expect("mkdir");
        std::fs::write(dir.path().join("..data/e.yaml"), "instances: []\n").expect("write");
        #[cfg(unix)]
        std::os::unix::fs::symlink("..data/e.yaml", dir.path().join("e.yaml")).expect("link");
        let files = files(&ManifestChoice::Given(vec![dir.path().to_path_buf()])).expect("files");
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        #[cfg(unix)]
        assert_eq!(names, ["a.yaml", "b.yml", "e.yaml"]);
        #[cfg(not(unix))]
        assert_eq!(names, ["a.yaml", "b.yml"]);
    }

    #[test]
    fn standard_input_is_read_once_and_a_file_once() {
        let dash = ManifestChoice::Given(vec![PathBuf::from("-"), PathBuf::from("-")]);
        let e = files(&dash).expect_err("twice");
        assert!(e.to_string().contains("standard input"), "{e}");
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.yaml");
        std::fs::write(&a, "instances: []\n").expect("write");
        let twice = ManifestChoice::Given(vec![dir.path().to_path_buf(), a]);
        let e = files(&twice).expect_err("twice");
        assert!(e.to_string().contains("given twice"), "{e}");
    }

    #[test]
    fn faults_exit_1_when_any_target_failed_and_3_when_all_were_refused() {
        let refused = [("a".to_owned(), 3u8), ("b".to_owned(), 3)];
        assert_eq!(fault_error(&refused, 4, "x").exit_code(), 3);
        let mixed = [("a".to_owned(), 3u8), ("b".to_owned(), 1)];
        let e = fault_error(&mixed, 4, "nothing was deleted");
        assert_eq!(e.exit_code(), 1);
        assert_eq!(
            e.to_string(),
            "2 of 4 targets could not be planned or are refused: a, b; nothing was deleted"
        );
        assert_eq!(
            fault_error(&[("a".to_owned(), 1)], 2, "x").to_string(),
            "1 of 2 targets could not be planned: a; x"
        );
    }
}
