//! `--firelens`: the CloudWatch outputs FireLens builds from the task definition, read from
//! ECS task metadata v4 (`${ECS_CONTAINER_METADATA_URI_V4}/task`, `Containers[].LogDriver ==
//! "awsfirelens"` and its `LogOptions`), which every container of the task can see.
//! Reads: ECS_CONTAINER_METADATA_URI_V4.

use super::fluentbit::{self, Section};
use super::names::Task;
use crate::ecs_metadata::URI_V4;
use crate::env::Env;
use crate::error::Error;
use crate::http::Url;
use crate::http::{self, Budget};
use serde_json::Value;

fn unavailable(why: String) -> Error {
    Error::config(
        "firelens-metadata",
        format!("--firelens: the task metadata could not be read: {why}"),
        "run inside an ECS task (ECS_CONTAINER_METADATA_URI_V4 set), or pass --fluent-bit-config",
    )
}

/// The awsfirelens outputs of the task's containers.
pub async fn targets(
    env: &Env,
    client: &crate::http::Client,
    budget: &Budget,
) -> Result<fluentbit::Found, Error> {
    let base = env
        .non_blank(URI_V4)
        .ok_or_else(|| unavailable(format!("{URI_V4} is not set")))?;
    let url = Url::parse(&format!("{}/task", base.trim().trim_end_matches('/')))
        .map_err(|e| unavailable(format!("{URI_V4} is not a URL: {e}")))?;
    let answer = http::get(client, &url, budget).await.map_err(unavailable)?;
    if answer.status != 200 {
        return Err(unavailable(format!("HTTP {}", answer.status)));
    }
    let task: Value = serde_json::from_slice(&answer.body)
        .map_err(|_| unavailable("the answer is not task metadata JSON".into()))?;
    if sections_named(&task).is_empty() {
        return Err(Error::config(
            "firelens-none",
            "--firelens: no container of this task logs through awsfirelens",
            "set logConfiguration.logDriver awsfirelens with the output's options, or pass --fluent-bit-config",
        ));
    }
    Ok(found(&task))
}

/// The targets of every awsfirelens container: each container's own records carry its own
/// tag (`<container>-firelens-<task ID>`), which `log_stream_prefix` appends.
fn found(task: &Value) -> fluentbit::Found {
    let mut all = fluentbit::Found::default();
    let arn = task["TaskARN"].as_str().unwrap_or("").to_string();
    let cluster = task["Cluster"].as_str().unwrap_or("").to_string();
    for (name, section) in sections_named(task) {
        let one = Task {
            task_arn: arn.clone(),
            cluster: cluster.clone(),
            firelens_containers: vec![name],
        };
        let found = fluentbit::targets(std::slice::from_ref(&section), Some(&one));
        all.targets.extend(found.targets);
        all.warnings.extend(found.warnings);
        all.errors.extend(found.errors);
        all.outputs += found.outputs;
    }
    all
}

/// One section per container whose log driver is awsfirelens.
pub fn sections(task: &Value) -> Vec<Section> {
    sections_named(task).into_iter().map(|(_, s)| s).collect()
}

/// The awsfirelens containers' names and their log options as sections.
fn sections_named(task: &Value) -> Vec<(String, Section)> {
    let Some(containers) = task["Containers"].as_array() else {
        return Vec::new();
    };
    containers
        .iter()
        .filter(|c| c["LogDriver"] == "awsfirelens")
        .map(|c| (c["Name"].as_str().unwrap_or("").to_string(), section(c)))
        .collect()
}

fn section(c: &Value) -> Section {
    Section {
        at: format!(
            "task metadata (container {})",
            crate::secret::printable(c["Name"].as_str().unwrap_or("?"), 64)
        ),
        keys: c["LogOptions"]
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((k.to_ascii_lowercase(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default(),
        ..Section::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awsfirelens_log_options_become_sections() {
        let task = serde_json::json!({"Containers": [
            {"Name": "app", "LogDriver": "awsfirelens", "LogOptions": {"Name": "cloudwatch_logs", "region": "us-east-1", "log_group_name": "/app", "log_stream_name": "web", "auto_create_group": "true"}},
            {"Name": "log_router", "LogDriver": "awslogs", "LogOptions": {"awslogs-group": "/fl"}}
        ]});
        let s = sections(&task);
        assert_eq!(s.len(), 1);
        let found = found(&task);
        assert!(found.warnings.is_empty() && found.errors.is_empty());
        assert_eq!(found.targets[0].group, "/app");
        assert!(found.targets[0].from.contains("container app"));
        assert!(found.targets[0].auto_create_group);
    }
}
