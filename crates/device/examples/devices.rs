//! Lists the devices of a backend (`default`, `alsa`, `pulseaudio`, `none`).
//!
//! `cargo run -p resonode-device --example devices -- [backend]`
fn main() -> resonode_core::Result<()> {
    let backend = resonode_device::Backend::parse(&std::env::args().nth(1).unwrap_or_default())?;
    for d in resonode_device::list_devices(backend)? {
        println!(
            "{:<24} {:<10} in {:>2} out {:>2} rate {:?} buffers {:?}..{:?}{}{}  {}",
            d.id,
            d.host,
            d.max_input_channels,
            d.max_output_channels,
            d.default_sample_rate,
            d.min_buffer_size,
            d.max_buffer_size,
            if d.is_default_input {
                " [default in]"
            } else {
                ""
            },
            if d.is_default_output {
                " [default out]"
            } else {
                ""
            },
            d.name
        );
    }
    Ok(())
}
