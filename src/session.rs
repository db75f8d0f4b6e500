//! A session with one target: who the tool acts as and where (the [`Identity`], after the
//! IAM lookup when one is needed), the API client, and the plans made there: a fresh plan of
//! a manifest ([`Session::plan`]) or a saved plan re-checked against the live instances
//! ([`Session::replan_saved`]). Both give a [`Planned`], which `apply` handles the same way.

use std::collections::HashMap;

use time::OffsetDateTime;
use url::Url;

use crate::activity::{self, IdleRule};
use crate::api::{Auth, Client, ClientOptions, ces};
use crate::config::{self, Config, ENV_HW_REGION, Env, ManifestTarget, Target};
use crate::error::{Error, Result};
use crate::identity::{self, Identity};
use crate::manifest::Manifest;
use crate::model::Instance;
use crate::plan::Stale;
use crate::plan::{self, Overrides, Plan};
use crate::render::PlanContext;
use crate::render::json::InstanceDoc;
use crate::render::report::SavedOrigin;
use crate::render::report::Shown;
use crate::saved::{self, SavedPlan};

/// The client of one target, and where it points.
#[derive(Debug)]
pub struct Session {
    /// Where requests go.
    pub target: Target,
    /// The DCS client.
    pub client: Client,
    verbose: bool,
    /// The credentials, for the Cloud Eye client of the activity guard.
    auth: Auth,
    /// The region, when known (the manifest's `region:` or `HW_REGION_NAME`).
    region: Option<String>,
    /// `--ces-endpoint`.
    ces_endpoint: Option<String>,
    /// Transport and retries, for the Cloud Eye client.
    options: ClientOptions,
}

/// A plan ready to be shown and applied, with everything the printers need.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// What it is about.
    pub context: PlanContext,
    /// The guard overrides in force.
    pub overrides: Overrides,
    /// Set when the plan is a saved plan being applied.
    pub saved: Option<SavedOrigin>,
}

impl Planned {
    /// The plan as the reporters receive it.
    pub(crate) fn shown(&self) -> Shown<'_> {
        Shown {
            plan: &self.plan,
            context: &self.context,
            saved: self.saved.as_ref(),
        }
    }
}

/// The target fields of `manifest`, all that the resolution needs of it.
pub fn target_of(manifest: &Manifest) -> ManifestTarget {
    ManifestTarget {
        file: manifest.path.display().to_string(),
        region: manifest.region.clone(),
        project_id: manifest.project_id.clone(),
        endpoint: manifest.endpoint.clone(),
    }
}

/// Resolves who and where for `manifest` and the command line (asking IAM for the project
/// id when it must be looked up) without opening a client.
pub async fn identify(
    cfg: &Config,
    manifest: &ManifestTarget,
    env: &Env,
    shared: Option<&identity::Shared>,
) -> Result<Identity> {
    let id = identity::identify(
        cfg.endpoint.as_deref(),
        cfg.project_id.as_deref(),
        manifest,
        env,
        &cfg.client,
        shared,
    )
    .await?;
    id.log();
    Ok(id)
}

/// Plans `live` against `manifest`; an id/name conflict becomes an error naming the file.
/// The instances move into the plan (one copy of a large listing, not two).
fn plan_against(manifest: &Manifest, live: Vec<Instance>, now: OffsetDateTime) -> Result<Plan> {
    let plan =
        plan::plan(&manifest.instances, &manifest.rules, live, now).map_err(|conflicts| {
            let file = manifest.path.display().to_string();
            let mut lines: Vec<String> = conflicts
                .into_iter()
                .map(|c| format!("{file}: {c}"))
                .collect();
            lines.push(
                "the manifest and the live instances disagree; nothing was planned or deleted. \
             Fix the entry (or drop its `id` or `name`) and run plan again."
                    .to_owned(),
            );
            Error::Conflict { conflicts: lines }
        })?;
    Ok(plan)
}

