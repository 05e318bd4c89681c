//! SDK detection for a JVM: the AWS SDK jars it has open (`/proc/PID/fd`) or mapped
//! (`/proc/PID/maps`).
//! Reads no env vars of credcheck's own (the process's arrive in `View`).

use super::*;

pub(super) fn java(proc_dir: &Path) -> Vec<Found> {
    let open = open_files(proc_dir).into_iter().map(|p| ("open", p));
    let mapped = mapped_files(proc_dir).into_iter().map(|p| ("mapped", p));
    open.chain(mapped)
        .filter_map(|(how, path)| {
            let (sdk, version) = jar_sdk(&link_name(Path::new(&path))?)?;
            let evidence = format!("{how} jar {path}");
            Some(found(sdk, &version, &evidence, Exactness::Exact))
        })
        .collect()
}

/// The `.jar` targets of `/proc/PID/fd/*` (at most [`MAX_FDS`] looked at).
pub(super) fn open_files(proc_dir: &Path) -> Vec<String> {
    let fd_dir = proc_dir.join("fd");
    let Ok(fds) = file::list_dir(&fd_dir, MAX_FDS) else {
        return Vec::new();
    };
    fds.iter()
        .filter_map(|fd| read_link(&fd_dir.join(fd)))
        .map(|target| target.to_string_lossy().into_owned())
        .filter(|target| is_jar(target))
        .collect()
}

/// The `.jar` paths of `/proc/PID/maps` (its first [`MAPS_CAP`] bytes).
pub(super) fn mapped_files(proc_dir: &Path) -> Vec<String> {
    let Ok(maps) = file::read_head(&proc_dir.join("maps"), MAPS_CAP) else {
        return Vec::new();
    };
    let mut paths: Vec<String> = String::from_utf8_lossy(&maps)
        .lines()
        .filter_map(|line| line.find('/').map(|at| line[at..].to_string()))
        .filter(|path| is_jar(path))
        .collect();
    paths.dedup();
    paths
}

pub(super) fn is_jar(path: &str) -> bool {
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    path.ends_with(".jar")
}

/// The SDK and version a jar's file name gives: `aws-java-sdk-core-1.12.500.jar` (and the
/// v1 bundle, which contains it) → Java v1; `sdk-core-2.21.0.jar` → Java v2.
pub(super) fn jar_sdk(file_name: &str) -> Option<(Sdk, String)> {
    let stem = file_name.strip_suffix(".jar")?;
    let (sdk, version) = [
        ("aws-java-sdk-core-", Sdk::JavaV1),
        ("aws-java-sdk-bundle-", Sdk::JavaV1),
        ("sdk-core-", Sdk::JavaV2),
    ]
    .into_iter()
    .find_map(|(prefix, sdk)| stem.strip_prefix(prefix).map(|v| (sdk, v)))?;
    plausible_version(version).then(|| (sdk, cap(version)))
}
