//! QR images for labels and certificates: the same text rendered as SVG (for print layouts) and
//! as PNG (for any printer driver), with the 4-module quiet zone scanners need. Error
//! correction level M survives a crumpled or partly smudged parcel label.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per QR module in the PNG (a 25-module code becomes 264 px with its quiet zone).
const PNG_SCALE: u32 = 8;
/// Quiet zone around the code, in modules (the standard asks for 4).
const QUIET: u32 = 4;

/// A QR code rendered both ways.
#[derive(Clone, Debug)]
pub struct QrImage {
    /// A standalone SVG document.
    pub svg: String,
    /// A grayscale PNG file.
    pub png: Vec<u8>,
    /// The QR version (1 to 40): the code has 17 + 4 x version modules per side.
    pub version: u32,
}

/// Render `text` as a QR code. Fails only if the text is too long for any QR version.
pub fn render(text: &str) -> anyhow::Result<QrImage> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let version = match code.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => u32::try_from(v).unwrap_or(0),
    };
    Ok(QrImage {
        svg,
        png: png_of(&code)?,
        version,
    })
}

fn png_of(code: &QrCode) -> anyhow::Result<Vec<u8>> {
    let modules = u32::try_from(code.width())?;
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET) * PNG_SCALE;
    let mut pixels = vec![255u8; (side * side) as usize];
    for (i, c) in colors.iter().enumerate() {
        if *c != Color::Dark {
            continue;
        }
        let i = u32::try_from(i)?;
        let (mx, my) = (i % modules + QUIET, i / modules + QUIET);
        for dy in 0..PNG_SCALE {
            let row = (my * PNG_SCALE + dy) * side;
            let start = (row + mx * PNG_SCALE) as usize;
            pixels[start..start + PNG_SCALE as usize].fill(0);
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, side, side);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header()?;
        w.write_image_data(&pixels)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_svg_and_a_decodable_png_of_the_right_size() {
        let img = render("YUI1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGH").unwrap();
        assert!(img.svg.starts_with("<?xml") && img.svg.contains("<svg"));
        let dec = png::Decoder::new(std::io::Cursor::new(img.png.clone()));
        let mut reader = dec.read_info().unwrap();
        let info = reader.info();
        let (w, h) = (info.width, info.height);
        assert_eq!(w, h);
        let code = QrCode::with_error_correction_level(
            "YUI1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGH".as_bytes(),
            EcLevel::M,
        )
        .unwrap();
        assert_eq!(w, (code.width() as u32 + 8) * PNG_SCALE);
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut buf).unwrap();
        // The quiet zone is white and the top-left finder pattern's corner is dark.
        assert_eq!(buf[0], 255);
        let corner = (QUIET * PNG_SCALE * w + QUIET * PNG_SCALE) as usize;
        assert_eq!(buf[corner], 0);
    }

    #[test]
    fn too_long_text_is_an_error_not_a_panic() {
        assert!(render(&"x".repeat(5000)).is_err());
    }
}
