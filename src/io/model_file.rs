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
    /// Test: tests/it/model_use.rs `bad_inputs_are_diagnostics_and_nothing_is_half_written`.
    #[error(
        "{path} is a safetensors file but not an nnt model: its metadata has no `{LAYOUT_KEY}`"
    )]
    #[diagnostic(
        code(nnt::io::not_a_model),
        help("model files are written by `save = \"…\"` or `nnt run R.nnt --save PATH`")
    )]
    NotAModel { path: String },

    /// A model file written by a newer nnt, in a layout this build does not know.
    /// Test: tests/it/model_use.rs `newer_layout`.
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

    /// A metadata value that does not parse, or that disagrees with the rest of
    /// the file (a hand-edited file): `nnt.layers` of `[{"index":0,…` (cut short);
    /// a last layer of `"outputs": 1099511627776` where its tensor `2.weight` is
    /// [2, 4]; `nnt.layers = []`; `nnt.loss = {"type":"mse"}` on a classifier; a
    /// regression model with more outputs than `nnt.preparation` has labels;
    /// `"classes": {"kind": "numeric", "count": 0}`.
    /// Tests: `foreign_newer_and_damaged_files_are_errors` below and
    /// tests/it/model_file_validation.rs.
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

    /// A consistent model file whose network needs more memory to run than nnt
    /// allows ([`RUN_LIMIT`]): e.g. `dense(65536)` on one input followed by 64
    /// `relu` layers (evaluation keeps every layer's outputs for a chunk of rows).
    /// Test: tests/it/model_file_validation.rs `a_model_too_large_to_run_is_refused`.
    #[error(
        "{path}: running this model needs {needed} of memory, more than the {limit} nnt allows"
    )]
    #[diagnostic(
        code(nnt::io::model_too_large),
        help("the layers are too wide or too many: train a smaller model")
    )]
    TooLarge {
        path: String,
        needed: String,
        limit: String,
    },
}

