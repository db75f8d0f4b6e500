//! Domain types shared by the manifest, the API client, the planner and the renderers.
//!
//! No YAML, no HTTP, no I/O here: these are plain values.

/// A short text that many instances of a listing share (`engine`, `spec_code`, …): one
/// allocation per distinct value of a page, not one per instance.
pub type Shared = std::sync::Arc<str>;

/// A live DCS instance, reduced to the fields the plan and its output need: the listing parses
/// each answer straight into this (the API's other 30-odd fields are skipped, never stored), so
/// it is what a large project costs in memory. Add a field only when the plan or its output
/// uses it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Instance {
    /// `instance_id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `status`, e.g. `RUNNING`, `CREATEFAILED`, `CREATING`; unknown values are kept as they are.
    pub status: String,
    /// `created_at` as the API gives it, e.g. `2017-03-31T12:24:46.297Z`.
    pub created_at: Option<String>,
    /// `charging_mode`: 0 pay-per-use, 1 prepaid (yearly/monthly).
    pub charging_mode: Option<i64>,
    /// `spec_code`, e.g. `redis.ha.xu1.large.r2.2` (for `export`'s comments).
    pub spec_code: Option<Shared>,
    /// `enterprise_project_id`.
    pub enterprise_project_id: Option<Shared>,
    /// `tags` as key/value pairs.
    pub tags: Vec<(String, String)>,
    /// `engine`, e.g. `Redis` (for the recycle bin's eligibility).
    pub engine: Option<Shared>,
    /// `engine_version`, e.g. `5.0`.
    pub engine_version: Option<Shared>,
    /// `product_type`, e.g. `generic` or `enterprise`; missing in older answers.
    pub product_type: Option<Shared>,
}

impl Instance {
    /// True when the instance is billed yearly/monthly and so cannot be deleted through this API.
    pub fn is_prepaid(&self) -> bool {
        self.charging_mode == Some(1)
    }

    /// The billing mode's name: `pay-per-use`, `prepaid`, or `None` when the listing does not
    /// say or says something unknown (the one place these names are written).
    pub fn billing(&self) -> Option<&'static str> {
        match self.charging_mode {
            Some(0) => Some("pay-per-use"),
            Some(1) => Some("prepaid"),
            _ => None,
        }
    }

    /// `name (id)`, the way messages name an instance.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }
}

/// One entry of the manifest's `instances:` list: an instance that should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the list, 0-based, for messages (`instances[3]`).
    pub index: usize,
    /// Matches the instance with this id.
    pub id: Option<String>,
    /// Matches every instance of exactly this name (when `id` is not given), or must equal the
    /// name of the instance with `id` (when it is).
    pub name: Option<String>,
    /// `region:`: the entry belongs to this region of the manifest's `regions:` only; `None`
    /// (the usual case, no allocation) means every region, or the manifest's one region.
    pub region: Option<String>,
}

impl Entry {
    /// `instances[3] (name: a, id: b)`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(format!("name: {name}"));
        }
        if let Some(id) = &self.id {
            parts.push(format!("id: {id}"));
        }
        format!("instances[{}] ({})", self.index, parts.join(", "))
    }
}

/// A regular expression with its source text; compared by source.
#[derive(Debug, Clone)]
pub struct NameRegex {
    source: String,
    regex: regex::Regex,
}

