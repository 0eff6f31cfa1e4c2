//! Where the MLflow server is and how to authenticate: config keys over `MLFLOW_*` variables.

use trainer_core::config::TrackingConfig;

/// How requests authenticate (never printed).
#[derive(Clone, Default)]
pub enum Auth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Bearer <token>` (`MLFLOW_TRACKING_TOKEN`).
    Bearer(String),
    /// HTTP basic auth (`MLFLOW_TRACKING_USERNAME` / `MLFLOW_TRACKING_PASSWORD`).
    Basic(String, String),
}

/// Resolved MLflow connection settings.
#[derive(Clone)]
pub struct MlflowSettings {
    /// Base URL without a trailing slash (credentials in the URL are moved to `auth`).
    pub uri: String,
    /// Experiment name.
    pub experiment: String,
    /// Credentials.
    pub auth: Auth,
    /// Accept any server certificate (`MLFLOW_TRACKING_INSECURE_TLS=true`).
    pub insecure_tls: bool,
    /// Extra CA bundle (`MLFLOW_TRACKING_SERVER_CERT_PATH`).
    pub server_cert: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for MlflowSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowSettings")
            .field("uri", &self.uri)
            .field("experiment", &self.experiment)
            .field("auth", &"<redacted>")
            .finish()
    }
}

impl MlflowSettings {
    /// Settings from the config, falling back to the environment; None when no URI is set.
    pub fn resolve(cfg: &TrackingConfig, env: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let pick = |key: &str, var: &str| {
            Some(key.trim().to_string())
                .filter(|s| !s.is_empty())
                .or_else(|| {
                    env(var)
                        .map(|v| v.trim().to_string())
                        .filter(|v| !v.is_empty())
                })
        };
        let uri = pick(&cfg.mlflow_uri, "MLFLOW_TRACKING_URI")?;
        if !trainer_core::config::is_http_url(&uri) {
            return None; // file: and databricks URIs are not REST servers we can talk to.
        }
        let (uri, url_auth) = split_userinfo(&uri);
        let auth = if let Some(token) = env("MLFLOW_TRACKING_TOKEN").filter(|t| !t.is_empty()) {
            Auth::Bearer(token)
        } else if let Some(user) = env("MLFLOW_TRACKING_USERNAME").filter(|u| !u.is_empty()) {
            Auth::Basic(user, env("MLFLOW_TRACKING_PASSWORD").unwrap_or_default())
        } else {
            url_auth
        };
        let truthy = |v: String| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes");
        Some(Self {
            uri: uri.trim_end_matches('/').to_string(),
            experiment: pick(&cfg.experiment, "MLFLOW_EXPERIMENT_NAME")
                .unwrap_or_else(|| "trainer".into()),
            auth,
            insecure_tls: env("MLFLOW_TRACKING_INSECURE_TLS").is_some_and(truthy),
            server_cert: env("MLFLOW_TRACKING_SERVER_CERT_PATH")
                .filter(|p| !p.is_empty())
                .map(Into::into),
        })
    }
}

/// `http://user:pw@host` -> (`http://host`, Basic(user, pw)).
fn split_userinfo(uri: &str) -> (String, Auth) {
    match trainer_core::config::split_userinfo(uri) {
        (clean, Some((user, pw))) => (clean, Auth::Basic(user, pw)),
        (clean, None) => (clean, Auth::None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn config_keys_override_the_environment() {
        let cfg = TrackingConfig {
            mlflow_uri: "http://cfg:5000/".into(),
            ..TrackingConfig::default()
        };
        let vars = [
            ("MLFLOW_TRACKING_URI", "http://env:1"),
            ("MLFLOW_EXPERIMENT_NAME", "exp"),
        ];
        let s = MlflowSettings::resolve(&cfg, env(&vars)).unwrap();
        assert_eq!(s.uri, "http://cfg:5000");
        assert_eq!(s.experiment, "exp");
        let none = MlflowSettings::resolve(&TrackingConfig::default(), env(&[]));
        assert!(none.is_none());
    }

    #[test]
    fn credentials_leave_the_url_and_never_print() {
        let vars = [("MLFLOW_TRACKING_URI", "https://u:s3cret@host/mlflow")];
        let s = MlflowSettings::resolve(&TrackingConfig::default(), env(&vars)).unwrap();
        assert_eq!(s.uri, "https://host/mlflow");
        assert!(matches!(&s.auth, Auth::Basic(u, p) if u == "u" && p == "s3cret"));
        assert!(!format!("{s:?}").contains("s3cret"));
        let vars = [
            ("MLFLOW_TRACKING_URI", "http://h"),
            ("MLFLOW_TRACKING_TOKEN", "tok"),
        ];
        let s = MlflowSettings::resolve(&TrackingConfig::default(), env(&vars)).unwrap();
        assert!(matches!(&s.auth, Auth::Bearer(t) if t == "tok"));
    }
}
