//! PyTorch-compatible safetensors: the tensor names and layouts of the equivalent
//! `torch.nn.Module` (`layers.0.weight` as [out, in]), with a canonical header (keys sorted) so
//! equal weights always give byte-identical files.

use burn::prelude::*;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};

/// Why a model could not be encoded as safetensors.
#[derive(Debug, thiserror::Error)]
#[error("encoding safetensors: {0}")]
pub struct ExportError(String);

impl ExportError {
    /// An encoding failure saying `why`.
    pub(super) fn new(why: impl Into<String>) -> Self {
        Self(why.into())
    }
}

/// Encodes `model` (an image classifier or the tabular MLP) as safetensors with PyTorch names,
/// plus `metadata` in the header.
pub fn to_pytorch_safetensors<B: Backend, M: Module<B>>(
    model: &M,
    metadata: &[(String, String)],
) -> Result<Vec<u8>, ExportError> {
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        // The model enum's variant (`Mlp.`, `Cnn.`, `Resnet.`) is not part of the PyTorch
        // module's names.
        .with_key_remapping(r"^(Mlp|Cnn|Resnet)\.", "");
    for (key, value) in metadata {
        store = store.metadata(key, value.clone());
    }
    model
        .save_into(&mut store)
        .map_err(|e| ExportError(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| ExportError(e.to_string()))?;
    canonical(&bytes)
}

/// Rewrites the JSON header with sorted keys (burn-store writes metadata from a `HashMap`, in
/// a different order every process), padded to 8 bytes as the format requires.
pub(super) fn canonical(bytes: &[u8]) -> Result<Vec<u8>, ExportError> {
    let malformed = || ExportError("the encoder produced a malformed header".into());
    let len: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(malformed)?;
    let end = usize::try_from(u64::from_le_bytes(len))
        .ok()
        .and_then(|n| n.checked_add(8))
        .filter(|&end| end <= bytes.len())
        .ok_or_else(malformed)?;
    // serde_json's `Value` keeps objects in a BTreeMap (no `preserve_order`): sorted at every level.
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..end]).map_err(|_| malformed())?;
    let mut json = serde_json::to_vec(&header).map_err(|e| ExportError(e.to_string()))?;
    while json.len() % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - end);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[end..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use crate::model::Classifier;
    use burn::backend::Flex;

    fn model() -> Classifier<Flex> {
        Classifier::new(&ModelConfig::default(), [1, 4, 4], 3, &Default::default())
    }

    #[test]
    fn metadata_order_does_not_change_the_bytes() {
        let m = model();
        let kv = |k: &'static str| (k.to_string(), format!("value of {k}"));
        let a = to_pytorch_safetensors(&m, &[kv("a"), kv("b"), kv("c"), kv("d"), kv("e")]);
        let b = to_pytorch_safetensors(&m, &[kv("e"), kv("d"), kv("c"), kv("b"), kv("a")]);
        assert_eq!(a.unwrap(), b.unwrap());
    }

    #[test]
    fn header_is_padded_and_the_tensors_are_unchanged() {
        let mut store = SafetensorsStore::from_bytes(None)
            .with_to_adapter(BurnToPyTorchAdapter)
            .with_key_remapping(r"^(Mlp|Cnn)\.", "");
        let m = model();
        m.save_into(&mut store).unwrap();
        let raw = store.get_bytes().unwrap();
        let out = canonical(&raw).unwrap();
        let n = u64::from_le_bytes(out[..8].try_into().unwrap()) as usize;
        assert_eq!(n % 8, 0);
        let raw_n = u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
        assert_eq!(&out[8 + n..], &raw[8 + raw_n..]);
        let header: serde_json::Value = serde_json::from_slice(&out[8..8 + n]).unwrap();
        assert!(header.get("layers.0.weight").is_some(), "{header}");
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        assert!(canonical(&[1, 0, 0]).is_err());
        assert!(canonical(&[200, 0, 0, 0, 0, 0, 0, 0, b'{', b'}']).is_err());
    }
}
