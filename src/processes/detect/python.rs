//! SDK detection for Python: botocore in the first site folder the interpreter would search
//! (`PYTHONPATH`, a venv's `pyvenv.cfg`, the interpreter's own prefix), as `sys.path` is built.
//! Reads no env vars of credcheck's own (the process's arrive in `View`).

use super::*;

/// A folder the interpreter searches, as the process names it, and why.
pub(super) struct SiteDir {
    dir: PathBuf,
    why: &'static str,
}

/// `3.11` of `python3.11` (`python3.11-config` and the like are not interpreters).
pub(super) fn python_minor(name: &str) -> Option<u32> {
    name.strip_prefix("python3.")?.parse().ok()
}

impl Detector {
    pub(super) fn python(&mut self, ctx: &Ctx, prefer: Option<&str>) -> Option<Found> {
        for site in self.site_dirs(ctx, prefer) {
            let names = self.listing(ctx, &site.dir, Keep::Botocore);
            let best = names
                .iter()
                .filter_map(|name| botocore_version(name).map(|v| (name, v)))
                .max_by(|a, b| {
                    crate::processes::minimums::compare(a.1, b.1)
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
            if let Some((name, version)) = best {
                let evidence = format!("{name} in {} ({})", site.dir.display(), site.why);
                return Some(found(
                    Sdk::Botocore,
                    version,
                    &evidence,
                    Exactness::Inferred,
                ));
            }
        }
        None
    }

    /// The candidate site folders, in the order Python searches them.
    pub(super) fn site_dirs(&mut self, ctx: &Ctx, prefer: Option<&str>) -> Vec<SiteDir> {
        let env = ctx.view.env;
        let mut dirs = Vec::new();
        let python_path = env.get("PYTHONPATH").unwrap_or_default();
        for entry in python_path.split(':').filter(|e| !e.is_empty()) {
            let dir = in_process(ctx, entry);
            dirs.push(SiteDir {
                dir,
                why: "PYTHONPATH",
            });
            if dirs.len() >= MAX_PATH_ENTRIES {
                break;
            }
        }
        let venv = self.venv(ctx);
        let mut system = true;
        if let Some((venv, with_system)) = &venv {
            system = *with_system;
            self.push_lib_dirs(ctx, &mut dirs, venv, "site-packages", prefer, "venv");
        }
        if let Some(virtual_env) = env.non_blank("VIRTUAL_ENV") {
            let dir = in_process(ctx, virtual_env);
            self.push_lib_dirs(ctx, &mut dirs, &dir, "site-packages", prefer, "VIRTUAL_ENV");
        }
        if !system {
            return dirs;
        }
        if let Some(home) = env.home() {
            let local = home.join(".local");
            self.push_lib_dirs(ctx, &mut dirs, &local, "site-packages", prefer, "user site");
        }
        let usr_local = Path::new("/usr/local");
        self.push_lib_dirs(ctx, &mut dirs, usr_local, "site-packages", prefer, "system");
        // Debian's own python puts pip's installs here.
        self.push_lib_dirs(ctx, &mut dirs, usr_local, "dist-packages", prefer, "system");
        dirs.push(SiteDir {
            dir: PathBuf::from("/usr/lib/python3/dist-packages"),
            why: "system",
        });
        self.push_lib_dirs(
            ctx,
            &mut dirs,
            Path::new("/usr"),
            "site-packages",
            prefer,
            "system",
        );
        dirs
    }

    /// `<prefix>/lib/python3.*/<leaf>`: the interpreter's own minor version first, then the
    /// newest.
    pub(super) fn push_lib_dirs(
        &mut self,
        ctx: &Ctx,
        dirs: &mut Vec<SiteDir>,
        prefix: &Path,
        leaf: &str,
        prefer: Option<&str>,
        why: &'static str,
    ) {
        let lib = prefix.join("lib");
        let mut names = self.listing(ctx, &lib, Keep::PythonLibs);
        names.sort_by_key(|name| {
            (
                Some(name.as_str()) != prefer,
                std::cmp::Reverse(python_minor(name)),
            )
        });
        for name in names {
            let dir = lib.join(name).join(leaf);
            if !dirs.iter().any(|d| d.dir == dir) {
                dirs.push(SiteDir { dir, why });
            }
        }
    }

    /// The venv the interpreter runs in (`pyvenv.cfg` beside its folder or in its parent, as
    /// Python looks), and whether it includes the system site folders.
    pub(super) fn venv(&mut self, ctx: &Ctx) -> Option<(PathBuf, bool)> {
        let program = self.interpreter_path(ctx)?;
        let bin = program.parent()?;
        let candidates = [bin.to_path_buf(), bin.parent()?.to_path_buf()];
        let root = candidates
            .into_iter()
            .find(|dir| self.exists(ctx, &dir.join("pyvenv.cfg")))?;
        let cfg = ctx
            .view
            .env
            .read_file(&root.join("pyvenv.cfg"), PYVENV_CAP)
            .unwrap_or_default();
        Some((root, includes_system_site(&String::from_utf8_lossy(&cfg))))
    }

    /// argv[0] as a path: as given when it has a `/`, else found on the process's `PATH`.
    pub(super) fn interpreter_path(&mut self, ctx: &Ctx) -> Option<PathBuf> {
        let arg0 = ctx.view.argv.first()?;
        if arg0.contains('/') {
            return Some(in_process(ctx, arg0));
        }
        let path = ctx.view.env.get("PATH")?;
        path.split(':')
            .filter(|e| e.starts_with('/'))
            .take(MAX_PATH_ENTRIES)
            .map(|entry| normalize(&Path::new(entry).join(arg0)))
            .find(|candidate| self.exists(ctx, candidate))
    }

    /// Names in a folder of the process's view that `keep` wants, listed once per root.
    pub(super) fn listing(&mut self, ctx: &Ctx, dir: &Path, keep: Keep) -> Vec<String> {
        let key = ctx.root.map(|root| (keep as u8, (root, dir.to_path_buf())));
        if let Some(Cached::Names(names)) = key.as_ref().and_then(|k| self.paths.get(k)) {
            return names.clone();
        }
        let max = match keep {
            Keep::PythonLibs => MAX_LIB_ENTRIES,
            Keep::Botocore => MAX_SITE_ENTRIES,
        };
        let names: Vec<String> = ctx
            .view
            .env
            .list_dir(dir, max)
            .unwrap_or_default()
            .into_iter()
            .filter(|name| match keep {
                Keep::PythonLibs => python_minor(name).is_some(),
                Keep::Botocore => botocore_version(name).is_some(),
            })
            .map(|name| cap(&name))
            .collect();
        self.remember(key, Cached::Names(names.clone()));
        names
    }

    /// Whether a path of the process's view exists (checked once per root).
    pub(super) fn exists(&mut self, ctx: &Ctx, path: &Path) -> bool {
        let key = ctx
            .root
            .map(|root| (ASKED_EXISTS, (root, path.to_path_buf())));
        if let Some(Cached::There(known)) = key.as_ref().and_then(|k| self.paths.get(k)) {
            return *known;
        }
        let host = ctx.view.env.host_path(path);
        let there =
            file::run_bounded(move || std::fs::metadata(&host).map_err(FileError::Io)).is_ok();
        self.remember(key, Cached::There(there));
        there
    }

    pub(super) fn remember(&mut self, key: Option<(u8, RootedPath)>, answer: Cached) {
        if let Some(key) = key.filter(|_| self.paths.len() < MAX_CACHED) {
            self.paths.insert(key, answer);
        }
    }
}

/// `include-system-site-packages = true` in a `pyvenv.cfg`.
pub(super) fn includes_system_site(cfg: &str) -> bool {
    cfg.lines().any(|line| {
        let mut parts = line.splitn(2, '=');
        let key = parts.next().unwrap_or_default().trim();
        let value = parts.next().unwrap_or_default().trim();
        key.eq_ignore_ascii_case("include-system-site-packages")
            && value.eq_ignore_ascii_case("true")
    })
}

/// The version a `botocore-<ver>.dist-info` or `botocore-<ver>[-py3.X].egg-info` names.
pub(super) fn botocore_version(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("botocore-")?;
    let version = match rest.strip_suffix(".dist-info") {
        Some(version) => version,
        None => {
            let egg = rest.strip_suffix(".egg-info")?;
            egg.split_once("-py").map_or(egg, |(version, _)| version)
        }
    };
    plausible_version(version).then_some(version)
}
