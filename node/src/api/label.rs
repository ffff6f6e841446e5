//! The printable shipment label: one A6 page (105 x 148 mm, the common parcel-label size) with
//! the QR code drawn as vector squares (sharp on any printer), the token written out for when a
//! scanner fails, and what the parcel holds and where it goes.
//!
//! Owns only the page layout. It never reads the chain or the vault: the caller passes the
//! public facts (ids, item, shelter name and area — never a contact), and the label holds no
//! personal data.
//!
//! Text: Latin text uses Helvetica and Japanese text Adobe-Japan1's standard gothic font
//! (`HeiseiKakuGo-W5`), neither embedded — every PDF reader supplies both, and embedding a
//! Japanese font would add megabytes to each label. See ADR 0019.

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo};
use pdf_writer::{Content, Name, Pdf, Rect, Ref, Str};
use qrcode::{Color, EcLevel, QrCode};

/// A6 in PDF points (1 pt = 1/72 in): 105 mm x 148 mm.
pub const A6: (f32, f32) = (297.64, 419.53);
/// Margin around the page content.
const MARGIN: f32 = 18.0;
/// Side of the QR code with its quiet zone.
const QR_SIDE: f32 = 170.0;
/// Quiet zone around the code, in modules.
const QUIET: usize = 4;

/// What the label says besides its QR code.
#[derive(Clone, Debug, Default)]
pub struct LabelFacts {
    /// Shipment id.
    pub shipment_id: u64,
    /// Disaster id.
    pub disaster_id: String,
    /// Item id.
    pub item_id: String,
    /// Item name (may be Japanese).
    pub item_name: String,
    /// Unit or pack.
    pub unit: String,
    /// Quantity.
    pub quantity: u64,
    /// Receiving shelter's id.
    pub shelter_id: String,
    /// Its public name.
    pub shelter_name: String,
    /// Its area.
    pub shelter_area: String,
    /// The need (pledges) or 0.
    pub need_id: u64,
    /// The offer (requests) or 0.
    pub offer_id: u64,
}

const F_LATIN: Name<'static> = Name(b"F1");
const F_JAPANESE: Name<'static> = Name(b"F2");

