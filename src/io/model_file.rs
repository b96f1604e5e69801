//! Model files (§15): the safetensors file that `save`, `--save` and checkpoints
//! write, with everything needed to use the model without its recipe in the
//! `__metadata__`. The layout is documented in `docs/model-files.md`; this module
//! is its only writer and reader.
//!
//! Keys (layout 1), all strings:
//! `format = pt`, `nnt.version`, `nnt.layout = 1`, `nnt.input_width`,
//! `nnt.layers` (JSON list of [`LayerMeta`]), `nnt.loss` (JSON of [`Loss`]),
//! `nnt.precision` (`f32` | `f64`), `nnt.preparation` (JSON of the data
//! preparation, when the data came from files).
//!
//! Tensors: exactly `nn.Sequential`'s `state_dict` (batch norm's
//! `num_batches_tracked` included, as a scalar in the model's float dtype: §11
//! allows only F32/F64), so the file loads with `load_state_dict(strict=True)`.

use std::collections::HashMap;
use std::path::Path;

use miette::Diagnostic;
use safetensors::Dtype;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::weights::{OutTensor, WeightsError, WeightsFile};
use crate::ast::Span;
use crate::ir::{Init, Layer, LayerKind, Loss, Model, Precision};

/// The layout version this build writes and the newest it reads.
pub const LAYOUT: u32 = 1;

/// The metadata key that marks an nnt model file (and its layout version).
pub const LAYOUT_KEY: &str = "nnt.layout";

/// One layer, as `nnt.layers` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerMeta {
    /// `nn.Sequential` index (tensor names are `{index}.weight`, …).
    pub index: usize,
    pub inputs: usize,
    pub outputs: usize,
    /// The kind and settings (a dense layer's `units` are `outputs`).
    #[serde(flatten)]
    pub kind: LayerKind,
}

/// Everything a model file says besides its tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelMeta {
    /// The nnt version that wrote the file.
    pub version: String,
    pub layout: u32,
    pub input_width: usize,
    pub layers: Vec<LayerMeta>,
    pub loss: Loss,
    pub precision: Precision,
    /// The data preparation (§14) as JSON; `None` for synthetic data.
    pub preparation: Option<serde_json::Value>,
}

/// Problems with a file given as a model.
#[derive(Debug, Error, Diagnostic)]
pub enum ModelFileError {
    /// Unreadable, truncated, not safetensors, a tensor missing or mis-shaped.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Weights(#[from] WeightsError),

    /// A safetensors file without nnt's metadata (e.g. written by PyTorch, or an
    /// nnt weights file of a version before model files).
    /// Test: tests/model_use.rs `bad_inputs_are_diagnostics_and_nothing_is_half_written`.
    #[error(
        "{path} is a safetensors file but not an nnt model: its metadata has no `{LAYOUT_KEY}`"
    )]
    #[diagnostic(
        code(nnt::io::not_a_model),
        help("model files are written by `save = \"…\"` or `nnt run R.nnt --save PATH`")
    )]
    NotAModel { path: String },

    /// A model file written by a newer nnt, in a layout this build does not know.
    /// Test: tests/model_use.rs `newer_layout`.
    #[error("{path} uses model-file layout {found}; this nnt reads layouts up to {LAYOUT}")]
    #[diagnostic(
        code(nnt::io::newer_layout),
        help("use the nnt version that wrote the file (nnt.version = {version}) or a newer one")
    )]
    NewerLayout {
        path: String,
        found: String,
        version: String,
    },

    /// A metadata value that does not parse (a hand-edited file).
    /// Test: `foreign_newer_and_damaged_files_are_errors` below.
    #[error("{path}: metadata `{key}` is not valid: {reason}")]
    #[diagnostic(
        code(nnt::io::bad_model),
        help("the file was changed after nnt wrote it; save the model again")
    )]
    BadMetadata {
        path: String,
        key: String,
        reason: String,
    },
}

impl LayerMeta {
    fn of(l: &Layer) -> LayerMeta {
        let mut kind = l.kind.clone();
        // What the file keeps: a dense layer's initialiser is not (its weights are).
        if let LayerKind::Dense { init, .. } = &mut kind {
            *init = Init::Zeros;
        }
        LayerMeta {
            index: l.index,
            inputs: l.in_width,
            outputs: l.out_width,
            kind,
        }
    }

