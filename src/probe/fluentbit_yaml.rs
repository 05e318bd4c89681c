//! Fluent Bit's YAML configuration format, as far as the probe needs it: the `env` map, the
//! `includes` list, the `pipeline.outputs` list of key/value maps, and the plain scalars of
//! `service` (the metrics API's `http_server`, `http_listen`, `http_port`; any other form
//! there is skipped). The rest of the file is skipped.
//!
//! This is a line reader for the block style that Fluent Bit's documentation and its YAML
//! examples use (mappings and sequences by indentation, plain or quoted scalars, comments),
//! not a general YAML parser. It runs in one pass, has no recursion, keeps one frame per
//! indentation level, and never expands an alias, so any input costs time linear in its size.
//! A YAML crate would resolve anchors and aliases, which a hostile file can use to blow up
//! memory ("billion laughs"), and would add to the binary (issue 14's size goal). Where the
//! probe needs a value (an output's keys, `env`, `includes`), an anchor, alias, tag, flow
//! collection or block scalar is refused with the line number, so nothing is misread.
//!
//! Reads no env vars: `${VAR}` is expanded by the caller (`fluentbit`).

/// What the probe takes from one YAML file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Doc {
    /// `env:` entries, in order.
    pub env: Vec<(String, String)>,
    /// `includes:` entries, in order.
    pub includes: Vec<String>,
    /// `pipeline.outputs[]`: the line each item starts on, and its scalar keys.
    pub outputs: Vec<(usize, Vec<(String, String)>)>,
    /// `service:` entries (`http_server`, `http_listen`, `http_port`: the metrics API).
    pub service: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Item(usize),
}

struct Frame {
    indent: usize,
    seg: Seg,
    /// Items seen so far in the sequence under this key.
    items: usize,
}

/// Reads the subset; `Err` is one clause naming the line.
pub fn parse(text: &str) -> Result<Doc, String> {
    let mut reader = Reader {
        stack: Vec::new(),
        doc: Doc::default(),
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw.trim_end());
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content == "---" {
            continue;
        }
        if content == "..." {
            break;
        }
        if content.starts_with('\t') {
            return Err(format!(
                "line {n}: a tab in the indentation (YAML indents with spaces)"
            ));
        }
        reader.line(n, line.len() - content.len(), content)?;
    }
    Ok(reader.doc)
}

struct Reader {
    stack: Vec<Frame>,
    doc: Doc,
}

impl Reader {
    fn line(&mut self, n: usize, indent: usize, content: &str) -> Result<(), String> {
        match sequence_item(content) {
            Some(rest) => self.item(n, indent, content, rest),
            None => self.key(n, indent, content),
        }
    }

    /// `- …`: a new item of the sequence under the nearest shallower (or same-indent) key.
    fn item(&mut self, n: usize, indent: usize, content: &str, rest: &str) -> Result<(), String> {
        while self.stack.last().is_some_and(|f| {
            f.indent > indent || (f.indent == indent && matches!(f.seg, Seg::Item(_)))
        }) {
            self.stack.pop();
        }
        let index = match self.stack.last_mut() {
            Some(parent) => {
                parent.items += 1;
                parent.items - 1
            }
            None => 0,
        };
        self.stack.push(Frame {
            indent,
            seg: Seg::Item(index),
            items: 0,
        });
        if self.path_is(&["pipeline", "outputs", "#"]) {
            self.doc.outputs.push((n, Vec::new()));
        }
        if rest.is_empty() {
            return Ok(());
        }
        let column = indent + (content.len() - rest.len());
        if split_key(rest).is_some() {
            return self.key(n, column, rest);
        }
        let value = self.scalar_if_wanted(n, rest)?;
        if let Some(value) = value {
            if self.path_is(&["includes", "#"]) {
                self.doc.includes.push(value);
            }
        }
        Ok(())
    }

    /// `key: value` or `key:` (a block follows).
    fn key(&mut self, n: usize, indent: usize, content: &str) -> Result<(), String> {
        while self.stack.last().is_some_and(|f| f.indent >= indent) {
            self.stack.pop();
        }
        let Some((key, value)) = split_key(content) else {
            // A continuation line of a multi-line scalar, or something this reader does not
            // know: harmless unless it sits where the probe reads values.
            if self.wanted_here() {
                // Never the line itself: it may be another output's password or token.
                return Err(format!(
                    "line {n}: not a `key: value` line under {} (credcheck reads block-style YAML)",
                    self.where_()
                ));
            }
            return Ok(());
        };
        if value.is_empty() {
            self.stack.push(Frame {
                indent,
                seg: Seg::Key(key),
                items: 0,
            });
            return Ok(());
        }
        self.stack.push(Frame {
            indent,
            seg: Seg::Key(key.clone()),
            items: 0,
        });
        let wanted = self.scalar_if_wanted(n, value);
        self.stack.pop();
        if let Some(value) = wanted? {
            self.store(key, value);
        }
        Ok(())
    }