/// The label as a one-page PDF. Fails only if the token is too long for a QR code.
pub fn pdf(token: &str, facts: &LabelFacts) -> anyhow::Result<Vec<u8>> {
    let code = QrCode::with_error_correction_level(token.as_bytes(), EcLevel::M)?;
    let (catalog, tree, page, content_id) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    let (latin, japanese, cid, descriptor, info) = (
        Ref::new(5),
        Ref::new(6),
        Ref::new(7),
        Ref::new(8),
        Ref::new(9),
    );
    let mut doc = Pdf::new();
    doc.catalog(catalog).pages(tree);
    doc.pages(tree).kids([page]).count(1);
    {
        let mut p = doc.page(page);
        p.media_box(Rect::new(0.0, 0.0, A6.0, A6.1))
            .parent(tree)
            .contents(content_id);
        let mut resources = p.resources();
        let mut fonts = resources.fonts();
        fonts.pair(F_LATIN, latin);
        fonts.pair(F_JAPANESE, japanese);
    }
    doc.type1_font(latin)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    doc.type0_font(japanese)
        .base_font(Name(b"HeiseiKakuGo-W5"))
        .encoding_predefined(Name(b"UniJIS-UTF16-H"))
        .descendant_font(cid);
    {
        let mut c = doc.cid_font(cid);
        c.subtype(CidFontType::Type0)
            .base_font(Name(b"HeiseiKakuGo-W5"))
            .system_info(SystemInfo {
                registry: Str(b"Adobe"),
                ordering: Str(b"Japan1"),
                supplement: 5,
            })
            .font_descriptor(descriptor)
            .default_width(1000.0);
        // The proportional Latin glyphs (CIDs 1 to 95) are about half an em wide.
        c.widths().same(1, 95, 500.0);
    }
    doc.font_descriptor(descriptor)
        .name(Name(b"HeiseiKakuGo-W5"))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(-92.0, -250.0, 1010.0, 922.0))
        .italic_angle(0.0)
        .ascent(752.0)
        .descent(-221.0)
        .cap_height(737.0)
        .stem_v(114.0);
    doc.document_info(info)
        .title(pdf_writer::TextStr(&format!(
            "Shipment {} label",
            facts.shipment_id
        )))
        .producer(pdf_writer::TextStr("Yui"));

    let mut c = Content::new();
    draw_qr(
        &mut c,
        &code,
        (A6.0 - QR_SIDE) / 2.0,
        A6.1 - MARGIN - QR_SIDE,
    );
    let mut y = A6.1 - MARGIN - QR_SIDE - 4.0;
    // The token under the code, for typing in when a scanner cannot read it.
    line(&mut c, &mut y, 7.0, token);
    y -= 6.0;
    line(
        &mut c,
        &mut y,
        16.0,
        &format!("Shipment {}", facts.shipment_id),
    );
    let origin = match (facts.need_id, facts.offer_id) {
        (n, _) if n != 0 => format!("need {n}"),
        (_, o) if o != 0 => format!("offer {o}"),
        _ => String::new(),
    };
    line(
        &mut c,
        &mut y,
        9.0,
        &format!("Disaster {}  {}", facts.disaster_id, origin),
    );
    y -= 4.0;
    line(
        &mut c,
        &mut y,
        12.0,
        &format!("{} x {}", facts.quantity, facts.unit),
    );
    wrapped(&mut c, &mut y, 12.0, &facts.item_name, 2);
    line(&mut c, &mut y, 8.0, &format!("item {}", facts.item_id));
    y -= 4.0;
    line(&mut c, &mut y, 9.0, "To / 送り先");
    wrapped(&mut c, &mut y, 12.0, &facts.shelter_name, 2);
    wrapped(&mut c, &mut y, 9.0, &facts.shelter_area, 1);
    line(
        &mut c,
        &mut y,
        8.0,
        &format!("shelter {}", facts.shelter_id),
    );
    y -= 4.0;
    line(
        &mut c,
        &mut y,
        8.0,
        "Scan on arrival / 到着時にコードを読み取ってください",
    );
    let content = c.finish();
    doc.stream(content_id, &content);
    Ok(doc.finish())
}

/// One filled square per dark module, the quiet zone left white.
fn draw_qr(c: &mut Content, code: &QrCode, x0: f32, y0: f32) {
    let width = code.width();
    #[allow(clippy::cast_precision_loss)]
    let module = QR_SIDE / (width + 2 * QUIET) as f32;
    c.set_fill_gray(0.0);
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (mx, my) = (i % width + QUIET, i / width + QUIET);
        #[allow(clippy::cast_precision_loss)]
        let (x, y) = (
            x0 + mx as f32 * module,
            // PDF's y axis points up; the code's rows go down.
            y0 + QR_SIDE - (my + 1) as f32 * module,
        );
        c.rect(x, y, module, module);
    }
    c.fill_nonzero();
}

/// Write one line at the left margin and move `y` below it. Text that is all printable ASCII
/// uses Helvetica; anything else the Japanese font, as UTF-16.
fn line(c: &mut Content, y: &mut f32, size: f32, text: &str) {
    *y -= size * 1.25;
    c.begin_text();
    if text.chars().all(|ch| (' '..='~').contains(&ch)) {
        c.set_font(F_LATIN, size);
        c.next_line(MARGIN, *y);
        c.show(Str(text.as_bytes()));
    } else {
        let utf16: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        c.set_font(F_JAPANESE, size);
        c.next_line(MARGIN, *y);
        c.show(Str(&utf16));
    }
    c.end_text();
}

