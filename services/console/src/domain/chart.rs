//! Chart geometry, in SVG user units: bar heights scaled to the largest
//! value, and the colour class of a tile. The web layer draws them.

/// Colour classes of the tile map, lightest to darkest.
pub const CLASSES: usize = 5;

/// The colour class (0 to `CLASSES - 1`) of `value` among values up to
/// `max`: 0 for nothing, then equal steps up to the largest.
pub fn class_of(value: f64, max: f64) -> usize {
    if value <= 0.0 || max <= 0.0 {
        return 0;
    }
    let step = (value / max * (CLASSES - 1) as f64).ceil() as usize;
    step.clamp(1, CLASSES - 1)
}

/// Heights of bars for `values` in a chart `height` units tall.
pub fn bar_heights(values: &[f64], height: f64) -> Vec<f64> {
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    values
        .iter()
        .map(|v| if max <= 0.0 { 0.0 } else { (v.max(0.0) / max) * height })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_rise_with_the_value() {
        assert_eq!(class_of(0.0, 100.0), 0);
        assert_eq!(class_of(1.0, 100.0), 1);
        assert_eq!(class_of(50.0, 100.0), 2);
        assert_eq!(class_of(100.0, 100.0), 4);
        assert_eq!(class_of(5.0, 0.0), 0);
    }

    #[test]
    fn the_largest_bar_fills_the_chart() {
        assert_eq!(bar_heights(&[34_224.0, 19_837.0, 0.0], 100.0)[0], 100.0);
        assert!((bar_heights(&[34_224.0, 19_837.0], 100.0)[1] - 57.96).abs() < 0.01);
        assert_eq!(bar_heights(&[0.0, 0.0], 100.0), vec![0.0, 0.0]);
    }
}
