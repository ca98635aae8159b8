//! Prints the inputs and outputs of an ONNX model as resonode sees them.
//!
//! ```sh
//! cargo run -p resonode-ml --example model_info -- models/gtcrn/gtcrn_simple.onnx
//! ```
use std::path::Path;

use resonode_ml::model::Model;
use resonode_ml::runtime::{init_runtime, SessionOptions};

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: model_info <model.onnx>");
        std::process::exit(2);
    };
    let run = || -> resonode_core::Result<()> {
        let rt = init_runtime(None)?;
        println!("ONNX Runtime {} ({})", rt.version, rt.library_path.display());
        let m = Model::load(Path::new(&path), &SessionOptions::default())?;
        for i in m.inputs() {
            println!("input  {i}");
        }
        for o in m.outputs() {
            println!("output {o}");
        }
        Ok(())
    };
    if let Err(e) = run() {
        eprintln!("{}: {e}", e.code());
        std::process::exit(1);
    }
}
