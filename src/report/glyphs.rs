//! Text for bitmap plots. plotters' ab_glyph renderer places each glyph at the pen
//! position without the glyph's left side bearing, so narrow letters drift ("vali d
//! loss"). [`TextFix`] wraps a backend and draws text itself: each glyph's outline
//! at pen + its bounds, the pen advanced by the advance width and kerning (the same
//! measure plotters uses for layout, so every label keeps its place).

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::prelude::DrawingBackend;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// A backend whose text is drawn glyph by glyph from `font`.
pub struct TextFix<B> {
    pub inner: B,
    pub font: FontRef<'static>,
}

impl<B: DrawingBackend> DrawingBackend for TextFix<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }
    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }
    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        // Placement exactly as plotters' default: the layout box, the anchor, the
        // rotation; only the glyphs' own drawing differs.
        let ((min_x, min_y), (max_x, max_y)) = style
            .layout_box(text)
            .map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let size = style.size() as f32;
        let font = self.font.as_scaled(size);
        let mut pen = 0f32;
        let mut prev = None;
        let mut pixels: Vec<(i32, i32, f32)> = Vec::new();
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                pen += font.kern(p, id);
            }
            prev = Some(id);
            if let Some(outline) = font.outline_glyph(id.with_scale(size)) {
                let b = outline.px_bounds();
                // plotters puts the glyph's top at size/2 + its top bound.
                let gx = pen + b.min.x;
                let gy = size / 2.0 + b.min.y;
                outline.draw(|x, y, a| {
                    pixels.push(((gx + x as f32) as i32, (gy + y as f32) as i32, a));
                });
            }
            pen += font.h_advance(id);
        }
        for (x, y, a) in pixels {
            let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let mixed = BackendColor {
                    alpha: color.alpha * f64::from(a),
                    rgb: color.rgb,
                };
                self.inner.draw_pixel((x, y), mixed)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::prelude::*;
    use plotters::style::{register_font, FontStyle};

    const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

    /// The first column with ink of each run of inked columns.
    fn ink_starts(rgb: &[u8], w: usize) -> Vec<usize> {
        let h = rgb.len() / 3 / w;
        let inked = |x: usize| (0..h).any(|y| rgb[(y * w + x) * 3] < 250);
        let mut starts = Vec::new();
        let mut prev = false;
        for x in 0..w {
            let now = inked(x);
            if now && !prev {
                starts.push(x);
            }
            prev = now;
        }
        starts
    }

    #[test]
    fn glyphs_stand_at_pen_plus_their_bearing() {
        let font = FontRef::try_from_slice(FONT).unwrap();
        register_font("sans-serif", FontStyle::Normal, FONT)
            .ok()
            .unwrap();
        let (w, h) = (240usize, 140usize);
        let mut rgb = vec![255u8; w * h * 3];
        {
            let backend = TextFix {
                inner: BitMapBackend::with_buffer(&mut rgb, (w as u32, h as u32)),
                font: font.clone(),
            };
            let root = backend.into_drawing_area();
            root.draw_text(
                "vl",
                &("sans-serif", 100).into_font().color(&BLACK),
                (10, 10),
            )
            .unwrap();
            root.present().unwrap();
        }
        let starts = ink_starts(&rgb, w);
        assert_eq!(starts.len(), 2, "{starts:?}");
        let f = font.as_scaled(100.0);
        let (v, l) = (f.glyph_id('v'), f.glyph_id('l'));
        let bound = |id: ab_glyph::GlyphId| {
            f.outline_glyph(id.with_scale(100.0))
                .unwrap()
                .px_bounds()
                .min
                .x
        };
        let want = f.h_advance(v) + f.kern(v, l) + bound(l) - bound(v);
        let got = (starts[1] - starts[0]) as f32;
        assert!(
            (got - want).abs() <= 1.5,
            "ink 'l' - 'v' = {got}, want {want}"
        );
        // plotters' own placement (no bearings) would be off by this much.
        assert!((bound(l) - bound(v)).abs() >= 2.0);
    }
}
