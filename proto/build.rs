//! Compiles `yui/v1/*.proto` with protox (a pure-Rust protobuf compiler), so building Yui needs
//! no system `protoc`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from("yui/v1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed=yui/v1");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let mut compiler = protox::Compiler::new(["."])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(&files)?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    // The encoded set keeps custom field options (`yui.v1.text`), which the node reads at run
    // time; prost's own types would drop them.
    std::fs::write(
        out_dir.join("yui_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();
    tonic_prost_build::configure()
        .build_server(grpc)
        .build_client(grpc)
        .codec_path("crate::codec::YuiCodec")
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
