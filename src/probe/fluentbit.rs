//! Fluent Bit's classic configuration, read for its CloudWatch outputs: `[SECTION]` headers,
//! `Key Value` lines, `@INCLUDE` (relative to the including file's folder; `*` globs in the
//! file name), `@SET K=V` and `${VAR}` (a `@SET` variable, else the environment). Files are
//! read only through `Env::read_file` (the one bounded reader); a glob lists its folder
//! through `Env::list_dir`, bounded the same way.
//! A YAML configuration (`.yaml`/`.yml`, or one that opens with `service:`/`pipeline:`/`env:`/
//! `includes:`) is read by `fluentbit_yaml` for its `env`, `includes` and `pipeline.outputs`,
//! which become the same sections. `${VAR}` expansion is bounded (a value at most the file
//! cap, all expansions at most 1 MiB more): a doubling `@SET` chain is a config error naming
//! the line. Reads: `${VAR}` names from the config.

use super::names::{self, Task};
use super::plan::{Plugin, Target};
use crate::env::Env;
use crate::error::Error;
use crate::secret::printable;
use crate::warning::Warning;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The default FireLens configuration, which `@INCLUDE`s the user's file.
pub const FIRELENS_CONFIG: &str = "/fluent-bit/etc/fluent-bit.conf";
/// The aws-for-fluent-bit image's own default output group (its `/fluent-bit/etc/fluent-bit.conf`).
pub const IMAGE_DEFAULT_GROUP: &str = "fluent-bit-cloudwatch";
const FILE_CAP: u64 = 256 * 1024;
/// Files one configuration may read in all (its includes); more is a stated error.
pub const MAX_FILES: usize = 256;
/// Entries a globbed `@INCLUDE` folder may hold; more is a stated error, never a truncation.
pub const MAX_DIR_ENTRIES: usize = 4096;
const MAX_DEPTH: usize = 8;
/// The longest value `${VAR}` expansion may make (a config file's own cap).
const MAX_VALUE: usize = FILE_CAP as usize;
/// How many bytes all the expansions of one configuration may add.
const MAX_GROWTH: usize = 1024 * 1024;

/// One `[OUTPUT]` section: where it starts, its keys (lower-cased) with expanded values, and
/// the `${VAR}`s that were not set when a key was expanded (key, variable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub at: String,
    pub keys: BTreeMap<String, String>,
    pub unset: Vec<(String, String)>,
    /// The name the router's metrics API gives this output: its `Alias`, else
    /// `<plugin>.<N>` with N counting every output of the config in order (flb_output.c).
    /// `None` where the section is not from a config file (task metadata).
    pub instance: Option<String>,
}

/// What the probe takes from a whole configuration: its outputs, and its `[SERVICE]` keys
/// (lower-cased; the metrics API's `HTTP_Server`, `HTTP_Listen`, `HTTP_Port`).
#[derive(Debug, Default)]
pub struct Config {
    pub outputs: Vec<Section>,
    pub service: BTreeMap<String, String>,
}

struct Reader<'a> {
    env: &'a Env,
    vars: BTreeMap<String, String>,
    /// Bytes added by `${VAR}` expansion so far (bounded by [`MAX_GROWTH`]).
    grown: usize,
    files: usize,
    config: Config,
    current: Option<Section>,
    in_service: bool,
}

/// Every `[OUTPUT]` of the configuration at `path` and its includes, in order.
pub fn outputs(env: &Env, path: &Path) -> Result<Vec<Section>, Error> {
    read(env, path).map(|c| c.outputs)
}

/// The configuration at `path` and its includes.
pub fn read(env: &Env, path: &Path) -> Result<Config, Error> {
    let mut r = Reader {
        env,
        vars: BTreeMap::new(),
        grown: 0,
        files: 0,
        config: Config::default(),
        current: None,
        in_service: false,
    };
    r.file(path, 0)?;
    r.close();
    Ok(r.config)
}

fn config_error(message: String) -> Error {
    Error::config(
        "fluent-bit-config",
        message,
        "pass the log router's configuration (FireLens: /fluent-bit/etc/fluent-bit.conf and the file it includes)",
    )
}

