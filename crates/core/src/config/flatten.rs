//! A config as flat `section.key = value` pairs (for params, comparisons and listings).

/// Flattens a TOML document to `(dotted.key, value)` pairs in key order; strings unquoted,
/// everything else in TOML syntax. Unparsable text gives no pairs.
pub fn flatten_toml(text: &str) -> Vec<(String, String)> {
    text.parse::<toml::Table>()
        .map(|table| flatten_value(&toml::Value::Table(table)))
        .unwrap_or_default()
}

/// Flattens a TOML value (a table: a config, a document) the same way.
pub fn flatten_value(value: &toml::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    flatten("", value, &mut out);
    out
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut Vec<(String, String)>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_tables_become_dotted_keys() {
        let p =
            flatten_toml("[train]\nlr = 0.1\n[model.mlp]\nhidden = [1, 2]\n[run]\nname = \"a\"\n");
        assert_eq!(
            p,
            vec![
                ("model.mlp.hidden".to_string(), "[1, 2]".to_string()),
                ("run.name".to_string(), "a".to_string()),
                ("train.lr".to_string(), "0.1".to_string()),
            ]
        );
        assert!(flatten_toml("not = = toml").is_empty());
    }
}
