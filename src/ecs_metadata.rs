//! ECS task metadata v4: `${ECS_CONTAINER_METADATA_URI_V4}/task`, fetched within the run's
//! deadline and concurrently with the chain walk, so that a log line says which task wrote it.
//! A failure here is a warning, never a failed report.
//! Reads: ECS_CONTAINER_METADATA_URI_V4, ECS_CONTAINER_METADATA_URI, AWS_EXECUTION_ENV.

use crate::env::Env;
use crate::http::Url;
use crate::http::{self, Budget};
use crate::secret::printable;
use serde::Serialize;
use serde_json::Value;

pub const URI_V4: &str = "ECS_CONTAINER_METADATA_URI_V4";
pub const URI_V3: &str = "ECS_CONTAINER_METADATA_URI";
pub const EXECUTION_ENV: &str = "AWS_EXECUTION_ENV";

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct EcsContext {
    pub cluster: Option<String>,
    pub task_arn: Option<String>,
    pub family: Option<String>,
    pub revision: Option<String>,
    pub service: Option<String>,
    pub launch_type: Option<String>,
    pub availability_zone: Option<String>,
    /// The containers whose log driver is `awsfirelens` (for the log router's names; not in
    /// the report's JSON).
    #[serde(skip)]
    pub firelens_containers: Vec<String>,
}

/// Whether the environment says this is an ECS task (whatever the task role).
pub fn is_ecs_task(env: &Env) -> bool {
    env.non_blank(URI_V4).is_some()
        || env.non_blank(URI_V3).is_some()
        || env
            .get(EXECUTION_ENV)
            .is_some_and(|v| v.starts_with("AWS_ECS"))
}

/// `None` when the variable is unset; `Some(Err(why))` when the fetch failed.
pub async fn fetch(
    env: &Env,
    client: &crate::http::Client,
    budget: &Budget,
) -> Option<Result<EcsContext, String>> {
    let base = env.non_blank(URI_V4)?.trim().trim_end_matches('/');
    Some(fetch_task(base, client, budget).await)
}

async fn fetch_task(
    base: &str,
    client: &crate::http::Client,
    budget: &Budget,
) -> Result<EcsContext, String> {
    let url = Url::parse(&format!("{base}/task"))
        .map_err(|e| format!("{URI_V4} is not a valid URL: {e}"))?;
    let answer = http::get(client, &url, budget)
        .await
        .map_err(|e| format!("task metadata endpoint: {e}"))?;
    if answer.status != 200 {
        return Err(format!(
            "task metadata endpoint answered HTTP {}",
            answer.status
        ));
    }
    parse(&answer.body).ok_or_else(|| {
        "task metadata endpoint answered, but not with task metadata JSON".to_string()
    })
}

pub fn parse(body: &[u8]) -> Option<EcsContext> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let o = value.as_object()?;
    let text = |k: &str| match o.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(printable(s, 256)),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    Some(EcsContext {
        cluster: text("Cluster"),
        task_arn: text("TaskARN"),
        family: text("Family"),
        revision: text("Revision"),
        service: text("ServiceName"),
        launch_type: text("LaunchType"),
        availability_zone: text("AvailabilityZone"),
        firelens_containers: firelens_containers(o),
    })
}

/// `Containers[].Name` of those whose `LogDriver` is `awsfirelens`.
fn firelens_containers(task: &serde_json::Map<String, Value>) -> Vec<String> {
    let Some(Value::Array(containers)) = task.get("Containers") else {
        return Vec::new();
    };
    containers
        .iter()
        .filter(|c| c["LogDriver"] == "awsfirelens")
        .filter_map(|c| c["Name"].as_str().map(str::to_string))
        .collect()
}