    /// The IR layer (no recipe span: the file has no recipe).
    fn to_layer(&self) -> Layer {
        Layer {
            index: self.index,
            kind: self.kind.clone(),
            in_width: self.inputs,
            out_width: self.outputs,
            span: Span::default(),
            line: 0,
        }
    }
}

impl ModelMeta {
    /// The metadata of a model trained as `model` with `loss` in `precision`.
    pub fn new(
        model: &Model,
        loss: &Loss,
        precision: Precision,
        preparation: Option<serde_json::Value>,
    ) -> ModelMeta {
        ModelMeta {
            version: env!("CARGO_PKG_VERSION").to_string(),
            layout: LAYOUT,
            input_width: model.input_width,
            layers: model.layers.iter().map(LayerMeta::of).collect(),
            loss: *loss,
            precision,
            preparation,
        }
    }

    /// The IR model (for building the network that runs it).
    pub fn model(&self) -> Model {
        Model {
            input_width: self.input_width,
            layers: self.layers.iter().map(LayerMeta::to_layer).collect(),
        }
    }

    pub fn output_width(&self) -> usize {
        self.layers.last().map_or(self.input_width, |l| l.outputs)
    }

    /// The `__metadata__` entries.
    pub fn entries(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert("format".to_string(), "pt".to_string());
        m.insert("nnt.version".to_string(), self.version.clone());
        m.insert(LAYOUT_KEY.to_string(), self.layout.to_string());
        m.insert("nnt.input_width".to_string(), self.input_width.to_string());
        // Serialising these plain structs cannot fail; an empty value would be
        // reported as damaged when read.
        m.insert(
            "nnt.layers".to_string(),
            serde_json::to_string(&self.layers).unwrap_or_default(),
        );
        m.insert(
            "nnt.loss".to_string(),
            serde_json::to_string(&self.loss).unwrap_or_default(),
        );
        m.insert(
            "nnt.precision".to_string(),
            self.precision.name().to_string(),
        );
        if let Some(p) = &self.preparation {
            m.insert("nnt.preparation".to_string(), p.to_string());
        }
        m
    }

    /// Reads the metadata of a file: not an nnt model, a newer layout or a damaged
    /// value are errors.
    pub fn from_file(file: &WeightsFile) -> Result<ModelMeta, ModelFileError> {
        let path = &file.path;
        let md = &file.metadata;
        let layout = md
            .get(LAYOUT_KEY)
            .ok_or_else(|| ModelFileError::NotAModel { path: path.clone() })?;
        let version = md.get("nnt.version").cloned().unwrap_or_default();
        let bad = |key: &str, reason: String| ModelFileError::BadMetadata {
            path: path.clone(),
            key: key.to_string(),
            reason,
        };
        let layout_n: u32 = layout
            .parse()
            .map_err(|_| bad(LAYOUT_KEY, format!("{layout:?} is not a version number")))?;
        if layout_n > LAYOUT {
            return Err(ModelFileError::NewerLayout {
                path: path.clone(),
                found: layout.clone(),
                version,
            });
        }
        let get = |key: &str| md.get(key).ok_or_else(|| bad(key, "it is missing".into()));
        let input_width: usize = get("nnt.input_width")?
            .parse()
            .map_err(|_| bad("nnt.input_width", "not a number".into()))?;
        let mut layers: Vec<LayerMeta> = serde_json::from_str(get("nnt.layers")?)
            .map_err(|e| bad("nnt.layers", e.to_string()))?;
        for l in &mut layers {
            // The file keeps a dense layer's width once, as its outputs.
            if let LayerKind::Dense { units, .. } = &mut l.kind {
                *units = l.outputs;
            }
        }
        let loss: Loss =
            serde_json::from_str(get("nnt.loss")?).map_err(|e| bad("nnt.loss", e.to_string()))?;
        let precision = match get("nnt.precision")?.as_str() {
            "f32" => Precision::F32,
            "f64" => Precision::F64,
            other => return Err(bad("nnt.precision", format!("{other:?} is not f32 or f64"))),
        };
        let preparation = match md.get("nnt.preparation") {
            Some(s) => {
                Some(serde_json::from_str(s).map_err(|e| bad("nnt.preparation", e.to_string()))?)
            }
            None => None,
        };
        // The layer chain must be consistent, or the network cannot be built.
        let mut width = input_width;
        for l in &layers {
            if l.inputs != width {
                return Err(bad(
                    "nnt.layers",
                    format!("layer {} takes {} inputs after {width}", l.index, l.inputs),
                ));
            }
            let same = !matches!(l.kind, LayerKind::Dense { .. });
            if same && l.outputs != l.inputs {
                return Err(bad(
                    "nnt.layers",
                    format!("layer {} changes the width", l.index),
                ));
            }
            width = l.outputs;
        }
        Ok(ModelMeta {
            version,
            layout: layout_n,
            input_width,
            layers,
            loss,
            precision,
            preparation,
        })
    }
}