impl Session {
    /// A session for `manifest`'s target and the command line; `shared`: what the targets of
    /// a run share (one credential chain, the IAM answers).
    pub async fn open(
        cfg: &Config,
        manifest: &ManifestTarget,
        env: &Env,
        shared: Option<&identity::Shared>,
    ) -> Result<Session> {
        let id = identify(cfg, manifest, env, shared).await?;
        Ok(Session {
            target: id.target(),
            client: id.client(&cfg.client)?,
            verbose: cfg.verbose,
            auth: id.chain.auth.clone(),
            region: id.region.map(|r| r.value),
            ces_endpoint: cfg.ces_endpoint.clone(),
            options: cfg.client.clone(),
        })
    }

    /// A session for the target a saved plan was made against (no IAM lookup: the plan names
    /// its project); the command line may only repeat that target.
    pub fn for_saved(
        cfg: &Config,
        saved: &SavedPlan,
        origin: &str,
        env: &Env,
        shared: Option<&identity::Shared>,
    ) -> Result<Session> {
        let endpoint = config::check_endpoint(&saved.doc.endpoint, &format!("{origin}: endpoint"))?;
        if let Some(e) = cfg.endpoint.as_deref() {
            let given = config::check_endpoint(e, "--endpoint")?;
            if given != endpoint {
                return Err(Error::Guard(format!(
                    "--endpoint {given} differs from the endpoint {endpoint} the saved plan \
                     {origin} was made against; nothing was deleted"
                )));
            }
        }
        if let Some(p) = cfg.project_id.as_deref()
            && p != saved.doc.project_id
        {
            return Err(Error::Guard(format!(
                "--project-id {p} differs from the project {} the saved plan {origin} was made \
                 for; nothing was deleted",
                saved.doc.project_id
            )));
        }
        let target = Target {
            endpoint,
            project_id: saved.doc.project_id.clone(),
        };
        let chain = match shared.and_then(identity::Shared::chain) {
            Some(c) => c.clone(),
            None => {
                let chain = config::credential_chain(env)?;
                identity::log_credentials(&chain);
                chain
            }
        };
        tracing::info!(endpoint = %target.endpoint, project_id = %target.project_id, "target");
        let client = Client::new(
            target.endpoint.clone(),
            target.project_id.clone(),
            chain.auth.clone(),
            &cfg.client,
        )?;
        Ok(Session {
            target,
            client,
            verbose: cfg.verbose,
            auth: chain.auth,
            // The saved manifest's `region:` comes first (see `ces_endpoint_for`).
            region: saved
                .doc
                .region
                .clone()
                .or_else(|| env.get(ENV_HW_REGION).map(|r| r.trim().to_owned())),
            ces_endpoint: cfg.ces_endpoint.clone(),
            options: cfg.client.clone(),
        })
    }

    fn context(&self, manifest: &Manifest, plan: &Plan, overrides: Overrides) -> PlanContext {
        PlanContext {
            manifest: manifest.path.display().to_string(),
            manifest_sha256: manifest.sha256.clone(),
            endpoint: self.target.endpoint.to_string(),
            project_id: self.target.project_id.clone(),
            refusals: plan.refusals(&manifest.rules.guards, overrides),
            verbose: self.verbose,
            created_at: crate::util::rfc3339(OffsetDateTime::now_utc()),
            color: false,
        }
    }

