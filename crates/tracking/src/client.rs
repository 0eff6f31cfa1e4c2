//! The MLflow REST API (`/api/2.0/mlflow/...`) over blocking reqwest; used off the training thread.

use super::settings::{Auth, MlflowSettings};
use serde_json::{Value, json};
use std::time::Duration;

/// The experiment tag MLflow 3's UI picks an experiment's view by.
pub const EXPERIMENT_KIND_TAG: &str = "mlflow.experimentKind";
/// Its value for experiments of training runs (not GenAI traces).
pub const TRAINING_EXPERIMENT_KIND: &str = "custom_model_development";

/// Why a request failed, classified for the retry policy.
#[derive(Debug, thiserror::Error)]
pub enum MlflowError {
    /// Connect error, timeout, 408/429/5xx: try again later (the request may have been applied).
    #[error("MLflow unavailable: {0}")]
    Transient(String),
    /// The server rejected the request (other 4xx): retrying cannot help.
    #[error("MLflow rejected the request: {0}")]
    Rejected(String),
    /// The server does not have what was asked for (404, `RESOURCE_DOES_NOT_EXIST`).
    #[error("MLflow: not found: {0}")]
    NotFound(String),
    /// A local problem: the run's files, a CA bundle, the HTTP client or thread (no request).
    #[error("{0}")]
    Local(String),
}

impl MlflowError {
    /// True when the server answered that this request cannot succeed as it is.
    pub fn is_final_answer(&self) -> bool {
        matches!(self, MlflowError::Rejected(_) | MlflowError::NotFound(_))
    }
}

/// A connection to one MLflow server.
pub struct MlflowClient {
    http: reqwest::blocking::Client,
    base: String,
    auth: Auth,
}