impl NameRegex {
    /// Compiles `source`; the error says what is wrong with it.
    pub fn new(source: &str) -> Result<NameRegex, String> {
        regex::Regex::new(source)
            .map(|regex| NameRegex {
                source: source.to_owned(),
                regex,
            })
            .map_err(|e| {
                // The regex library explains over several lines; keep the error on one.
                let why = e.to_string();
                let why = why.lines().last().unwrap_or_default().trim();
                format!("invalid regular expression `{source}`: {why}")
            })
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the pattern matches somewhere in `s` (anchor it with `^…$` to match all of it).
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

impl PartialEq for NameRegex {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for NameRegex {}

/// A shell-style glob (`*`, `?`, `[abc]`, `{a,b}`) matched against a whole name.
#[derive(Debug, Clone)]
pub struct NameGlob {
    source: String,
    matcher: globset::GlobMatcher,
}

impl NameGlob {
    /// Compiles `source`; the error says what is wrong with it.
    pub fn new(source: &str) -> Result<NameGlob, String> {
        globset::Glob::new(source)
            .map(|g| NameGlob {
                source: source.to_owned(),
                matcher: g.compile_matcher(),
            })
            .map_err(|e| format!("invalid glob `{source}`: {e}"))
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// True when the whole of `s` matches.
    pub fn is_match(&self, s: &str) -> bool {
        self.matcher.is_match(s)
    }
}

impl PartialEq for NameGlob {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}
impl Eq for NameGlob {}

/// Which live instances the manifest manages. Every selector given must match; an instance
/// that fails one is out of scope and never deleted, whatever the manifest says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// The name must start with this.
    pub name_prefix: Option<String>,
    /// The name must match this regular expression.
    pub name_regex: Option<NameRegex>,
    /// The instance must be in this enterprise project.
    pub enterprise_project_id: Option<String>,
    /// The instance must carry every one of these tags with exactly this value.
    pub tags: Vec<(String, String)>,
}

impl Scope {
    /// True when no selector is given (every instance is managed).
    pub fn is_everything(&self) -> bool {
        self.name_prefix.is_none()
            && self.name_regex.is_none()
            && self.enterprise_project_id.is_none()
            && self.tags.is_empty()
    }

    /// True when `i` matches every selector.
    pub fn contains(&self, i: &Instance) -> bool {
        self.name_prefix
            .as_deref()
            .is_none_or(|p| i.name.starts_with(p))
            && self.name_regex.as_ref().is_none_or(|r| r.is_match(&i.name))
            && self
                .enterprise_project_id
                .as_deref()
                .is_none_or(|e| i.enterprise_project_id.as_deref() == Some(e))
            && has_tags(i, &self.tags)
    }
}

/// True when `i` carries every `(key, value)` of `tags`.
pub fn has_tags(i: &Instance, tags: &[(String, String)]) -> bool {
    tags.iter()
        .all(|(k, v)| i.tags.iter().any(|(ik, iv)| ik == k && iv == v))
}

/// A rule that keeps matching instances from ever being deleted, declared or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtectRule {
    /// Names matching this glob.
    Name(NameGlob),
    /// This instance id.
    Id(String),
    /// Instances carrying all these tags.
    Tag(Vec<(String, String)>),
}

impl ProtectRule {
    /// True when the rule protects `i`.
    pub fn matches(&self, i: &Instance) -> bool {
        match self {
            ProtectRule::Name(g) => g.is_match(&i.name),
            ProtectRule::Id(id) => i.id == *id,
            ProtectRule::Tag(tags) => has_tags(i, tags),
        }
    }

    /// `name: 'prod-*'`, `id: …`, `tag: {keep: true}`.
    pub fn describe(&self) -> String {
        match self {
            ProtectRule::Name(g) => format!("name: '{}'", g.source()),
            ProtectRule::Id(id) => format!("id: {id}"),
            ProtectRule::Tag(tags) => format!(
                "tag: {{{}}}",
                tags.iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// A cap on deletions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// At most this many.
    Count(usize),
    /// At most this percentage of the managed (in-scope) instances, rounded down.
    Percent(u32),
}

impl Limit {
    /// The number of deletions allowed when `managed` instances are in scope.
    pub fn allowed(self, managed: usize) -> usize {
        match self {
            Limit::Count(n) => n,
            Limit::Percent(p) => managed.saturating_mul(p as usize) / 100,
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Limit::Count(n) => write!(f, "{n}"),
            Limit::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// Guards that refuse a whole run (exit 3) rather than delete too much.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guards {
    /// `max_delete`: a count or a percentage of the managed instances.
    pub max_delete: Option<Limit>,
    /// `min_age`: younger instances are skipped.
    pub min_age: Option<std::time::Duration>,
    /// `allow_empty`: accept an empty `instances:` list while managed instances exist.
    pub allow_empty: bool,
    /// `idle_for`: the window (at most 180 days) over which Cloud Eye must show an instance
    /// idle before it may be deleted.
    pub idle_for: Option<std::time::Duration>,
    /// `idle_max_ops`: idle means at most this many commands per second in the window.
    pub idle_max_ops: Option<NonNegative>,
    /// `idle_max_connections`: idle means at most this many new connections in the window.
    pub idle_max_connections: Option<u64>,
}

/// A finite number, zero or more (never NaN or infinite), so it compares as a value.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct NonNegative(f64);

impl NonNegative {
    /// `v`, unless it is negative, NaN or infinite (`-0.0` becomes `0.0`).
    pub fn new(v: f64) -> Option<NonNegative> {
        (v.is_finite() && v >= 0.0).then_some(NonNegative(v + 0.0))
    }

    /// The number.
    pub fn get(self) -> f64 {
        self.0
    }
}

// Never NaN, so equality is reflexive.
impl Eq for NonNegative {}

impl std::fmt::Display for NonNegative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How `apply` deletes: the manifest's `deletion:`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deletion {
    /// `recycle_bin`: delete into the recycle bin (`is_recycle: true`; kept 7 days there).
    pub recycle_bin: bool,
    /// `require_recoverable`: refuse to delete an instance that cannot go to the recycle bin
    /// (needs `recycle_bin`).
    pub require_recoverable: bool,
    /// `grace`: at least this long (1 hour or more) between an instance being found undeclared
    /// and its deletion.
    pub grace: Option<std::time::Duration>,
}

/// The manifest's rules besides the declared instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// `scope:`.
    pub scope: Scope,
    /// `protect:`.
    pub protect: Vec<ProtectRule>,
    /// `guards:`.
    pub guards: Guards,
    /// `deletion:`.
    pub deletion: Deletion,
}

/// What Cloud Eye showed for one instance checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivityFigures {
    /// The window looked at, ending when the plan was made.
    pub window: std::time::Duration,
    /// The highest `instantaneous_ops` (ops/s) in the window; `None`: no data.
    pub peak_ops: Option<f64>,
    /// The new connections (`total_connections_received`) in the window; `None`: no data.
    pub new_connections: Option<f64>,
    /// How many datapoints this is made of (0: no data).
    pub datapoints: usize,
    /// Whether the instance counts as idle (and may be deleted).
    pub idle: bool,
}

// The figures come from finite values (the client drops the others; a sum of finite values
// may reach infinity but never NaN), so equality is reflexive.
impl Eq for ActivityFigures {}
