//! Configuring a [`KvpLayer`] and its own filter.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kvp_codec::Limits;
use kvp_sink::Sink;
use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::registry::LookupSpan;

use crate::capture::{Captured, RenderContext};
use crate::filter::{KvpFilter, directives_filter};
use crate::ids::{Ids, Keys, MAX_ID_LEN};
use crate::layer::KvpLayer;
use crate::limit::{Limiters, RateLimit};
use crate::redact::{DEFAULT_DENY_LIST, Redactor};
use crate::stamp::{Clock, TimeSource};
use crate::vm_id::{UNKNOWN_VM_ID, detect_vm_id};
use telemetry_redact::DenyList;

/// The suffix of the environment variable read for the layer's filter
/// unless another is named with [`KvpLayerBuilder::env_var`]: the variable
/// is `<PREFIX>_KVP_LOG`, the prefix upper-cased with every character but
/// letters and digits turned into `_` (`azure-init` reads
/// `AZURE_INIT_KVP_LOG`), so that no two agents share a variable and none
/// is read outside the agent's own names.
pub const DEFAULT_ENV_VAR: &str = "KVP_LOG";

/// `<PREFIX>_KVP_LOG` for `prefix`; see [`DEFAULT_ENV_VAR`].
fn env_var_of(prefix: &str) -> String {
    let mut name: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    name.push('_');
    name.push_str(DEFAULT_ENV_VAR);
    name
}

/// The filter used when the environment variable is unset or invalid: only
/// warnings and errors reach the small, host-visible pool.
pub const DEFAULT_DIRECTIVE: &str = "warn";

/// Why a layer could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// The key prefix is unusable.
    InvalidPrefix {
        /// The prefix given.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The vm_id is too long: with the prefix, it leaves no room in a key
    /// for the level, an event's name and its id.
    VmIdTooLong {
        /// The vm_id given.
        vm_id: String,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::InvalidPrefix { prefix, reason } => {
                write!(f, "invalid KVP key prefix {prefix:?}: {reason}")
            }
            BuildError::VmIdTooLong { vm_id } => write!(
                f,
                "vm_id of {} characters is too long: it leaves no room in the key for the \
                 level, a name and an id",
                vm_id.chars().count()
            ),
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds a [`KvpLayer`]; see [`KvpLayer::builder`].
pub struct KvpLayerBuilder {
    prefix: String,
    vm_id: Option<String>,
    /// `None`: the environment is not read.
    env_var: Option<String>,
    directive: String,
    span_open_records: bool,
    clock: Option<Clock>,
    ids: Option<Arc<Ids>>,
    deny_list: Vec<String>,
    /// The whole policy, when given; else `deny_list`.
    redaction: Option<DenyList>,
    /// Names never redacted, on top of either.
    allowed: Vec<String>,
    rate_limit: Option<RateLimit>,
    pub(crate) flush_timeout: Duration,
    pub(crate) flush_at_exit: bool,
    pub(crate) flush_on_signals: bool,
    key_name: Option<KeyName>,
    events_outside_spans: bool,
}

/// A hook that names the key of a span's or an event's records: given the
/// callsite's metadata, `Some(name)` for the key's name part, or `None` for
/// the default (the span's name, the event's target). Called on the writer
/// thread, not the application's. See [`KvpLayerBuilder::key_name`].
pub type KeyName = Arc<dyn Fn(&'static tracing::Metadata<'static>) -> Option<String> + Send + Sync>;

impl fmt::Debug for KvpLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvpLayerBuilder")
            .field("prefix", &self.prefix)
            .field("vm_id", &self.vm_id)
            .field("env_var", &self.env_var)
            .field("directive", &self.directive)
            .finish_non_exhaustive()
    }
}