impl Reader<'_> {
    fn file(&mut self, path: &Path, depth: usize) -> Result<(), Error> {
        self.files += 1;
        if depth > MAX_DEPTH || self.files > MAX_FILES {
            return Err(config_error(format!(
                "{}: @INCLUDE nests deeper than {MAX_DEPTH} or reads more than {MAX_FILES} files in all (a loop?); nothing beyond was checked",
                path.display()
            )));
        }
        let bytes = self.env.read_file(path, FILE_CAP).map_err(|e| {
            config_error(format!(
                "cannot read the Fluent Bit config {}: {e}",
                path.display()
            ))
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if is_yaml(path, &text) {
            return self.yaml(path, &text, depth);
        }
        for (n, raw) in text.lines().enumerate() {
            self.line(path, n + 1, raw.trim(), depth)?;
        }
        Ok(())
    }

    fn line(&mut self, path: &Path, n: usize, line: &str, depth: usize) -> Result<(), Error> {
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let (word, rest) = split_word(line);
        if word.eq_ignore_ascii_case("@INCLUDE") {
            let at = || format!("{}:{n}", path.display());
            let pattern = self.expand(rest, &at)?;
            return self.include(path, &pattern, depth);
        }
        if word.eq_ignore_ascii_case("@SET") {
            if let Some((k, v)) = rest.split_once('=') {
                let value = self.expand(v.trim(), &|| format!("{}:{n}", path.display()))?;
                self.vars.insert(k.trim().to_string(), value);
            }
            return Ok(());
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            self.close();
            self.in_service = name.trim().eq_ignore_ascii_case("SERVICE");
            if name.trim().eq_ignore_ascii_case("OUTPUT") {
                self.current = Some(Section {
                    at: format!("{}:{n}", path.display()),
                    ..Section::default()
                });
            }
            return Ok(());
        }
        let (value, unset) = self.expand_noting(rest, &|| format!("{}:{n}", path.display()))?;
        if self.in_service {
            self.config.service.insert(word.to_ascii_lowercase(), value);
        } else if let Some(section) = &mut self.current {
            let key = word.to_ascii_lowercase();
            section
                .unset
                .extend(unset.into_iter().map(|v| (key.clone(), v)));
            section.keys.insert(key, value);
        }
        Ok(())
    }

    /// A YAML file: `env` first (as variables), then `includes`, then its outputs.
    fn yaml(&mut self, path: &Path, text: &str, depth: usize) -> Result<(), Error> {
        self.close();
        let doc = super::fluentbit_yaml::parse(text)
            .map_err(|why| config_error(format!("{}: {why}", path.display())))?;
        for (key, value) in doc.env {
            let at = || format!("{} (env {})", path.display(), printable(&key, 60));
            let value = self.expand(&value, &at)?;
            self.vars.insert(key, value);
        }
        for (key, value) in &doc.service {
            let value = self.expand(value, &|| format!("{} (service)", path.display()))?;
            self.config.service.insert(key.to_ascii_lowercase(), value);
        }
        for include in &doc.includes {
            let pattern = self.expand(include, &|| format!("{} (includes)", path.display()))?;
            self.include(path, &pattern, depth)?;
        }
        for (line, pairs) in doc.outputs {
            let mut section = Section {
                at: format!("{}:{line}", path.display()),
                ..Section::default()
            };
            for (k, v) in &pairs {
                let (value, unset) =
                    self.expand_noting(v, &|| format!("{}:{line}", path.display()))?;
                let key = k.to_ascii_lowercase();
                section
                    .unset
                    .extend(unset.into_iter().map(|v| (key.clone(), v)));
                section.keys.insert(key, value);
            }
            self.push(section);
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Some(section) = self.current.take() {
            self.push(section);
        }
    }

    /// Adds an output with its metrics name (`Alias`, else `<name>.<N>`).
    fn push(&mut self, mut section: Section) {
        let n = self.config.outputs.len();
        let name = section
            .keys
            .get("name")
            .map(|v| v.trim().to_ascii_lowercase());
        let alias = section.keys.get("alias").map(|v| v.trim().to_string());
        section.instance = alias
            .filter(|a| !a.is_empty())
            .or_else(|| name.map(|name| format!("{name}.{n}")));
        self.config.outputs.push(section);
    }

    fn include(&mut self, from: &Path, pattern: &str, depth: usize) -> Result<(), Error> {
        let base = from.parent().unwrap_or(Path::new("/"));
        let path = base.join(pattern);
        if !path.to_string_lossy().contains('*') {
            return self.file(&path, depth + 1);
        }
        for each in self.glob(&path)? {
            self.file(&each, depth + 1)?;
        }
        Ok(())
    }

    /// `*` in the file name only, as Fluent Bit's glob is used in practice (`conf.d/*.conf`).
    /// A folder that cannot be listed, or holds more than `MAX_DIR_ENTRIES`, is an error: an
    /// output beyond a silent cut would never be checked.
    fn glob(&self, pattern: &Path) -> Result<Vec<PathBuf>, Error> {
        let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
            return Ok(Vec::new());
        };
        let name = name.to_string_lossy();
        let entries = self.env.list_dir(dir, MAX_DIR_ENTRIES + 1).map_err(|e| {
            config_error(format!(
                "cannot list {} for @INCLUDE {}: {e}",
                dir.display(),
                pattern.display()
            ))
        })?;
        if entries.len() > MAX_DIR_ENTRIES {
            return Err(config_error(format!(
                "{} holds more than {MAX_DIR_ENTRIES} entries (the limit for a globbed @INCLUDE {}); nothing was checked",
                dir.display(),
                pattern.display()
            )));
        }
        let mut found: Vec<PathBuf> = entries
            .into_iter()
            .filter(|f| glob_match(&name, f))
            .map(|f| dir.join(f))
            .collect();
        found.sort();
        Ok(found)
    }

    /// `${VAR}`: a `@SET` variable, else the environment, else empty (as Fluent Bit does).
    /// Bounded: one value grows to at most [`MAX_VALUE`] bytes and all expansions of a
    /// configuration add at most [`MAX_GROWTH`] (29 `@SET` lines that each double the last
    /// would reach 1 GiB); past either, the configuration is refused, naming `at()`.
    fn expand(&mut self, value: &str, at: &dyn Fn() -> String) -> Result<String, Error> {
        self.expand_noting(value, at).map(|(v, _)| v)
    }

    /// `expand`, and the names of the variables that were not set.
    fn expand_noting(
        &mut self,
        value: &str,
        at: &dyn Fn() -> String,
    ) -> Result<(String, Vec<String>), Error> {
        let mut unset = Vec::new();
        let mut out = String::new();
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + len];
            let found = self.vars.get(name).map(String::as_str);
            let found = found.or_else(|| self.env.get(name));
            if found.is_none() {
                unset.push(name.to_string());
            }
            let found = found.unwrap_or("");
            let grown = out.len() + start + found.len();
            if grown > MAX_VALUE || self.grown + grown > MAX_GROWTH {
                return Err(config_error(format!(
                    "{}: expanding ${{…}} variables makes a value of more than {MAX_VALUE} bytes, or the configuration more than {MAX_GROWTH} bytes larger (@SET lines that double a variable?)",
                    at()
                )));
            }
            out.push_str(&rest[..start]);
            out.push_str(found);
            rest = &rest[start + len + 1..];
        }
        out.push_str(rest);
        self.grown += out.len().saturating_sub(value.len());
        Ok((out, unset))
    }
}

