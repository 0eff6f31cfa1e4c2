//! MLflow's Model Registry over REST: registered models, their versions and aliases.

use super::client::{MlflowClient, MlflowError, str_at};
use serde_json::{Value, json};

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelVersion {
    /// The registered model's name.
    pub name: String,
    /// Its version number.
    pub version: u64,
    /// The run that produced it (empty if none).
    pub run_id: String,
    /// Where its files are (`mlflow-artifacts:/.../artifacts/model`).
    pub source: String,
    /// `READY`, `PENDING_REGISTRATION` or `FAILED_REGISTRATION`.
    pub status: String,
    /// Aliases pointing at it (`champion`).
    pub aliases: Vec<String>,
    /// Creation time (ms since the epoch).
    pub created_ms: i64,
    /// Its description.
    pub description: String,
}

impl ModelVersion {
    fn of(v: &Value) -> Self {
        let int = |k: &str| {
            v[k].as_i64()
                .or_else(|| v[k].as_str().and_then(|s| s.parse().ok()))
                .unwrap_or(0)
        };
        Self {
            name: str_at(v, &["name"]),
            version: u64::try_from(int("version")).unwrap_or(0),
            run_id: str_at(v, &["run_id"]),
            source: str_at(v, &["source"]),
            status: str_at(v, &["status"]),
            aliases: strings(&v["aliases"]),
            created_ms: int("creation_timestamp"),
            description: str_at(v, &["description"]),
        }
    }
}

/// A registered model: its name, latest version and aliases.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredModel {
    /// Name.
    pub name: String,
    /// Highest version number (0 when it has none).
    pub latest_version: u64,
    /// `(alias, version)` pairs.
    pub aliases: Vec<(String, u64)>,
    /// Last update (ms since the epoch).
    pub updated_ms: i64,
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `'value'` quoted for an MLflow search filter.
fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "\\'"))
}

impl MlflowClient {
    /// Creates registered model `name` unless it exists; a name MLflow refuses is `Rejected`.
    pub fn ensure_registered_model(
        &self,
        name: &str,
        description: &str,
    ) -> Result<(), MlflowError> {
        let created = self.post(
            "registered-models/create",
            &json!({"name": name, "description": description}),
        );
        match created {
            Ok(_) => Ok(()),
            // Already there (or refused): it exists if `get` finds it.
            Err(MlflowError::Rejected(why)) => match self.registered_model(name) {
                Ok(_) => Ok(()),
                Err(MlflowError::NotFound(_) | MlflowError::Rejected(_)) => {
                    Err(MlflowError::Rejected(why))
                }
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Registered model `name`.
    pub fn registered_model(&self, name: &str) -> Result<RegisteredModel, MlflowError> {
        let v = self.get("registered-models/get", &[("name", name)])?;
        Ok(registered_of(&v["registered_model"]))
    }

    /// Every registered model (up to 1000), by name.
    pub fn registered_models(&self) -> Result<Vec<RegisteredModel>, MlflowError> {
        let v = self.get("registered-models/search", &[("max_results", "1000")])?;
        let mut models: Vec<RegisteredModel> = v["registered_models"]
            .as_array()
            .map(|a| a.iter().map(registered_of).collect())
            .unwrap_or_default();
        models.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(models)
    }

    /// The versions of `name` (up to 1000), newest first.
    pub fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>, MlflowError> {
        self.search_versions(&format!("name = {}", quoted(name)))
    }

    /// The version of `name` that run `run_id` registered, if any.
    pub fn model_version_of_run(
        &self,
        name: &str,
        run_id: &str,
    ) -> Result<Option<ModelVersion>, MlflowError> {
        let filter = format!("name = {} and run_id = {}", quoted(name), quoted(run_id));
        Ok(self.search_versions(&filter)?.into_iter().next())
    }

    fn search_versions(&self, filter: &str) -> Result<Vec<ModelVersion>, MlflowError> {
        let v = self.get(
            "model-versions/search",
            &[("filter", filter), ("max_results", "1000")],
        )?;
        let mut versions: Vec<ModelVersion> = v["model_versions"]
            .as_array()
            .map(|a| a.iter().map(ModelVersion::of).collect())
            .unwrap_or_default();
        versions.sort_by_key(|v| std::cmp::Reverse(v.version));
        Ok(versions)
    }

    /// Registers `source` (inside run `run_id`'s artifacts) as a new version of `name`.
    pub fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
        description: &str,
    ) -> Result<ModelVersion, MlflowError> {
        let v = self.post(
            "model-versions/create",
            &json!({
                "name": name,
                "source": source,
                "run_id": run_id,
                "description": description,
            }),
        )?;
        Ok(ModelVersion::of(&v["model_version"]))
    }

    /// Version `version` of `name`.
    pub fn model_version(&self, name: &str, version: u64) -> Result<ModelVersion, MlflowError> {
        let version = version.to_string();
        let v = self.get(
            "model-versions/get",
            &[("name", name), ("version", version.as_str())],
        )?;
        Ok(ModelVersion::of(&v["model_version"]))
    }

    /// The version alias `alias` of `name` points at.
    pub fn version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion, MlflowError> {
        let v = self.get(
            "registered-models/alias",
            &[("name", name), ("alias", alias)],
        )?;
        Ok(ModelVersion::of(&v["model_version"]))
    }

    /// Points alias `alias` of `name` at `version` (moving it if it pointed elsewhere).
    pub fn set_alias(&self, name: &str, alias: &str, version: u64) -> Result<(), MlflowError> {
        self.post(
            "registered-models/alias",
            &json!({"name": name, "alias": alias, "version": version.to_string()}),
        )
        .map(drop)
    }
}

fn registered_of(v: &Value) -> RegisteredModel {
    let latest_version = v["latest_versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| ModelVersion::of(m).version)
        .max()
        .unwrap_or(0);
    let aliases = v["aliases"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let version = a["version"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| a["version"].as_u64())
                .unwrap_or(0);
            (str_at(a, &["alias"]), version)
        })
        .collect();
    let updated_ms = v["last_updated_timestamp"]
        .as_i64()
        .or_else(|| {
            v["last_updated_timestamp"]
                .as_str()
                .and_then(|s| s.parse().ok())
        })
        .unwrap_or(0);
    RegisteredModel {
        name: str_at(v, &["name"]),
        latest_version,
        aliases,
        updated_ms,
    }
}
