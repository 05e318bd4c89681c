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
const MAX_FILES: usize = 64;
const MAX_DEPTH: usize = 8;
/// The longest value `${VAR}` expansion may make (a config file's own cap).
const MAX_VALUE: usize = FILE_CAP as usize;
/// How many bytes all the expansions of one configuration may add.
const MAX_GROWTH: usize = 1024 * 1024;

/// One `[OUTPUT]` section: where it starts and its keys (lower-cased) with expanded values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub at: String,
    pub keys: BTreeMap<String, String>,
}

struct Reader<'a> {
    env: &'a Env,
    vars: BTreeMap<String, String>,
    /// Bytes added by `${VAR}` expansion so far (bounded by [`MAX_GROWTH`]).
    grown: usize,
    files: usize,
    outputs: Vec<Section>,
    current: Option<Section>,
}

/// Every `[OUTPUT]` of the configuration at `path` and its includes, in order.
pub fn outputs(env: &Env, path: &Path) -> Result<Vec<Section>, Error> {
    let mut r = Reader {
        env,
        vars: BTreeMap::new(),
        grown: 0,
        files: 0,
        outputs: Vec::new(),
        current: None,
    };
    r.file(path, 0)?;
    r.close();
    Ok(r.outputs)
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
                "{}: @INCLUDE nests deeper than {MAX_DEPTH} or names more than {MAX_FILES} files (a loop?)",
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
            if name.trim().eq_ignore_ascii_case("OUTPUT") {
                self.current = Some(Section {
                    at: format!("{}:{n}", path.display()),
                    keys: BTreeMap::new(),
                });
            }
            return Ok(());
        }
        let value = self.expand(rest, &|| format!("{}:{n}", path.display()))?;
        if let Some(section) = &mut self.current {
            section.keys.insert(word.to_ascii_lowercase(), value);
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
        for include in &doc.includes {
            let pattern = self.expand(include, &|| format!("{} (includes)", path.display()))?;
            self.include(path, &pattern, depth)?;
        }
        for (line, pairs) in doc.outputs {
            let mut keys = BTreeMap::new();
            for (k, v) in &pairs {
                let value = self.expand(v, &|| format!("{}:{line}", path.display()))?;
                keys.insert(k.to_ascii_lowercase(), value);
            }
            self.outputs.push(Section {
                at: format!("{}:{line}", path.display()),
                keys,
            });
        }
        Ok(())
    }

    fn close(&mut self) {
        self.outputs.extend(self.current.take());
    }

    fn include(&mut self, from: &Path, pattern: &str, depth: usize) -> Result<(), Error> {
        let base = from.parent().unwrap_or(Path::new("/"));
        let path = base.join(pattern);
        if !path.to_string_lossy().contains('*') {
            return self.file(&path, depth + 1);
        }
        for each in self.glob(&path) {
            self.file(&each, depth + 1)?;
        }
        Ok(())
    }

    /// `*` in the file name only, as Fluent Bit's glob is used in practice (`conf.d/*.conf`).
    fn glob(&self, pattern: &Path) -> Vec<PathBuf> {
        let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
            return Vec::new();
        };
        let name = name.to_string_lossy();
        let Ok(entries) = self.env.list_dir(dir, MAX_FILES) else {
            return Vec::new();
        };
        let mut found: Vec<PathBuf> = entries
            .into_iter()
            .filter(|f| glob_match(&name, f))
            .map(|f| dir.join(f))
            .collect();
        found.sort();
        found
    }

    /// `${VAR}`: a `@SET` variable, else the environment, else empty (as Fluent Bit does).
    /// Bounded: one value grows to at most [`MAX_VALUE`] bytes and all expansions of a
    /// configuration add at most [`MAX_GROWTH`] (29 `@SET` lines that each double the last
    /// would reach 1 GiB); past either, the configuration is refused, naming `at()`.
    fn expand(&mut self, value: &str, at: &dyn Fn() -> String) -> Result<String, Error> {
        let mut out = String::new();
        let mut rest = value;
        while let Some(start) = rest.find("${") {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            let name = &rest[start + 2..start + len];
            let found = self.vars.get(name).map(String::as_str);
            let found = found.or_else(|| self.env.get(name)).unwrap_or("");
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
        Ok(out)
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

fn glob_match(pattern: &str, name: &str) -> bool {
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

fn is_templated(name: &str) -> bool {
    name.contains("$(")
        || name.contains("$kubernetes")
        || name.contains("$TAG")
        || name.contains("${")
}

/// The CloudWatch outputs as targets, and a warning for each one that cannot be probed as
/// configured (a templated name, a `role_arn`, the image's default output).
pub fn targets(sections: &[Section]) -> (Vec<Target>, Vec<Warning>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for s in sections {
        let Some(plugin) = s.keys.get("name").and_then(|n| Plugin::parse(n)) else {
            continue;
        };
        match target(s, plugin) {
            Ok((t, w)) => {
                out.push(t);
                warnings.extend(w);
            }
            Err(w) => warnings.push(w),
        }
    }
    (out, warnings)
}

fn target(s: &Section, plugin: Plugin) -> Result<(Target, Vec<Warning>), Warning> {
    let at = printable(&s.at, 200);
    let key = |k: &str| {
        s.keys
            .get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let group = key("log_group_name").or_else(|| key("log_group_template"));
    let stream = key("log_stream_name").or_else(|| key("log_stream_template"));
    let (Some(group), Some(stream)) = (group, stream) else {
        return Err(Warning::new(
            "logs-templated-name",
            format!("the {} output at {at} names its stream by prefix or template (log_stream_prefix: the tag is appended), so it cannot be checked statically", plugin.name()),
            "check one real stream with --logs-to GROUP:STREAM",
        ));
    };
    if is_templated(&group) || is_templated(&stream) {
        return Err(Warning::new(
            "logs-templated-name",
            format!("the {} output at {at} uses a templated name ({}:{}), so it cannot be checked statically", plugin.name(), printable(&group, 120), printable(&stream, 120)),
            "check one real group and stream with --logs-to GROUP:STREAM",
        ));
    }
    let region = key("region").filter(|r| crate::region::Region::parse(r, &at).is_ok());
    let Some(region) = region else {
        return Err(Warning::new(
            "logs-output-no-region",
            format!("the {} output at {at} has no valid region", plugin.name()),
            "set `region` in the [OUTPUT] section to a region name such as us-east-1: the plugin needs it",
        ));
    };
    let mut warnings = Vec::new();
    if let Some(role) = key("role_arn") {
        warnings.push(Warning::new(
            "logs-role-arn",
            format!("the {} output at {at} assumes {} (role_arn): the probe ran as this task's role, not the role that writes", plugin.name(), printable(&role, 200)),
            "check that role's policy instead, e.g. run credcheck with that role's credentials",
        ));
    }
    if group == IMAGE_DEFAULT_GROUP {
        warnings.push(Warning::new(
            "logs-image-default",
            format!("the output at {at} is the aws-for-fluent-bit image's default (group {IMAGE_DEFAULT_GROUP} in {}, auto_create_group on): a known source of a mysterious CreateLogGroup AccessDenied", printable(&region, 40)),
            "override the image's default config, or allow it on purpose",
        ));
    }
    let target = Target {
        from: at,
        plugin,
        region,
        endpoint: key("endpoint"),
        group,
        stream,
        auto_create_group: is_on(s.keys.get("auto_create_group")),
        retention_days: key("log_retention_days")
            .and_then(|d| d.parse().ok())
            .unwrap_or(0),
        tags: key("log_group_tags").is_some() || key("new_log_group_tags").is_some(),
    };
    Ok((target, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().copied(), std::time::SystemTime::now())
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    const SEED: &str = "[SERVICE]\n    Flush 1\n    Grace 30\n    Log_Level info\n\n[OUTPUT]\n    Name   cloudwatch_logs\n    Match  *\n    region ap-northeast-1\n    log_group_name /ecs/logs/sample-test\n    log_stream_name webapp\n    auto_create_group true\n";

    #[test]
    fn the_seed_config_gives_one_target() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            dir.path(),
            "fluent-bit.conf",
            "[INPUT]\n  Name forward\n@INCLUDE extra.conf\n",
        );
        write(dir.path(), "extra.conf", SEED);
        let env = env(&[]);
        let (targets, warnings) = targets(&outputs(&env, &main).unwrap());
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(targets.len(), 1);
        let t = &targets[0];
        assert_eq!(
            (t.group.as_str(), t.stream.as_str()),
            ("/ecs/logs/sample-test", "webapp")
        );
        assert_eq!(
            (t.region.as_str(), t.plugin),
            ("ap-northeast-1", Plugin::CloudwatchLogs)
        );
        assert!(t.auto_create_group);
        assert!(t.from.ends_with("extra.conf:6"), "{}", t.from);
    }

    #[test]
    fn set_env_and_globs_expand() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(
            dir.path(),
            "main.conf",
            "@SET grp=/app/logs\n@INCLUDE conf.d/*.conf\n",
        );
        write(dir.path(), "conf.d/a.conf", "[OUTPUT]\n Name cloudwatch\n region ${REGION}\n log_group_name ${grp}\n log_stream_name s1\n");
        write(dir.path(), "conf.d/b.txt", "[OUTPUT]\n Name cloudwatch\n");
        let env = env(&[("REGION", "eu-west-1")]);
        let (targets, _) = targets(&outputs(&env, &main).unwrap());
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].group, "/app/logs");
        assert_eq!(targets[0].region, "eu-west-1");
    }

    #[test]
    fn templated_role_and_default_outputs_warn() {
        let dir = tempfile::tempdir().unwrap();
        let main = write(dir.path(), "f.conf", "[OUTPUT]\n Name cloudwatch\n region us-east-1\n log_group_name fluent-bit-cloudwatch\n log_stream_prefix from-fluent-bit-\n auto_create_group true\n[OUTPUT]\n Name cloudwatch_logs\n region us-east-1\n log_group_name g\n log_stream_name $(ecs_task_id)\n[OUTPUT]\n Name cloudwatch_logs\n region us-east-1\n log_group_name fluent-bit-cloudwatch\n log_stream_name s\n role_arn arn:aws:iam::1:role/w\n");
        let (targets, warnings) = targets(&outputs(&env(&[]), &main).unwrap());
        let codes: Vec<_> = warnings.iter().map(|w| w.code).collect();
        assert_eq!(
            codes,
            [
                "logs-templated-name",
                "logs-templated-name",
                "logs-role-arn",
                "logs-image-default"
            ]
        );
        assert_eq!(targets.len(), 1);
    }

    #[test]
    fn include_loops_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a.conf", "@INCLUDE a.conf\n");
        let e = outputs(&env(&[]), &a).unwrap_err();
        assert_eq!(e.code, "fluent-bit-config");
        let y = write(dir.path(), "f.yaml", "pipeline:\n  outputs: []\n");
        assert_eq!(outputs(&env(&[]), &y).unwrap(), vec![]);
        let missing = outputs(&env(&[]), &dir.path().join("none.conf")).unwrap_err();
        assert!(
            missing
                .message
                .to_ascii_lowercase()
                .contains("no such file"),
            "{}",
            missing.message
        );
    }

    #[test]
    fn yaml_env_includes_and_outputs_become_sections() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "out.yaml",
            "pipeline:\n  outputs:\n    - name: cloudwatch_logs\n      region: ${REGION}\n      log_group_name: ${GROUP}\n",
        );
        let main = write(
            dir.path(),
            "fluent-bit.yaml",
            "env:\n  GROUP: /ecs/logs/sample-test\nincludes:\n  - out.yaml\n",
        );
        let found = outputs(&env(&[("REGION", "ap-northeast-1")]), &main).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].keys["region"], "ap-northeast-1");
        assert_eq!(found[0].keys["log_group_name"], "/ecs/logs/sample-test");
        assert!(found[0].at.ends_with("out.yaml:3"), "{}", found[0].at);
        let bad = write(
            dir.path(),
            "bad.yaml",
            "pipeline:\n  outputs:\n    - name: &x cloudwatch\n",
        );
        let e = outputs(&env(&[]), &bad).unwrap_err();
        assert!(e.message.contains("line 3: an anchor"), "{}", e.message);
    }

    #[test]
    fn set_chains_that_double_are_refused_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("@SET v0=xxxxxxxx\n");
        for i in 1..29 {
            text.push_str(&format!("@SET v{i}=${{v{}}}${{v{}}}\n", i - 1, i - 1));
        }
        text.push_str("[OUTPUT]\n Name cloudwatch_logs\n log_group_name ${v28}\n");
        let main = write(dir.path(), "chain.conf", &text);
        let e = outputs(&env(&[]), &main).unwrap_err();
        assert_eq!(e.code, "fluent-bit-config");
        assert!(e.message.contains("chain.conf:17"), "{}", e.message);
        // Ten doublings (8 KiB) are an ordinary config.
        let ok: String = text.lines().take(11).map(|l| format!("{l}\n")).collect();
        let main = write(
            dir.path(),
            "ok.conf",
            &format!("{ok}[OUTPUT]\n Name x\n k ${{v10}}\n"),
        );
        assert_eq!(
            outputs(&env(&[]), &main).unwrap()[0].keys["k"].len(),
            8 << 10
        );
    }

    #[test]
    fn globs_match_file_names() {
        assert!(glob_match("*.conf", "a.conf"));
        assert!(!glob_match("*.conf", "a.txt"));
        assert!(glob_match("out-*-x.conf", "out-1-x.conf"));
    }
}