/// Write `text` over at most `max_lines` lines that fit the page width (a Japanese character
/// counts one em, any other half an em); what does not fit ends in "…".
fn wrapped(c: &mut Content, y: &mut f32, size: f32, text: &str, max_lines: usize) {
    let room = (A6.0 - 2.0 * MARGIN) / size;
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut used = 0.0;
    for ch in text.chars() {
        let w = if ch.is_ascii() { 0.5 } else { 1.0 };
        if used + w > room {
            lines.push(std::mem::take(&mut cur));
            used = 0.0;
        }
        cur.push(ch);
        used += w;
    }
    if !cur.is_empty() || lines.is_empty() {
        lines.push(cur);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            last.pop();
            last.push('…');
        }
    }
    for l in &lines {
        line(c, y, size, l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn facts() -> LabelFacts {
        LabelFacts {
            shipment_id: 42,
            disaster_id: "noto-2024".into(),
            item_id: "water-2l".into(),
            item_name: "飲料水 2L ペットボトル".into(),
            unit: "case of 6".into(),
            quantity: 30,
            shelter_id: "wajima-sho".into(),
            shelter_name: "輪島市立小学校 体育館".into(),
            shelter_area: "Wajima".into(),
            need_id: 7,
            offer_id: 0,
        }
    }

    fn content_of(pdf: &[u8]) -> String {
        let text = String::from_utf8_lossy(pdf);
        let start = text.find("stream\n").expect("a content stream") + 7;
        let end = text[start..].find("endstream").expect("its end") + start;
        text[start..end].to_string()
    }

    /// Read the QR's squares back from the page and compare them with the code the token makes:
    /// the printed label scans to exactly the token.
    #[test]
    fn the_page_is_a6_and_its_squares_are_the_tokens_qr_code() {
        let token = "YUI1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGH";
        let pdf = pdf(token, &facts()).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-"));
        assert!(text.contains("/MediaBox [0 0 297.64 419.53]"), "{text}");
        assert!(text.trim_end().ends_with("%%EOF"));
        let content = content_of(&pdf);
        let code = QrCode::with_error_correction_level(token.as_bytes(), EcLevel::M).unwrap();
        let width = code.width();
        let module = QR_SIDE / (width + 2 * QUIET) as f32;
        let (x0, y0) = ((A6.0 - QR_SIDE) / 2.0, A6.1 - MARGIN - QR_SIDE);
        let mut drawn = BTreeSet::new();
        for l in content.lines().filter(|l| l.ends_with(" re")) {
            let v: Vec<f32> = l.split(' ').take(4).map(|n| n.parse().unwrap()).collect();
            let mx = ((v[0] - x0) / module).round() as usize - QUIET;
            let my_from_bottom = ((v[1] - y0) / module).round() as usize;
            let my = width + 2 * QUIET - 1 - my_from_bottom - QUIET;
            assert!((v[2] - module).abs() < 0.01);
            drawn.insert((mx, my));
        }
        let expected: BTreeSet<(usize, usize)> = code
            .to_colors()
            .iter()
            .enumerate()
            .filter(|(_, c)| **c == Color::Dark)
            .map(|(i, _)| (i % width, i / width))
            .collect();
        assert_eq!(drawn, expected);
    }

    #[test]
    fn the_label_says_what_and_where_in_latin_and_japanese() {
        let token = "YUI1-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGH";
        let content = content_of(&pdf(token, &facts()).unwrap());
        for latin in [
            "(Shipment 42)",
            "(30 x case of 6)",
            "(item water-2l)",
            "(shelter wajima-sho)",
            &format!("({token})"),
        ] {
            assert!(content.contains(latin), "{latin} missing from\n{content}");
        }
        // The Japanese name is written as UTF-16 in the Japanese font.
        assert!(
            content.contains(&utf16_hex("輪島市立小学校 体育館")),
            "{content}"
        );
        assert!(content.contains("/F2 12 Tf"));
    }

    /// How a text shown in the Japanese font appears in the content stream.
    fn utf16_hex(text: &str) -> String {
        let hex: String = text.encode_utf16().map(|u| format!("{u:04X}")).collect();
        format!("<{hex}>")
    }

    #[test]
    fn long_names_are_cut_to_their_lines() {
        let mut f = facts();
        f.shelter_name = "避".repeat(200);
        let content = content_of(&pdf("YUI1-X", &f).unwrap()).to_uppercase();
        let shown: Vec<&str> = content.lines().filter(|l| l.contains("907F")).collect();
        // Two lines, the second ending in "…" (U+2026); not all 200 characters.
        assert_eq!(shown.len(), 2, "{content}");
        assert!(shown[1].contains("2026>"), "{}", shown[1]);
        assert!(content.matches("907F").count() < 60);
    }
}
