//! `run.precision` and `run.devices`: what float type a run computes in and on how many GPUs.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `run.precision`: the float type of the forward and backward passes. Weights, optimizer
/// state and checkpoints stay f32 whatever is chosen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// bfloat16 compute with f32 master weights (no loss scaling needed: f32's exponent range).
    Bf16,
    /// float16 compute with f32 master weights and dynamic loss scaling.
    F16,
}

impl Precision {
    /// The name as written in config (`bf16`).
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }
}

/// `run.devices`: the GPUs a run trains on. Empty: the one device `run.device`; a list: data
/// parallel over those indices (each global batch split across them); `"all"`: every GPU.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceList {
    /// The listed device indices (empty: just `run.device`).
    #[default]
    Unset,
    /// These device indices, in this order (the first holds the master weights).
    Listed(Vec<usize>),
    /// Every device of the backend.
    All,
}

impl DeviceList {
    /// True when `run.devices` asks for data parallelism at all.
    pub fn is_set(&self) -> bool {
        !matches!(self, DeviceList::Unset)
    }

    /// Parses the `--devices` flag: `all` or comma-separated indices (`0,1,3`).
    pub fn parse_flag(text: &str) -> Result<Self, String> {
        if text.trim() == "all" {
            return Ok(DeviceList::All);
        }
        let list = text
            .split(',')
            .map(|p| p.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| format!("expected `all` or device indices such as `0,1`, got {text:?}"))?;
        Ok(DeviceList::Listed(list))
    }

    /// The flag's value as a TOML value (for config overrides).
    pub fn to_toml(&self) -> toml::Value {
        match self {
            DeviceList::Unset => toml::Value::Array(Vec::new()),
            DeviceList::Listed(v) => {
                toml::Value::Array(v.iter().map(|&d| toml::Value::Integer(d as i64)).collect())
            }
            DeviceList::All => toml::Value::String("all".into()),
        }
    }
}

impl Serialize for DeviceList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DeviceList::Unset => Vec::<usize>::new().serialize(s),
            DeviceList::Listed(v) => v.serialize(s),
            DeviceList::All => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for DeviceList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Expect;
        impl<'de> Visitor<'de> for Expect {
            type Value = DeviceList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of device indices such as [0, 1], or \"all\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DeviceList, E> {
                if v == "all" {
                    Ok(DeviceList::All)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DeviceList, A::Error> {
                let mut v = Vec::new();
                while let Some(d) = seq.next_element::<usize>()? {
                    v.push(d);
                }
                Ok(if v.is_empty() {
                    DeviceList::Unset
                } else {
                    DeviceList::Listed(v)
                })
            }
        }
        d.deserialize_any(Expect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize)]
    struct Run {
        devices: DeviceList,
    }

    fn parse(text: &str) -> Result<DeviceList, String> {
        toml::from_str::<Run>(text)
            .map(|r| r.devices)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn devices_read_as_a_list_all_or_empty() {
        assert_eq!(
            parse("devices = [0, 2]"),
            Ok(DeviceList::Listed(vec![0, 2]))
        );
        assert_eq!(parse("devices = \"all\""), Ok(DeviceList::All));
        assert_eq!(parse("devices = []"), Ok(DeviceList::Unset));
        let err = parse("devices = \"every\"").unwrap_err();
        assert!(err.contains("[0, 1], or \"all\""), "{err}");
        assert!(parse("devices = [-1]").is_err());
        for d in [
            DeviceList::Listed(vec![1, 3]),
            DeviceList::All,
            DeviceList::Unset,
        ] {
            let text = toml::to_string(&Run { devices: d.clone() }).unwrap();
            assert_eq!(parse(&text), Ok(d), "{text}");
        }
    }

    #[test]
    fn the_devices_flag_takes_all_or_indices() {
        assert_eq!(DeviceList::parse_flag("all"), Ok(DeviceList::All));
        assert_eq!(
            DeviceList::parse_flag("0, 1"),
            Ok(DeviceList::Listed(vec![0, 1]))
        );
        assert!(DeviceList::parse_flag("0,x").is_err());
        assert_eq!(
            DeviceList::parse_flag("2,3").unwrap().to_toml().to_string(),
            "[2, 3]"
        );
    }
}