    /// The Cloud Eye endpoint of the activity guard: `--ces-endpoint`, the manifest's
    /// `ces_endpoint:`, else the default of the region (the manifest's `region:`, then
    /// `HW_REGION_NAME`).
    fn ces_endpoint_for(&self, manifest: &Manifest) -> Result<Url> {
        let file = manifest.path.display();
        if let Some(e) = &self.ces_endpoint {
            return config::check_endpoint(e, "--ces-endpoint");
        }
        if let Some(e) = &manifest.ces_endpoint {
            return config::check_endpoint(e, &format!("{file}: ces_endpoint"));
        }
        let region = match (&manifest.region, &self.region) {
            (Some(r), _) => Some((r.as_str(), format!("{file}: region"))),
            (None, Some(r)) => Some((r.as_str(), ENV_HW_REGION.to_owned())),
            (None, None) => None,
        };
        let Some((region, origin)) = region else {
            return Err(Error::Usage(format!(
                "{file}: `guards.idle_for` asks Cloud Eye whether instances are in use, but no \
                 Cloud Eye endpoint is known: set `ces_endpoint:` or `region:` in the manifest, \
                 set {ENV_HW_REGION}, or pass --ces-endpoint"
            )));
        };
        config::check_region(region, &origin)?;
        config::check_endpoint(&config::region_endpoint("ces", region), &origin)
    }

    /// The activity guard: when `guards.idle_for` is set, asks Cloud Eye about `plan`'s
    /// deletions (only those, and nothing when there are none) and moves the ones in use or
    /// without data to `skip`. Fails closed: an unreadable Cloud Eye is an error.
    /// The steps after the planner, in order: the activity guard (Cloud Eye; only for what
    /// would otherwise be deleted), then where deletions go (recycle bin), then which of them
    /// wait for their grace period (marks). So an instance in use is never marked, and
    /// every mark, pending or deletion has a destination.
    async fn after_planning(&self, manifest: &Manifest, plan: &mut Plan) -> Result<()> {
        self.guard_activity(manifest, plan).await?;
        crate::recycle::apply(plan, &manifest.rules.deletion);
        crate::grace::apply(
            plan,
            manifest.rules.deletion.grace,
            OffsetDateTime::now_utc(),
        );
        Ok(())
    }