impl KvpLayer {
    /// A builder for a layer whose keys start with `prefix` (your agent's
    /// name, such as `azure-init`).
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (sink, guard, _) = kvp_sink::WriterBuilder::new(dir.path().join(".kvp_pool_1")).spawn_for::<tracing_kvp::Captured>()?;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent").vm_id("vm-1").build(sink)?;
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// tracing::subscriber::with_default(subscriber, || {
    ///     tracing::warn!(disk = "sda", "disk is slow");
    /// });
    /// drop(guard); // flushes
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(prefix: impl Into<String>) -> KvpLayerBuilder {
        let prefix = prefix.into();
        KvpLayerBuilder {
            env_var: Some(env_var_of(&prefix)),
            prefix,
            vm_id: None,
            directive: DEFAULT_DIRECTIVE.to_owned(),
            span_open_records: false,
            clock: None,
            ids: None,
            deny_list: DEFAULT_DENY_LIST.iter().map(|s| (*s).to_owned()).collect(),
            redaction: None,
            allowed: Vec::new(),
            rate_limit: Some(RateLimit::DEFAULT),
            flush_timeout: Duration::from_secs(1),
            flush_at_exit: true,
            flush_on_signals: false,
            key_name: None,
            events_outside_spans: true,
        }
    }
}

impl KvpLayerBuilder {
    /// The VM id for keys (default: detected from DMI, see
    /// [`crate::detect_vm_id`]; all zeros when unreadable).
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .vm_id("0f3c4d5e-0000-0000-0000-000000000001")
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn vm_id(mut self, vm_id: impl Into<String>) -> Self {
        self.vm_id = Some(vm_id.into());
        self
    }

    /// The environment variable holding this layer's filter directives
    /// (default `<PREFIX>_KVP_LOG`, see [`DEFAULT_ENV_VAR`]).
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .env_var("AGENT_KVP_FILTER") // read instead of MY_AGENT_KVP_LOG
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env_var(mut self, name: impl Into<String>) -> Self {
        self.env_var = Some(name.into());
        self
    }

    /// Read no environment variable for the filter: only the builder's
    /// directives count, for an agent that owns its configuration.
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .ignore_env() // MY_AGENT_KVP_LOG is not read
    ///     .filter("warn,my_agent=info")
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ignore_env(mut self) -> Self {
        self.env_var = None;
        self
    }

    /// The directives used when the environment variable is unset (default
    /// [`DEFAULT_DIRECTIVE`]), in `EnvFilter` syntax.
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .filter("warn,my_agent=info")
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn filter(mut self, directives: impl Into<String>) -> Self {
        self.directive = directives.into();
        self
    }

    /// Also write a record when a span opens (default off), so a span that
    /// never closes because the process dies still leaves a trace.
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .span_open_records(true)
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn span_open_records(mut self, on: bool) -> Self {
        self.span_open_records = on;
        self
    }

    /// Replaces the deny list (default [`DEFAULT_DENY_LIST`]). Names and
    /// entries are compared after normalising case, `_`, `-`, `.` and
    /// camelCase; an entry of five letters or more matches anywhere in a
    /// name, a shorter one only a whole word (see [`telemetry_redact`]). A
    /// field whose name matches is written `name=<redacted>` and its value
    /// never leaves the process; text values are scrubbed of `name=value`
    /// pairs whose name matches. An empty list redacts nothing by name
    /// (credentials, keys and tokens inside text are still scrubbed).
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .deny_list(["password", "tenant_id"])
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn deny_list<S: Into<String>>(mut self, fragments: impl IntoIterator<Item = S>) -> Self {
        self.deny_list = fragments.into_iter().map(Into::into).collect();
        self
    }

    /// Adds entries to the deny list.
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .also_deny(["tenant_id"]) // and every default entry
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn also_deny<S: Into<String>>(mut self, fragments: impl IntoIterator<Item = S>) -> Self {
        self.deny_list.extend(fragments.into_iter().map(Into::into));
        self
    }