/// A model file read: its metadata and its tensors.
#[derive(Debug, Clone)]
pub struct ModelFile {
    pub meta: ModelMeta,
    pub weights: WeightsFile,
}

impl ModelFile {
    pub fn read(path: &Path) -> Result<ModelFile, ModelFileError> {
        let weights = WeightsFile::read(path)?;
        let meta = ModelMeta::from_file(&weights)?;
        Ok(ModelFile { meta, weights })
    }
}

/// `{index}.num_batches_tracked` for each batch-norm layer: PyTorch's
/// `BatchNorm1d` state has it, so a strict `load_state_dict` needs it.
pub fn batches_tracked(meta: &ModelMeta) -> Vec<String> {
    meta.layers
        .iter()
        .filter(|l| matches!(l.kind, LayerKind::BatchNorm { .. }))
        .map(|l| format!("{}.num_batches_tracked", l.index))
        .collect()
}

/// The bytes of a model file: `tensors` in `dtype` (F32 or F64), the
/// `num_batches_tracked` scalars (value `steps`), and the metadata of `meta`
/// plus `extra_meta` (a checkpoint's state; `tensors` then holds its further
/// tensors too).
///
/// The header is written here rather than by the safetensors crate, whose
/// metadata map has a random order per process: the same model gives the same
/// bytes on every run (keys sorted, tensors in the order given).
pub fn serialize(
    tensors: &[OutTensor],
    dtype: Dtype,
    meta: &ModelMeta,
    steps: u64,
    extra_meta: HashMap<String, String>,
) -> Result<Vec<u8>, String> {
    crate::io::weights::refuse_non_finite(tensors, dtype)?;
    let f64s = dtype == Dtype::F64;
    let (dtype_name, size) = if f64s { ("F64", 8) } else { ("F32", 4) };
    let mut header = serde_json::Map::new();
    let mut metadata = serde_json::Map::new();
    let mut entries = meta.entries();
    entries.extend(extra_meta);
    for (k, v) in entries {
        metadata.insert(k, serde_json::Value::String(v));
    }
    header.insert("__metadata__".into(), serde_json::Value::Object(metadata));
    let mut offset = 0usize;
    let mut put = |header: &mut serde_json::Map<String, serde_json::Value>,
                   name: &str,
                   dtype: &str,
                   shape: &[usize],
                   bytes: usize|
     -> Result<(), String> {
        if header.contains_key(name) {
            return Err(format!("tensor {name} twice"));
        }
        header.insert(
            name.to_string(),
            serde_json::json!({
                "dtype": dtype,
                "shape": shape,
                "data_offsets": [offset, offset + bytes],
            }),
        );
        offset += bytes;
        Ok(())
    };
    for t in tensors {
        if t.shape.iter().product::<usize>() != t.data.len() {
            return Err(format!(
                "tensor {} has {} values for shape {:?}",
                t.name,
                t.data.len(),
                t.shape
            ));
        }
        put(
            &mut header,
            &t.name,
            dtype_name,
            &t.shape,
            t.data.len() * size,
        )?;
    }
    let tracked = batches_tracked(meta);
    for name in &tracked {
        put(&mut header, name, dtype_name, &[], size)?;
    }
    let mut json = serde_json::to_string(&header).map_err(|e| e.to_string())?;
    while json.len() % 8 != 0 {
        json.push(' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    for t in tensors {
        if f64s {
            t.data
                .iter()
                .for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
        } else {
            t.data
                .iter()
                .for_each(|&v| out.extend_from_slice(&(v as f32).to_le_bytes()));
        }
    }
    for _ in &tracked {
        // In the model's float dtype (§11: F32 or F64 only); PyTorch's strict
        // `load_state_dict` copies it into its int64 buffer.
        if f64s {
            out.extend_from_slice(&(steps as f64).to_le_bytes());
        } else {
            out.extend_from_slice(&(steps as f32).to_le_bytes());
        }
    }
    Ok(out)
}

/// Writes a model file atomically.
pub fn write(
    path: &Path,
    tensors: &[OutTensor],
    dtype: Dtype,
    meta: &ModelMeta,
    steps: u64,
) -> Result<(), WeightsError> {
    let bytes = serialize(tensors, dtype, meta, steps, HashMap::new());
    crate::io::weights::write_serialized(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        let l = |index, kind, i, o| Layer {
            index,
            kind,
            in_width: i,
            out_width: o,
            span: Span::default(),
            line: 0,
        };
        Model {
            input_width: 3,
            layers: vec![
                l(
                    0,
                    LayerKind::Dense {
                        units: 4,
                        init: Init::Zeros,
                        bias: true,
                    },
                    3,
                    4,
                ),
                l(
                    1,
                    LayerKind::BatchNorm {
                        momentum: 0.1,
                        eps: 1e-5,
                    },
                    4,
                    4,
                ),
                l(2, LayerKind::LeakyRelu { slope: 0.2 }, 4, 4),
                l(3, LayerKind::Dropout { p: 0.5 }, 4, 4),
                l(
                    4,
                    LayerKind::Dense {
                        units: 2,
                        init: Init::Zeros,
                        bias: false,
                    },
                    4,
                    2,
                ),
            ],
        }
    }

    #[test]
    fn metadata_round_trips() {
        let meta = ModelMeta::new(
            &model(),
            &Loss::Huber { delta: 0.5 },
            Precision::F64,
            Some(serde_json::json!({"features": ["a", "b", "c"]})),
        );
        let bytes = serialize(&[], Dtype::F64, &meta, 7, HashMap::new()).unwrap();
        let file = WeightsFile::parse(&bytes, "m".into()).unwrap();
        assert_eq!(file.metadata["format"], "pt");
        assert_eq!(file.metadata["nnt.layout"], "1");
        assert_eq!(ModelMeta::from_file(&file).unwrap(), meta);
        let t = &file.tensors["1.num_batches_tracked"];
        assert_eq!(t.shape, Vec::<usize>::new());
        // The IR model comes back with the same kinds and widths.
        let back = meta.model();
        for (a, b) in back.layers.iter().zip(&model().layers) {
            assert_eq!(
                (a.index, a.in_width, a.out_width),
                (b.index, b.in_width, b.out_width)
            );
            assert_eq!(a.kind.name(), b.kind.name());
        }
        let layers = &file.metadata["nnt.layers"];
        assert!(
            layers.starts_with(r#"[{"index":0,"inputs":3,"outputs":4,"type":"dense","bias":true}"#),
            "{layers}"
        );
    }

    #[test]
    fn foreign_newer_and_damaged_files_are_errors() {
        let plain = crate::io::weights::serialize(&[], Dtype::F32, None).unwrap();
        let f = WeightsFile::parse(&plain, "p".into()).unwrap();
        assert!(matches!(
            ModelMeta::from_file(&f),
            Err(ModelFileError::NotAModel { .. })
        ));
        let meta = ModelMeta::new(&model(), &Loss::Mse, Precision::F32, None);
        let mut extra = HashMap::new();
        extra.insert(LAYOUT_KEY.to_string(), "2".to_string());
        let newer = serialize(&[], Dtype::F32, &meta, 0, extra).unwrap();
        let f = WeightsFile::parse(&newer, "n".into()).unwrap();
        assert!(matches!(
            ModelMeta::from_file(&f),
            Err(ModelFileError::NewerLayout { .. })
        ));
        let mut extra = HashMap::new();
        extra.insert("nnt.layers".to_string(), "[{".to_string());
        let damaged = serialize(&[], Dtype::F32, &meta, 0, extra).unwrap();
        let f = WeightsFile::parse(&damaged, "d".into()).unwrap();
        assert!(matches!(
            ModelMeta::from_file(&f),
            Err(ModelFileError::BadMetadata { .. })
        ));
    }
}