    async fn guard_activity(&self, manifest: &Manifest, plan: &mut Plan) -> Result<()> {
        let Some(rule) = IdleRule::of(&manifest.rules.guards) else {
            return Ok(());
        };
        let endpoint = self.ces_endpoint_for(manifest)?;
        if plan.delete.is_empty() {
            activity::guard(plan, &rule, &HashMap::new());
            return Ok(());
        }
        let window = activity::window_text(rule.window);
        let to_ms = i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| Error::Internal("the clock is out of range".to_owned()))?;
        let from_ms = i64::try_from(rule.window.as_millis())
            .ok()
            .and_then(|w| to_ms.checked_sub(w))
            .ok_or_else(|| Error::Usage(format!("guards.idle_for {window} is too long")))?;
        let ids: Vec<String> = plan.delete.iter().map(|d| d.instance.id.clone()).collect();
        tracing::info!(
            count = ids.len(),
            %endpoint,
            "asking Cloud Eye whether the planned deletions were idle in the last {window}"
        );
        let answer = ces::activity(
            &endpoint,
            &self.target.project_id,
            &self.auth,
            &self.options,
            &ids,
            from_ms,
            to_ms,
        )
        .await
        .map_err(|e| {
            Error::Activity(format!(
                "the activity guard (guards.idle_for: {window}) could not read Cloud Eye: it \
                 asked {endpoint} (project {}) for the peak instantaneous_ops and the \
                 total_connections_received of {} in the last {window}; nothing was deleted: {e}",
                self.target.project_id,
                crate::render::plural(ids.len(), "instance", "instances"),
            ))
        })?;
        let observed: HashMap<String, Option<ces::Activity>> = answer.into_iter().collect();
        activity::guard(plan, &rule, &observed);
        Ok(())
    }

    /// Lists the live instances and plans them against `manifest`.
    pub async fn plan(&self, manifest: &Manifest, overrides: Overrides) -> Result<Planned> {
        let live = self.client.list_instances().await?;
        tracing::info!(count = live.len(), "listed live instances");
        let mut plan = plan_against(manifest, live, OffsetDateTime::now_utc())?;
        self.after_planning(manifest, &mut plan).await?;
        let context = self.context(manifest, &plan, overrides);
        Ok(Planned {
            plan,
            context,
            overrides,
            saved: None,
        })
    }

    /// After the prompt: lists again and checks that every deletion `planned` showed still
    /// stands (not gone, renamed, declared, protected, skipped or out of scope now). The
    /// inner `Err`: what changed.
    pub async fn recheck(
        &self,
        manifest: &Manifest,
        planned: &Planned,
    ) -> Result<std::result::Result<(), Stale>> {
        let live = self.client.list_instances().await?;
        let mut fresh = plan_against(manifest, live.clone(), OffsetDateTime::now_utc())?;
        self.after_planning(manifest, &mut fresh).await?;
        let p = &planned.plan;
        let shown: Vec<InstanceDoc<'_>> = p.delete.iter().map(|d| InstanceDoc::of(d, p)).collect();
        let at = &planned.context.created_at;
        if let Err(stale) = saved::check_items(&shown, at, &fresh, &live) {
            return Ok(Err(stale));
        }
        let mark: Vec<InstanceDoc<'_>> = p.mark.iter().map(|d| InstanceDoc::of(d, p)).collect();
        let unmark: Vec<InstanceDoc<'_>> = p.unmark.iter().map(InstanceDoc::from).collect();
        Ok(saved::check_marks(&shown, &mark, &unmark, at, &fresh).map(|_| ()))
    }

    /// Lists the live instances, re-plans them under the saved plan's own `manifest`, and
    /// returns the saved deletions as they are now, if they all still stand (the inner
    /// `Err`: what changed). Overrides given now add to the saved ones.
    pub async fn replan_saved(
        &self,
        saved: &SavedPlan,
        manifest: &Manifest,
        origin: &str,
        now_overrides: Overrides,
    ) -> Result<std::result::Result<Planned, Stale>> {
        let live = self.client.list_instances().await?;
        let mut fresh =
            plan_against(manifest, live.clone(), OffsetDateTime::now_utc()).map_err(|e| {
                Error::Guard(format!(
                    "the saved plan {origin} is stale: its manifest now conflicts with the live \
                 instances; nothing was deleted:\n{e}"
                ))
            })?;
        // Cloud Eye is asked again: an instance in use since the plan makes it stale.
        self.after_planning(manifest, &mut fresh).await?;
        let decisions = match saved::check(saved, &fresh, &live) {
            Ok(d) => d,
            Err(stale) => return Ok(Err(stale)),
        };
        let doc = &saved.doc;
        let (mark, unmark) = match saved::check_marks(
            &doc.delete,
            &doc.mark,
            &doc.unmark,
            &doc.created_at,
            &fresh,
        ) {
            Ok(m) => m,
            Err(stale) => return Ok(Err(stale)),
        };
        let planned: std::collections::HashSet<&str> = decisions
            .iter()
            .chain(&mark)
            .map(|d| d.instance.id.as_str())
            .collect();
        // Deletions and marks the saved plan did not show are left for the next plan.
        let new_surplus = fresh
            .delete
            .iter()
            .chain(&fresh.mark)
            .filter(|d| !planned.contains(d.instance.id.as_str()))
            .cloned()
            .collect();
        let plan = Plan {
            delete: decisions,
            mark,
            unmark,
            ..fresh
        };
        let kept = saved.overrides();
        let overrides = Overrides {
            allow_empty: kept.allow_empty || now_overrides.allow_empty,
            max_delete: now_overrides.max_delete.or(kept.max_delete),
        };
        let mut context = self.context(manifest, &plan, overrides);
        context.manifest = format!("{} (saved in {origin})", saved.doc.manifest.path);
        context.created_at.clone_from(&saved.doc.created_at);
        Ok(Ok(Planned {
            plan,
            context,
            overrides,
            saved: Some(SavedOrigin {
                origin: origin.to_owned(),
                created_at: saved.doc.created_at.clone(),
                new_surplus,
            }),
        }))
    }
}