    fn store(&mut self, key: String, value: String) {
        if self.path_is(&["env"]) {
            self.doc.env.push((key, value));
        } else if self.path_is(&["service"]) {
            self.doc.service.push((key, value));
        } else if self.path_is(&["pipeline", "outputs", "#"]) {
            if let Some((_, keys)) = self.doc.outputs.last_mut() {
                keys.push((key, value));
            }
        }
    }

    /// Whether values at the current path (with the leaf just pushed) are read.
    fn wanted_here(&self) -> bool {
        self.path_is(&["env"])
            || self.path_is(&["includes"])
            || self.path_is(&["pipeline", "outputs", "#"])
    }

    /// The scalar, when the probe reads this path; an unsupported form there is an error.
    fn scalar_if_wanted(&self, n: usize, raw: &str) -> Result<Option<String>, String> {
        // `service:` is read only for the metrics API's plain keys: any other form there is
        // skipped, as the rest of the file is, never an error.
        let lenient = self.path_is(&["service", "*"]);
        let wanted = lenient
            || self.path_is(&["env", "*"])
            || self.path_is(&["includes", "#"])
            || self.path_is(&["pipeline", "outputs", "#", "*"]);
        if !wanted {
            return Ok(None);
        }
        match scalar(raw) {
            Ok(value) => Ok(Some(value)),
            Err(_) if lenient => Ok(None),
            Err(what) => Err(format!("line {n}: {what} (key {})", self.where_())),
        }
    }

    /// The path being read, for an error (`pipeline.outputs[0].region`): keys, never values.
    fn where_(&self) -> String {
        let path: Vec<String> = self
            .stack
            .iter()
            .map(|f| match &f.seg {
                Seg::Key(k) => crate::secret::printable(k, 60),
                Seg::Item(i) => format!("[{i}]"),
            })
            .collect();
        match path.is_empty() {
            true => "the top level".into(),
            false => path.join(".").replace(".[", "["),
        }
    }

    /// The stack's segments match `pattern` exactly ("#" any item, "*" any key).
    fn path_is(&self, pattern: &[&str]) -> bool {
        self.stack.len() == pattern.len() && self.prefix_is(pattern)
    }

    fn prefix_is(&self, pattern: &[&str]) -> bool {
        self.stack
            .iter()
            .zip(pattern)
            .all(|(f, p)| match (&f.seg, *p) {
                (Seg::Item(_), "#") => true,
                (Seg::Key(_), "*") => true,
                (Seg::Key(k), p) => k.eq_ignore_ascii_case(p),
                _ => false,
            })
            && self.stack.len() >= pattern.len()
    }
}

/// `- x` or a lone `-`: the text after the dash.
fn sequence_item(content: &str) -> Option<&str> {
    if content == "-" {
        return Some("");
    }
    content
        .strip_prefix("- ")
        .map(|r| r.trim_start_matches(' '))
}

/// `key: value` / `key:` outside quotes; the key unquoted.
fn split_key(content: &str) -> Option<(String, &str)> {
    let at = colon_outside_quotes(content)?;
    let key = content[..at].trim();
    let key = match scalar(key) {
        Ok(k) if !k.is_empty() => k,
        _ => return None,
    };
    Some((key, content[at + 1..].trim()))
}

fn colon_outside_quotes(content: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in content.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') if i == 0 => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ':') => {
                let next = content[i + 1..].chars().next();
                if next.is_none_or(|c| c == ' ') {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// ` # comment` outside quotes is dropped (a `#` inside a plain word is kept, as YAML does).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') if prev == ' ' || prev == ':' || prev == '-' => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev == ' ' || i == 0 => return &line[..i],
            _ => {}
        }
        prev = c;
    }
    line
}

