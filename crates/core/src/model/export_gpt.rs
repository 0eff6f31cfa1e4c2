//! The GPT as safetensors with the names and layouts of the PyTorch reference
//! (`torch.nn.TransformerEncoder` blocks): each block's query, key and value projections become
//! one `self_attn.in_proj_weight` [3d, d] and `in_proj_bias`, and Burn's pre-norm `norm_2`
//! (before attention) and `norm_1` (before the MLP) become `norm1` and `norm2`.

use super::Gpt;
use super::export::{ExportError, canonical};
use burn::prelude::*;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::{BTreeMap, HashMap};

/// One tensor: shape and row-major f32 values.
type Plain = (Vec<usize>, Vec<f32>);

/// Encodes `model` with PyTorch names, plus `metadata` in the header.
pub fn gpt_to_pytorch_safetensors<B: Backend>(
    model: &Gpt<B>,
    metadata: &[(String, String)],
) -> Result<Vec<u8>, ExportError> {
    let mut burn_named: BTreeMap<String, Plain> = BTreeMap::new();
    for snapshot in model.collect(None, Some(Box::new(BurnToPyTorchAdapter)), true) {
        let data = snapshot
            .to_data()
            .map_err(|e| ExportError::new(format!("{}: {e:?}", snapshot.full_path())))?;
        let values = data
            .convert::<f32>()
            .to_vec::<f32>()
            .map_err(|e| ExportError::new(format!("{}: {e:?}", snapshot.full_path())))?;
        burn_named.insert(snapshot.full_path(), (snapshot.shape.to_vec(), values));
    }
    let torch_named = pytorch_names(burn_named)?;
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = torch_named
        .into_iter()
        .map(|(name, (shape, values))| {
            let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, shape, raw)
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, raw)| {
            TensorView::new(Dtype::F32, shape.clone(), raw)
                .map(|view| (name.clone(), view))
                .map_err(|e| ExportError::new(format!("{name}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let info: HashMap<String, String> = metadata.iter().cloned().collect();
    let encoded =
        safetensors::serialize(views, Some(info)).map_err(|e| ExportError::new(e.to_string()))?;
    canonical(&encoded)
}

/// Renames Burn's tensors (already in PyTorch layouts) to the reference module's names and
/// joins each block's query, key and value projections.
fn pytorch_names(burn: BTreeMap<String, Plain>) -> Result<BTreeMap<String, Plain>, ExportError> {
    let mut out = BTreeMap::new();
    let mut qkv: BTreeMap<String, [Option<Plain>; 3]> = BTreeMap::new();
    for (name, tensor) in burn {
        let Some(rest) = name.strip_prefix("blocks.layers.") else {
            out.insert(name, tensor);
            continue;
        };
        let (layer, param) = rest
            .split_once('.')
            .ok_or_else(|| ExportError::new(format!("unexpected tensor {name}")))?;
        let prefix = format!("blocks.layers.{layer}");
        let projection = [("mha.query.", 0), ("mha.key.", 1), ("mha.value.", 2)]
            .into_iter()
            .find_map(|(p, i)| param.strip_prefix(p).map(|kind| (i, kind)));
        if let Some((i, kind)) = projection {
            let key = format!("{prefix}.self_attn.in_proj_{kind}");
            qkv.entry(key).or_default()[i] = Some(tensor);
            continue;
        }
        let renamed = [
            ("mha.output.", "self_attn.out_proj."),
            ("pwff.linear_inner.", "linear1."),
            ("pwff.linear_outer.", "linear2."),
            ("norm_2.", "norm1."),
            ("norm_1.", "norm2."),
        ]
        .into_iter()
        .find_map(|(from, to)| param.strip_prefix(from).map(|p| format!("{to}{p}")))
        .ok_or_else(|| ExportError::new(format!("unexpected tensor {name}")))?;
        out.insert(format!("{prefix}.{renamed}"), tensor);
    }
    for (key, parts) in qkv {
        let [Some(q), Some(k), Some(v)] = parts else {
            return Err(ExportError::new(format!(
                "{key}: query, key or value missing"
            )));
        };
        // Row-major [d, d] (or [d]) blocks stacked along dim 0: their buffers concatenated.
        let mut shape = q.0.clone();
        shape[0] *= 3;
        let values = [q.1, k.1, v.1].concat();
        out.insert(key, (shape, values));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GptConfig;
    use burn::backend::Flex;

    #[test]
    fn names_are_the_reference_modules_and_qkv_is_stacked() {
        let cfg = GptConfig {
            layers: 2,
            heads: 2,
            embedding: 8,
            block_size: 4,
            ..GptConfig::default()
        };
        let model = Gpt::<Flex>::new(&cfg, 5, &Default::default());
        let bytes = gpt_to_pytorch_safetensors(&model, &[("k".into(), "v".into())]).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
        names.sort();
        let layer0: Vec<&str> = names
            .iter()
            .filter_map(|n| n.strip_prefix("blocks.layers.0."))
            .collect();
        assert_eq!(
            layer0,
            [
                "linear1.bias",
                "linear1.weight",
                "linear2.bias",
                "linear2.weight",
                "norm1.bias",
                "norm1.weight",
                "norm2.bias",
                "norm2.weight",
                "self_attn.in_proj_bias",
                "self_attn.in_proj_weight",
                "self_attn.out_proj.bias",
                "self_attn.out_proj.weight",
            ]
        );
        assert_eq!(
            st.tensor("blocks.layers.1.self_attn.in_proj_weight")
                .unwrap()
                .shape(),
            [24, 8]
        );
        assert_eq!(
            st.tensor("blocks.layers.0.linear1.weight").unwrap().shape(),
            [32, 8]
        );
        assert_eq!(st.tensor("tokens.weight").unwrap().shape(), [5, 8]);
        assert_eq!(st.tensor("head.weight").unwrap().shape(), [5, 8]);
        assert!(names.contains(&"norm.weight".to_string()), "{names:?}");
    }
}