impl MlflowClient {
    /// Builds the HTTP client (TLS options, timeouts); fails on an unreadable CA bundle.
    pub fn new(s: &MlflowSettings) -> Result<Self, MlflowError> {
        let mut b = reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .danger_accept_invalid_certs(s.insecure_tls);
        if let Some(path) = &s.server_cert {
            let pem = std::fs::read(path)
                .map_err(|e| MlflowError::Local(format!("{}: {e}", path.display())))?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| MlflowError::Local(format!("{}: {e}", path.display())))?;
            b = b.add_root_certificate(cert);
        }
        let http = b
            .build()
            .map_err(|e| MlflowError::Local(e.without_url().to_string()))?;
        Ok(Self {
            http,
            base: s.uri.clone(),
            auth: s.auth.clone(),
        })
    }

    /// The request with this client's credentials.
    fn authorized(
        &self,
        req: reqwest::blocking::RequestBuilder,
    ) -> reqwest::blocking::RequestBuilder {
        match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
        }
    }

    fn send(&self, req: reqwest::blocking::RequestBuilder) -> Result<Value, MlflowError> {
        // Errors never carry the URL or headers: only what went wrong.
        let resp = self
            .authorized(req)
            .send()
            .map_err(|e| MlflowError::Transient(e.without_url().to_string()))?;
        let status = resp.status();
        let body = resp.text().unwrap_or_default();
        if status.is_success() {
            return Ok(serde_json::from_str(&body).unwrap_or(Value::Null));
        }
        Err(classify(status.as_u16(), &body))
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> Result<Value, MlflowError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        self.send(self.http.post(url).json(body))
    }

    pub(crate) fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, MlflowError> {
        let url = format!("{}/api/2.0/mlflow/{path}", self.base);
        self.send(self.http.get(url).query(query))
    }

    /// The experiment's id, creating the experiment if it does not exist (tagged
    /// `mlflow.experimentKind = custom_model_development`, so MLflow's UI opens it on its
    /// training runs; an existing experiment's tags are left alone).
    pub fn experiment_id(&self, name: &str) -> Result<String, MlflowError> {
        match self.get("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(v) => Ok(str_at(&v, &["experiment", "experiment_id"])),
            Err(MlflowError::NotFound(_)) => {
                let body = json!({
                    "name": name,
                    "tags": [{"key": EXPERIMENT_KIND_TAG, "value": TRAINING_EXPERIMENT_KIND}],
                });
                match self.post("experiments/create", &body) {
                    Ok(v) => Ok(str_at(&v, &["experiment_id"])),
                    // Created meanwhile by someone else: look it up again.
                    Err(e) if e.is_final_answer() => self
                        .get("experiments/get-by-name", &[("experiment_name", name)])
                        .map(|v| str_at(&v, &["experiment", "experiment_id"])),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The run tagged `trainer.run_uuid = uuid` in the experiment: (run id, artifact URI).
    pub fn find_run(
        &self,
        experiment_id: &str,
        uuid: &str,
    ) -> Result<Option<(String, String)>, MlflowError> {
        let v = self.post(
            "runs/search",
            &json!({
                "experiment_ids": [experiment_id],
                "filter": format!("tags.`trainer.run_uuid` = '{uuid}'"),
                "max_results": 1,
            }),
        )?;
        Ok(v["runs"].get(0).map(|r| {
            (
                str_at(r, &["info", "run_id"]),
                str_at(r, &["info", "artifact_uri"]),
            )
        }))
    }

    /// Creates a run (not idempotent: callers look it up with `find_run` before any retry).
    pub fn create_run(
        &self,
        experiment_id: &str,
        name: &str,
        start_ms: i64,
        tags: &[(String, String)],
    ) -> Result<(String, String), MlflowError> {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let v = self.post(
            "runs/create",
            &json!({
                "experiment_id": experiment_id,
                "run_name": name,
                "start_time": start_ms,
                "tags": tags,
            }),
        )?;
        Ok((
            str_at(&v, &["run", "info", "run_id"]),
            str_at(&v, &["run", "info", "artifact_uri"]),
        ))
    }

    /// `runs/log-batch`: metrics (JSON from `point_json`), params and tags.
    pub fn log_batch(
        &self,
        run_id: &str,
        metrics: Vec<Value>,
        params: &[(String, String)],
        tags: &[(String, String)],
    ) -> Result<(), MlflowError> {
        let kv = |v: &[(String, String)]| -> Vec<Value> {
            v.iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect()
        };
        self.post(
            "runs/log-batch",
            &json!({"run_id": run_id, "metrics": metrics, "params": kv(params), "tags": kv(tags)}),
        )
        .map(drop)
    }

    /// `runs/update`: status (`RUNNING`, `FINISHED`, `FAILED`, `KILLED`) and end time.
    pub fn update_run(
        &self,
        run_id: &str,
        status: &str,
        end_ms: Option<i64>,
    ) -> Result<(), MlflowError> {
        let mut body = json!({"run_id": run_id, "status": status});
        if let Some(t) = end_ms {
            body["end_time"] = json!(t);
        }
        self.post("runs/update", &body).map(drop)
    }

    /// Every point of metric `key` in the run (up to 25,000), as (step, timestamp, value).
    pub fn metric_history(
        &self,
        run_id: &str,
        key: &str,
    ) -> Result<Vec<(i64, i64, Value)>, MlflowError> {
        let v = self.get(
            "metrics/get-history",
            &[
                ("run_id", run_id),
                ("metric_key", key),
                ("max_results", "25000"),
            ],
        )?;
        Ok(points_of(&v))
    }

    /// The points of metric `key` at `step` (a few at most, however long the run), through
    /// `get-history-bulk-interval`; servers without it get the whole history, filtered.
    pub fn metric_at_step(
        &self,
        run_id: &str,
        key: &str,
        step: i64,
    ) -> Result<Vec<(i64, i64, Value)>, MlflowError> {
        let s = step.to_string();
        let query = [
            ("run_ids", run_id),
            ("metric_key", key),
            ("start_step", s.as_str()),
            ("end_step", s.as_str()),
            ("max_results", "100"),
        ];
        let points = match self.get("metrics/get-history-bulk-interval", &query) {
            Ok(v) => points_of(&v),
            // An older or partial MLflow-compatible server: no such endpoint.
            Err(MlflowError::NotFound(_) | MlflowError::Rejected(_)) => {
                self.metric_history(run_id, key)?
            }
            Err(e) => return Err(e),
        };
        Ok(points.into_iter().filter(|(s, _, _)| *s == step).collect())
    }

    /// The run as MLflow returns it (`runs/get`).
    pub fn get_run(&self, run_id: &str) -> Result<Value, MlflowError> {
        self.get("runs/get", &[("run_id", run_id)])
    }

    /// `experiments/get-by-name`: the experiment's JSON (id, tags, ...).
    pub fn get_experiment(&self, name: &str) -> Result<Value, MlflowError> {
        self.get("experiments/get-by-name", &[("experiment_name", name)])
    }

    /// Uploads `bytes` as artifact `name` (a relative path: `model/MLmodel`) of a run whose
    /// artifact URI is `mlflow-artifacts:/...`.
    pub fn upload_artifact(
        &self,
        artifact_uri: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<(), MlflowError> {
        let path = artifact_path(artifact_uri)?;
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/{path}/{name}",
            self.base
        );
        self.send(self.http.put(url).body(bytes)).map(drop)
    }

    /// The files and directories directly under an `mlflow-artifacts:/...` URI: (name, is_dir).
    pub fn list_artifacts(&self, uri: &str) -> Result<Vec<(String, bool)>, MlflowError> {
        let path = artifact_path(uri)?;
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts", self.base);
        let v = self.send(self.http.get(url).query(&[("path", path.as_str())]))?;
        Ok(v["files"]
            .as_array()
            .map(|files| {
                files
                    .iter()
                    .map(|f| (str_at(f, &["path"]), f["is_dir"].as_bool().unwrap_or(false)))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The bytes of the artifact at an `mlflow-artifacts:/...` URI (no size limit or timeout
    /// beyond the connection's: weights can be large).
    pub fn download_artifact(&self, uri: &str) -> Result<Vec<u8>, MlflowError> {
        let path = artifact_path(uri)?;
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{path}", self.base);
        let req = self.authorized(self.http.get(url).timeout(Duration::from_secs(600)));
        let resp = req
            .send()
            .map_err(|e| MlflowError::Transient(e.without_url().to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().unwrap_or_default();
            return Err(classify(status.as_u16(), &body));
        }
        resp.bytes()
            .map(|b| b.to_vec())
            .map_err(|e| MlflowError::Transient(e.without_url().to_string()))
    }

    /// `runs/log-inputs`: dataset inputs (MLflow's `DatasetInput` JSON) of a run.
    pub fn log_inputs(&self, run_id: &str, datasets: Vec<Value>) -> Result<(), MlflowError> {
        self.post(
            "runs/log-inputs",
            &json!({"run_id": run_id, "datasets": datasets}),
        )
        .map(drop)
    }
}

/// The server-side path of an `mlflow-artifacts:/PATH` (or `mlflow-artifacts://HOST/PATH`) URI.
fn artifact_path(uri: &str) -> Result<String, MlflowError> {
    let Some(rest) = uri.strip_prefix("mlflow-artifacts:") else {
        return Err(MlflowError::Rejected(format!(
            "artifact store {uri:?} is not served by the tracking server"
        )));
    };
    // `mlflow-artifacts://host/path` names a host; the path follows it.
    let path = match rest.strip_prefix("//") {
        Some(hosted) => hosted.split_once('/').map_or("", |(_, p)| p),
        None => rest.trim_start_matches('/'),
    };
    Ok(path.trim_end_matches('/').to_string())
}

/// An error reply as an `MlflowError` for the retry policy.
fn classify(code: u16, body: &str) -> MlflowError {
    let reply = serde_json::from_str::<Value>(body).unwrap_or(Value::Null);
    let detail = reply["message"]
        .as_str()
        .map_or_else(|| body.chars().take(200).collect(), str::to_string);
    let msg = format!("HTTP {code}: {detail}");
    if code >= 500 || code == 408 || code == 429 {
        MlflowError::Transient(msg)
    } else if code == 404 || reply["error_code"] == "RESOURCE_DOES_NOT_EXIST" {
        MlflowError::NotFound(msg)
    } else {
        MlflowError::Rejected(msg)
    }
}

/// The string at `path` in `v` (empty when absent).
pub(crate) fn str_at(v: &Value, path: &[&str]) -> String {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `(step, timestamp, value)` of each metric in a history reply (ints may come as strings).
fn points_of(v: &Value) -> Vec<(i64, i64, Value)> {
    v["metrics"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|m| {
                    let int = |k: &str| {
                        m[k].as_i64()
                            .or_else(|| m[k].as_str().and_then(|s| s.parse().ok()))
                            .unwrap_or(0)
                    };
                    (int("step"), int("timestamp"), m["value"].clone())
                })
                .collect()
        })
        .unwrap_or_default()
}