/// A plain, 'single-' or "double-quoted" scalar on one line; other forms are named.
fn scalar(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix('\'') {
        let inner = inner
            .strip_suffix('\'')
            .ok_or("a single-quoted value does not end on its line")?;
        return Ok(inner.replace("''", "'"));
    }
    if let Some(inner) = raw.strip_prefix('"') {
        let inner = inner
            .strip_suffix('"')
            .ok_or("a double-quoted value does not end on its line")?;
        return Ok(unescape(inner));
    }
    let unsupported = match raw.chars().next() {
        Some('&') => Some("an anchor"),
        Some('*') if raw.len() > 1 => Some("an alias"),
        Some('!') => Some("a tag"),
        Some('[' | '{') => Some("a flow collection"),
        Some('|' | '>') => Some("a block scalar"),
        _ => None,
    };
    match unsupported {
        // The value is never quoted: a config file is foreign text (another output's secrets).
        Some(what) => Err(format!(
            "{what} where credcheck needs a plain value; write it as a plain or quoted scalar"
        )),
        None => Ok(raw.to_string()),
    }
}

fn unescape(inner: &str) -> String {
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"# Fluent Bit YAML, as in its documentation
env:
  GROUP: /ecs/logs/sample-test
includes:
  - extra.yaml
service:
  flush: 1
pipeline:
  inputs:
    - name: forward
      unix_path: /var/run/fluent.sock
  outputs:
    - name: cloudwatch_logs
      match: '*'
      region: ap-northeast-1   # the seed's region
      log_group_name: ${GROUP}
      log_stream_name: "webapp"
      processors:
        logs:
          - name: content_modifier
    - name: stdout
      match: "*"
"#;

    #[test]
    fn the_documented_shape_is_read() {
        let doc = parse(DOC).unwrap();
        assert_eq!(
            doc.env,
            vec![("GROUP".into(), "/ecs/logs/sample-test".into())]
        );
        assert_eq!(doc.includes, vec!["extra.yaml".to_string()]);
        assert_eq!(doc.outputs.len(), 2);
        let (line, keys) = &doc.outputs[0];
        assert_eq!(*line, 13);
        let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            keys,
            vec![
                ("name", "cloudwatch_logs"),
                ("match", "*"),
                ("region", "ap-northeast-1"),
                ("log_group_name", "${GROUP}"),
                ("log_stream_name", "webapp"),
            ]
        );
        assert_eq!(doc.outputs[1].1[0], ("name".into(), "stdout".into()));
    }

    #[test]
    fn items_at_the_keys_own_indent_are_read() {
        let doc =
            parse("pipeline:\n  outputs:\n  - name: cloudwatch\n    region: us-east-1\n").unwrap();
        assert_eq!(doc.outputs.len(), 1);
        assert_eq!(doc.outputs[0].1[1], ("region".into(), "us-east-1".into()));
    }

    #[test]
    fn inputs_are_not_outputs() {
        let doc = parse("pipeline:\n  inputs:\n    - name: cloudwatch_logs\n").unwrap();
        assert!(doc.outputs.is_empty());
    }

    #[test]
    fn unsupported_forms_are_refused_only_where_values_are_read() {
        for bad in ["&a x", "*a", "!!str x", "[a, b]", "{a: b}", "|", "'open"] {
            let text =
                format!("pipeline:\n  outputs:\n    - name: cloudwatch\n      region: {bad}\n");
            let err = parse(&text).unwrap_err();
            assert!(err.starts_with("line 4: "), "{bad}: {err}");
        }
        // The same forms elsewhere are skipped.
        assert!(parse("service:\n  x: &a [1, 2]\n  y: *a\n").is_ok());
    }

    #[test]
    fn errors_name_the_line_and_the_key_and_never_quote_a_value() {
        let head = "pipeline:\n  outputs:\n    - name: splunk\n";
        for (line, key) in [
            ("      http_passwd: 'Secr3tPa55word", "http_passwd"),
            ("      splunk_token: \"Secr3tPa55word", "splunk_token"),
            ("      api_key: &a Secr3tPa55word", "api_key"),
            ("      Secr3tPa55word", "pipeline.outputs[0]"),
        ] {
            let why = parse(&format!("{head}{line}\n")).unwrap_err();
            assert!(why.starts_with("line 4: "), "{why}");
            assert!(why.contains(key), "{why}");
            assert!(!why.contains("Secr3t"), "{why}");
        }
    }

    #[test]
    fn tabs_in_indentation_are_refused() {
        assert!(parse("env:\n\tA: b\n").unwrap_err().contains("tab"));
    }
}
