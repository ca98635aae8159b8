fn main() {
    napi_build::setup();
    // Unloading an addon that a worker thread used crashes on Linux; keep it loaded.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
}