fn split_word(line: &str) -> (&str, &str) {
    match line.split_once(char::is_whitespace) {
        Some((w, rest)) => (w, rest.trim()),
        None => (line, ""),
    }
}

fn is_yaml(path: &Path, text: &str) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    matches!(ext, "yaml" | "yml")
        || ["service:", "pipeline:", "env:", "includes:"]
            .iter()
            .any(|k| first.starts_with(k))
}

pub fn glob_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && name.len() >= head.len()
                && (0..=name.len() - head.len()).any(|i| {
                    name.is_char_boundary(head.len() + i)
                        && glob_match(tail, &name[head.len() + i..])
                })
        }
    }
}

fn is_on(value: Option<&String>) -> bool {
    value.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "true" | "on" | "yes" | "1"
        )
    })
}

/// The CloudWatch outputs as targets (one per name they resolve to), with the warnings, and
/// an error for each output that cannot be judged (never silence: such an output is a finding).
#[derive(Debug, Default)]
pub struct Found {
    pub targets: Vec<Target>,
    pub warnings: Vec<Warning>,
    pub errors: Vec<Error>,
    /// CloudWatch outputs seen, judged or not.
    pub outputs: usize,
}

/// The keys whose value decides where records go; an unset `${VAR}` in one makes the output
/// unjudgeable from this environment.
const WHERE_KEYS: [&str; 10] = [
    "region",
    "endpoint",
    "port",
    "log_group_name",
    "log_stream_name",
    "log_stream_prefix",
    "log_group_template",
    "log_stream_template",
    "role_arn",
    "sts_endpoint",
];

pub fn targets(sections: &[Section], task: Option<&Task>) -> Found {
    let mut found = Found::default();
    for s in sections {
        let Some(plugin) = s.keys.get("name").and_then(|n| Plugin::parse(n)) else {
            continue;
        };
        found.outputs += 1;
        if let Err(e) = output(s, plugin, task, &mut found) {
            found.errors.push(e);
        }
    }
    found
}

/// An output that cannot be judged: the report says why, and it never passes as healthy.
fn unjudged(plugin: Plugin, at: &str, why: &str, hint: &str) -> Error {
    Error::unverified(
        "logs-output-unresolved",
        format!(
            "the {} output at {at} cannot be checked: {why}",
            plugin.name()
        ),
        hint,
    )
}