    /// Names that are never redacted, though a deny-list entry matches
    /// them: a team's known non-secrets (`password_provisioners`,
    /// `token_count`). Names are compared whole, after normalising case and
    /// separators ([`DenyList::allowing`]).
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .allow_fields(["password_provisioners"])
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow_fields<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.allowed.extend(names.into_iter().map(Into::into));
        self
    }

    /// The whole redaction policy, as one [`DenyList`] (with its allowed
    /// names), in place of [`deny_list`](Self::deny_list): what a program
    /// builds once and hands to every exit (the facade does).
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let policy = telemetry_redact::DenyList::default().allowing(["token_count"]);
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .redaction(policy)
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn redaction(mut self, policy: DenyList) -> Self {
        self.redaction = Some(policy);
        self
    }

    /// The per-callsite rate limit (default [`RateLimit::DEFAULT`]: a burst
    /// of 10 records, then 1 per second); `None` turns it off.
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// use tracing_kvp::RateLimit;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .rate_limit(Some(RateLimit { burst: 50, per_second: 5.0 })) // None: no limit
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Where timestamps come from (default `SystemTime::now`).
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .clock(|| std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_795_262_400))
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Where record ids come from (default [`Ids::for_process`]).
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .ids(tracing_kvp::Ids::with_tag(0x1234))
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ids(mut self, ids: Ids) -> Self {
        self.ids = Some(Arc::new(ids));
        self
    }

    /// The layer's filter: the environment variable's directives when set
    /// and valid, else the builder's, else [`DEFAULT_DIRECTIVE`]. A source
    /// that cannot be parsed is named in one stderr line and the next one
    /// is used, never a panic.
    ///
    /// ```
    /// let builder = tracing_kvp::KvpLayer::builder("my-agent").filter("info");
    /// let filter = builder.make_filter(); // an EnvFilter, to combine with your own
    /// # drop(filter);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn make_filter(&self) -> EnvFilter {
        directives_filter(
            self.env_var.as_deref(),
            &self.directive,
            DEFAULT_DIRECTIVE,
            "tracing-kvp",
        )
    }

    /// Shapes the name part of keys (`<prefix>|<vm_id>|<LEVEL>|<name>|<id>`):
    /// `hook` gets each span's or event's metadata and returns the name, or
    /// `None` for the default (the span's name, the event's target). It
    /// runs on the writer thread; a name too long for the key is shortened
    /// as any name is. The default is no hook.
    ///
    /// azure-init names its span keys `module:function`:
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("azure-init")
    ///     .key_name(|meta| {
    ///         meta.is_span()
    ///             .then(|| format!("{}:{}", meta.module_path().unwrap_or_default(), meta.name()))
    ///     })
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn key_name(
        mut self,
        hook: impl Fn(&'static tracing::Metadata<'static>) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.key_name = Some(Arc::new(hook));
        self
    }

    /// Whether an event in no span at all is written (default on). Off,
    /// as azure-init's own layer behaves, only events inside a span (one
    /// this layer records, or one its filter leaves out) reach the pool;
    /// a provisioning report always does.
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .events_outside_spans(false)
    ///     .build_unfiltered(sink)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn events_outside_spans(mut self, on: bool) -> Self {
        self.events_outside_spans = on;
        self
    }

    /// Checks what [`build`](Self::build) would refuse, without a sink: the
    /// prefix, and whether prefix and vm_id leave room in a key under the
    /// sink's `limits` and `max_chunks`. For callers that must refuse bad
    /// settings before they open the pool.
    ///
    /// ```
    /// use kvp_codec::Limits;
    /// let b = tracing_kvp::KvpLayer::builder("my-agent").vm_id("x".repeat(300));
    /// assert!(matches!(
    ///     b.check(&Limits::SAFE, 16),
    ///     Err(tracing_kvp::BuildError::VmIdTooLong { .. })
    /// ));
    /// ```
    pub fn check(&self, limits: &Limits, max_chunks: usize) -> Result<(), BuildError> {
        self.keys(limits, max_chunks).map(|_| ())
    }

    /// The key layout for this prefix and vm_id, and the vm_id.
    pub(crate) fn keys(
        &self,
        limits: &Limits,
        max_chunks: usize,
    ) -> Result<(Keys, String), BuildError> {
        let invalid = |reason| BuildError::InvalidPrefix {
            prefix: self.prefix.clone(),
            reason,
        };
        if self.prefix.is_empty() {
            return Err(invalid("it is empty"));
        }
        if self.prefix.contains('|') {
            return Err(invalid("it contains `|`, the key separator"));
        }
        if self.prefix.chars().any(char::is_control) {
            return Err(invalid("it contains a control character"));
        }
        let vm_id = self
            .vm_id
            .clone()
            .or_else(detect_vm_id)
            .unwrap_or_else(|| UNKNOWN_VM_ID.to_owned());
        let layout = |vm_id: &str| {
            Keys::new(
                String::new(),
                &self.prefix,
                vm_id,
                limits,
                max_chunks,
                MAX_ID_LEN,
            )
        };
        match layout(&vm_id) {
            Ok(keys) => Ok((keys, vm_id)),
            // With a vm_id of the usual length it would fit: the vm_id is
            // what is too long.
            Err(_) if layout(UNKNOWN_VM_ID).is_ok() => Err(BuildError::VmIdTooLong { vm_id }),
            Err(_) => Err(invalid("it leaves no room in the key for a name")),
        }
    }

    /// The layer without a filter, for callers that filter themselves.
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// use tracing_subscriber::{Layer as _, filter::LevelFilter, prelude::*};
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent").build_unfiltered(sink)?;
    /// let subscriber = tracing_subscriber::registry().with(layer.with_filter(LevelFilter::WARN));
    /// # drop(subscriber);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_unfiltered(self, sink: Sink<Captured>) -> Result<KvpLayer, BuildError> {
        let (key, vm_id) = self.keys(&sink.limits(), sink.max_chunks())?;
        let capture_max = sink
            .limits()
            .value_bytes()
            .saturating_mul(sink.max_chunks())
            .saturating_add(1);
        let ids = self.ids.unwrap_or_else(|| Arc::new(Ids::for_process()));
        let policy = self
            .redaction
            .unwrap_or_else(|| DenyList::new(&self.deny_list))
            .allowing(&self.allowed);
        let redactor = Redactor::new(policy);
        // The writer renders this layer's records with a context of its
        // own, set up before the first record (the queue keeps order); a
        // record names its layer, not the context. Should the writer have
        // stopped, the layer's records are counted as unrendered there.
        let instance = crate::layer::next_instance();
        let render = RenderContext::new(
            key.clone(),
            ids.formatter(),
            redactor.list().clone(),
            self.key_name.clone(),
        );
        sink.configure_renderer(Duration::from_secs(5), move |renderers| {
            renderers.add(instance, render);
        });
        Ok(KvpLayer {
            sink,
            vm_id: vm_id.clone(),
            key,
            ids,
            key_name: self.key_name.clone(),
            instance,
            spans: Arc::default(),
            registered: std::sync::OnceLock::new(),
            time: self.clock.map_or(TimeSource::System, TimeSource::Injected),
            span_open_records: self.span_open_records,
            redactor,
            limiters: Arc::new(Limiters::new(self.rate_limit)),
            capture_max,
            events_outside_spans: self.events_outside_spans,
        })
    }

    /// The layer under its own filter ([`KvpLayerBuilder::make_filter`],
    /// inside a [`KvpFilter`], so that a provisioning report always passes).
    ///
    /// ```
    /// # let sink = kvp_sink::WriterBuilder::new(tempfile::tempdir()?.path().join("p")).spawn_for::<tracing_kvp::Captured>()?.0;
    /// use tracing_subscriber::prelude::*;
    /// let layer = tracing_kvp::KvpLayer::builder("my-agent").filter("info").build(sink)?;
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// # drop(subscriber);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build<S>(
        self,
        sink: Sink<Captured>,
    ) -> Result<Filtered<KvpLayer, KvpFilter, S>, BuildError>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let filter = KvpFilter::new(self.make_filter());
        Ok(self.build_unfiltered(sink)?.with_filter(filter))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_variable_is_the_prefixs_own() {
        assert_eq!(super::env_var_of("azure-init"), "AZURE_INIT_KVP_LOG");
        assert_eq!(super::env_var_of("my.agent/2"), "MY_AGENT_2_KVP_LOG");
    }
}