/// The most memory running a model file may take (its parameters, their
/// gradients and the outputs of every layer for an evaluation chunk): 16 GiB,
/// the bound `nnt check` puts on training.
pub const RUN_LIMIT: u128 = 16 << 30;

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
        if input_width == 0 {
            return Err(bad("nnt.input_width", "the model has no inputs".into()));
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

impl ModelMeta {
    /// Checks the layers against the file's tensors before anything is sized
    /// from them: each layer is at its `nn.Sequential` index, has outputs, there
    /// is a dense layer, and every dense, batch-norm and layer-norm layer has its
    /// parameter tensors with exactly the shapes its widths imply. Every width is
    /// then bounded by a tensor the file holds.
    pub fn check_tensors(&self, file: &WeightsFile) -> Result<(), ModelFileError> {
        let bad = |reason: String| ModelFileError::BadMetadata {
            path: file.path.clone(),
            key: "nnt.layers".into(),
            reason,
        };
        if !self
            .layers
            .iter()
            .any(|l| matches!(l.kind, LayerKind::Dense { .. }))
        {
            let what = if self.layers.is_empty() {
                "it lists no layer"
            } else {
                "it lists no dense layer"
            };
            return Err(bad(format!(
                "{what} (the file holds {} tensors); a model has at least one dense layer",
                file.tensors.len()
            )));
        }
        for (pos, l) in self.layers.iter().enumerate() {
            if l.index != pos {
                return Err(bad(format!(
                    "layer {pos} has index {}; layers are numbered 0, 1, 2, …",
                    l.index
                )));
            }
            if l.outputs == 0 {
                return Err(bad(format!("layer {pos} has no outputs")));
            }
            let (o, i) = (l.outputs, l.inputs);
            let needed: Vec<(&str, Vec<usize>)> = match l.kind {
                LayerKind::Dense { bias, .. } => {
                    let mut v = vec![("weight", vec![o, i])];
                    if bias {
                        v.push(("bias", vec![o]));
                    }
                    v
                }
                // The other layers with parameters (batch and layer norm)
                // have a weight and a bias per unit.
                _ if l.kind.trainable(i, o) > 0 => {
                    vec![("weight", vec![o]), ("bias", vec![o])]
                }
                _ => Vec::new(),
            };
            for (what, shape) in needed {
                let name = format!("{pos}.{what}");
                let kind = l.kind.name();
                match file.tensors.get(&name) {
                    None => {
                        return Err(bad(format!(
                            "layer {pos} ({kind}, {i} → {o}) needs tensor `{name}` {shape:?}, which the file does not have"
                        )))
                    }
                    Some(t) if t.shape != shape => {
                        return Err(bad(format!(
                            "layer {pos} ({kind}) has {i} inputs and {o} outputs, so tensor `{name}` must have shape {shape:?}, but it has {:?}",
                            t.shape
                        )))
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The bytes running the model on chunks of `rows` rows takes: parameters
    /// and their gradients, and every layer's outputs for `rows` rows (plus the
    /// network's own one-row buffers).
    pub fn run_bytes(&self, rows: usize) -> u128 {
        let elem: u128 = match self.precision {
            Precision::F32 => 4,
            Precision::F64 => 8,
        };
        let mut params: u128 = 0;
        let mut widths: u128 = self.input_width as u128;
        for l in &self.layers {
            let (i, o) = (l.inputs as u128, l.outputs as u128);
            params += match l.kind {
                LayerKind::Dense { bias, .. } => o * i + if bias { o } else { 0 },
                // Weight and bias per unit, batch norm's running statistics.
                _ => {
                    l.kind.trainable(l.inputs, l.outputs) as u128
                        + l.kind.buffers(l.outputs) as u128
                }
            };
            widths += o;
        }
        elem * (2 * params + widths * (rows as u128 + 3))
    }

    /// [`ModelFileError::TooLarge`] when running on chunks of `rows` rows needs
    /// more than [`RUN_LIMIT`].
    pub fn check_run_size(&self, path: &str, rows: usize) -> Result<(), ModelFileError> {
        let needed = self.run_bytes(rows);
        if needed > RUN_LIMIT {
            let gib = |b: u128| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
            return Err(ModelFileError::TooLarge {
                path: path.to_string(),
                needed: gib(needed),
                limit: gib(RUN_LIMIT),
            });
        }
        Ok(())
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
        meta.check_tensors(&weights)?;
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

/// Never write a data preparation that the model's readers (`predict`, `eval`,
/// `explain`) would refuse: a non-finite statistic becomes JSON `null`, which
/// does not read back as a number. The data stage refuses such statistics
/// (`nnt::data::statistic_overflow`); this is the last guard.
fn refuse_unreadable_preparation(meta: &ModelMeta) -> Result<(), String> {
    match &meta.preparation {
        Some(p) => serde_json::from_value::<crate::data::prep::Preparation>(p.clone())
            .map(|_| ())
            .map_err(|e| format!("its data preparation would not read back: {e}")),
        None => Ok(()),
    }
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
    refuse_unreadable_preparation(meta)?;
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
            Some(preparation(2.5)),
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

    /// A data preparation of three numeric features (the last with `divisor`),
    /// as model files hold it.
    fn preparation(divisor: f64) -> serde_json::Value {
        use crate::data::prep::{Column, Feature, FeatureKind, Preparation, PREP_VERSION};
        let feature = |name: &str, index, divisor| Feature {
            column: Column {
                name: name.into(),
                index,
            },
            kind: FeatureKind::Numeric {
                fill: None,
                shift: 1.0,
                divisor,
                missing_in_train: 0,
            },
        };
        let p = Preparation {
            version: PREP_VERSION,
            header: true,
            delimiter: ",".into(),
            features: vec![
                feature("a", 0, 1.0),
                feature("b", 1, 1.0),
                feature("c", 2, divisor),
            ],
            ignored: Vec::new(),
            labels: vec![Column {
                name: "y".into(),
                index: 3,
            }],
            classes: None,
            targets: None,
            missing: crate::ir::Missing::Error,
            normalize: crate::ir::Normalize::Standard,
        };
        serde_json::to_value(p).unwrap()
    }

    /// A statistic that is not finite would be written as `null`, which no
    /// reader takes back (`predict` failed with `nnt::io::bad_model`): the
    /// writer refuses it.
    #[test]
    fn a_non_finite_statistic_is_never_written() {
        let meta = |divisor| {
            ModelMeta::new(
                &model(),
                &Loss::Mse,
                Precision::F32,
                Some(preparation(divisor)),
            )
        };
        let m = model();
        assert!(serialize(&tensors(&m), Dtype::F32, &meta(3.0), 0, HashMap::new()).is_ok());
        for bad in [f64::INFINITY, f64::NAN] {
            let err = serialize(&tensors(&m), Dtype::F32, &meta(bad), 0, HashMap::new());
            let err = err.expect_err("refused");
            assert!(err.contains("would not read back"), "{err}");
        }
    }

    fn tensors(m: &Model) -> Vec<OutTensor> {
        let t = |name: String, shape: Vec<usize>| OutTensor {
            data: vec![0.5; shape.iter().product()],
            name,
            shape,
        };
        let mut v = Vec::new();
        for l in &m.layers {
            let (i, o) = (l.in_width, l.out_width);
            match l.kind {
                LayerKind::Dense { bias, .. } => {
                    v.push(t(format!("{}.weight", l.index), vec![o, i]));
                    if bias {
                        v.push(t(format!("{}.bias", l.index), vec![o]));
                    }
                }
                LayerKind::BatchNorm { .. } => {
                    for n in ["weight", "bias", "running_mean", "running_var"] {
                        v.push(t(format!("{}.{n}", l.index), vec![o]));
                    }
                }
                _ => {}
            }
        }
        v
    }

    /// The layers of `meta` checked against the tensors of `model`.
    fn checked(meta: &ModelMeta, model: &Model) -> Result<(), ModelFileError> {
        let bytes = serialize(&tensors(model), Dtype::F32, meta, 0, HashMap::new()).unwrap();
        let file = WeightsFile::parse(&bytes, "m.safetensors".into()).unwrap();
        let read = ModelMeta::from_file(&file)?;
        read.check_tensors(&file)
    }

    fn reason(r: Result<(), ModelFileError>) -> String {
        match r {
            Err(ModelFileError::BadMetadata { reason, .. }) => reason,
            other => panic!("expected bad metadata, got {other:?}"),
        }
    }

    #[test]
    fn layers_must_agree_with_the_tensors() {
        let m = model();
        let meta = ModelMeta::new(&m, &Loss::Mse, Precision::F32, None);
        checked(&meta, &m).unwrap();
        // A width that no tensor backs (2^40 outputs aborted allocating them).
        let mut wide = meta.clone();
        wide.layers[4].outputs = 1 << 40;
        let r = reason(checked(&wide, &m));
        assert!(
            r.contains("`4.weight`") && r.contains("[1099511627776, 4]"),
            "{r}"
        );
        // A missing bias, a batch norm without its weight.
        let mut biased = meta.clone();
        biased.layers[4].kind = LayerKind::Dense {
            units: 2,
            init: Init::Zeros,
            bias: true,
        };
        assert!(reason(checked(&biased, &m)).contains("`4.bias`"));
        let mut no_bn = m.clone();
        no_bn.layers[1].kind = LayerKind::Relu;
        assert!(reason(checked(&meta, &no_bn)).contains("`1.weight`"));
        // No layer, no dense layer, a renumbered layer, a zero width.
        let mut empty = meta.clone();
        empty.layers.clear();
        assert!(reason(checked(&empty, &m)).contains("no layer"));
        let mut renumbered = meta.clone();
        renumbered.layers[2].index = 7;
        assert!(reason(checked(&renumbered, &m)).contains("index 7"));
        let mut zero = meta.clone();
        zero.input_width = 0;
        zero.layers = vec![];
        assert!(matches!(
            checked(&zero, &m),
            Err(ModelFileError::BadMetadata { key, .. }) if key == "nnt.input_width"
        ));
    }

    #[test]
    fn the_memory_to_run_a_model_is_bounded() {
        let meta = ModelMeta::new(&model(), &Loss::Mse, Precision::F32, None);
        // Parameters 3·4 + 4 + 4·4 + 4·2 = 40; widths 3 + 4·4 + 2 = 21.
        assert_eq!(meta.run_bytes(1024), 4 * (2 * 40 + 21 * 1027));
        meta.check_run_size("m", 1024).unwrap();
        let mut wide = meta.clone();
        let relu = |index| LayerMeta {
            index,
            inputs: 1 << 22,
            outputs: 1 << 22,
            kind: LayerKind::Relu,
        };
        wide.layers = (0..2).map(relu).collect();
        wide.input_width = 1 << 22;
        assert!(matches!(
            wide.check_run_size("m", 1024),
            Err(ModelFileError::TooLarge { .. })
        ));
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