fn output(
    s: &Section,
    plugin: Plugin,
    task: Option<&Task>,
    found: &mut Found,
) -> Result<(), Error> {
    let at = printable(&s.at, 200);
    if let Some((key, var)) = s
        .unset
        .iter()
        .find(|(k, _)| WHERE_KEYS.contains(&k.as_str()))
    {
        let why = format!(
            "its `{key}` uses ${{{}}}, which is not set in this environment",
            printable(var, 64)
        );
        return Err(unjudged(plugin, &at, &why, "run credcheck with the router's own environment (--pid <Fluent Bit's PID>: FireLens exports AWS_REGION and ECS_* into that process only), or set the variable"));
    }
    let key = |k: &str| {
        s.keys
            .get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let region = key("region").ok_or_else(|| {
        Error::problem(
            "logs-output-no-region",
            format!(
                "the {} output at {at} has no region, so the plugin cannot start",
                plugin.name()
            ),
            "set `region` in the output to a region name such as us-east-1",
        )
    })?;
    let checked = crate::region::Region::parse(
        &region,
        &format!("the `region` of the {} output at {at}", plugin.name()),
    )?;
    for (k, v) in [
        ("endpoint", key("endpoint")),
        ("sts_endpoint", key("sts_endpoint")),
    ] {
        if let Some(v) = v {
            crate::sdk::ensure_no_userinfo(&v, &format!("the `{k}` of the output at {at}"))?;
        }
    }
    let endpoint = endpoint(key("endpoint"), key("port"), &checked)
        .map_err(|why| Error::config("logs-endpoint", format!("the {} output at {at}: {why}", plugin.name()), "give `endpoint` as a host name (an https:// prefix is stripped) and `port` as a number"))?;
    let resolved = names::resolve(plugin, &s.keys, task)
        .map_err(|why| unjudged(plugin, &at, &why, "run the check inside the task (task metadata v4 names the FireLens tag), or check one real stream with --logs-to GROUP:STREAM"))?;
    let role = key("role_arn").map(|arn| super::assume::Role {
        arn,
        external_id: key("external_id"),
        sts_endpoint: key("sts_endpoint"),
    });
    if resolved.iter().any(|r| r.group == IMAGE_DEFAULT_GROUP) {
        found.warnings.push(Warning::new(
            "logs-image-default",
            format!("the output at {at} is the aws-for-fluent-bit image's default (group {IMAGE_DEFAULT_GROUP} in {}, auto_create_group on): a known source of a mysterious CreateLogGroup AccessDenied", printable(&region, 40)),
            "override the image's default config, or allow it on purpose",
        ));
    }
    for r in resolved {
        found.targets.push(Target {
            from: at.clone(),
            plugin,
            region: region.clone(),
            endpoint: endpoint.clone(),
            group: r.group,
            stream: r.stream,
            auto_create_group: is_on(s.keys.get("auto_create_group")),
            // The Go plugin's default is true (cloudwatch/cloudwatch.go).
            auto_create_stream: !is_off(s.keys.get("auto_create_stream")),
            retention_days: key("log_retention_days")
                .and_then(|d| d.parse().ok())
                .unwrap_or(0),
            tags: key("log_group_tags").is_some() || key("new_log_group_tags").is_some(),
            names: r.names,
            // The URL is the config's (its [SERVICE]); the caller fills it in.
            counters: s.instance.clone().map(|i| super::counters::Source {
                url: String::new(),
                instance: Some(i),
            }),
            role: role.clone(),
        });
    }
    Ok(())
}

fn is_off(value: Option<&String>) -> bool {
    value.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "false" | "off" | "no" | "0"
        )
    })
}

/// The plugin's `endpoint` and `port` as the URL it connects to: `endpoint` is a host name
/// (a leading `https://` is stripped; `http://` is not, so such a value cannot work), the
/// plugin always speaks TLS, and `port` replaces 443 (flb_aws_util.c; the plugin's README).
/// `port` alone keeps the Region's endpoint.
fn endpoint(
    host: Option<String>,
    port: Option<String>,
    region: &crate::region::Region,
) -> Result<Option<String>, String> {
    let port = match port {
        None => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| "`port` is not a port number".to_string())?,
        ),
    };
    let host = match host {
        Some(h) if h.starts_with("http://") => {
            return Err("`endpoint` starts with http://, which the plugin does not strip (it always speaks TLS to a host name)".into())
        }
        Some(h) => Some(h.trim_start_matches("https://").trim_end_matches('/').to_string()),
        None => None,
    };
    Ok(match (host, port) {
        (None, None) => None,
        (Some(h), None) => Some(format!("https://{h}")),
        (Some(h), Some(p)) => Some(format!("https://{h}:{p}")),
        (None, Some(p)) => Some(format!("https://{}:{p}", region.host("logs"))),
    })
}

#[cfg(test)]
mod tests;
