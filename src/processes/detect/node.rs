//! SDK detection for Node: the JS SDK packages in the `node_modules` folders above the
//! process's cwd and its script.
//! Reads no env vars of credcheck's own (the process's arrive in `View`).

use super::*;

/// The packages that name a JS SDK, under a `node_modules` folder.
pub(super) const NODE_PACKAGES: [(&str, Sdk); 2] = [
    ("@aws-sdk/credential-provider-node", Sdk::JsV3),
    ("aws-sdk", Sdk::JsV2),
];

impl Detector {
    pub(super) fn node(&mut self, ctx: &Ctx) -> Vec<Found> {
        let mut rows = Vec::new();
        for dir in node_dirs(ctx) {
            for (package, sdk) in NODE_PACKAGES {
                if rows.iter().any(|f: &Found| f.sdk == sdk) {
                    continue;
                }
                let json = dir.join("node_modules").join(package).join("package.json");
                if let Some(version) = self.package_version(ctx, &json) {
                    let evidence = format!(
                        "node_modules/{package}/package.json {version} under {}",
                        dir.display()
                    );
                    rows.push(found(sdk, &version, &evidence, Exactness::Inferred));
                }
            }
        }
        rows
    }

    /// A `package.json`'s `"version"`, read once per root.
    pub(super) fn package_version(&mut self, ctx: &Ctx, json: &Path) -> Option<String> {
        let key = ctx
            .root
            .map(|root| (ASKED_VERSION, (root, json.to_path_buf())));
        if let Some(Cached::Version(known)) = key.as_ref().and_then(|k| self.paths.get(k)) {
            return known.clone();
        }
        let version = ctx
            .view
            .env
            .read_file(json, PACKAGE_JSON_CAP)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .and_then(|value| value.get("version")?.as_str().map(cap))
            .filter(|version| plausible_version(version));
        self.remember(key, Cached::Version(version.clone()));
        version
    }
}

/// The cwd and the script's folder, each with its parents (at most [`NODE_LEVELS`] folders
/// from each), nearest first, without repeats.
pub(super) fn node_dirs(ctx: &Ctx) -> Vec<PathBuf> {
    let script = ctx
        .view
        .argv
        .iter()
        .skip(1)
        .find(|arg| !arg.starts_with('-') && !arg.is_empty())
        .map(|arg| in_process(ctx, arg))
        .filter(|path| path.is_absolute())
        .and_then(|path| path.parent().map(Path::to_path_buf));
    let mut dirs: Vec<PathBuf> = Vec::new();
    for start in [ctx.cwd.clone(), script].into_iter().flatten() {
        for dir in start.ancestors().take(NODE_LEVELS) {
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_path_buf());
            }
        }
    }
    dirs
}
