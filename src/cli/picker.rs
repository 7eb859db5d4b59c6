//! The guided picker's table: one row per cluster, columns sized to their longest value and
//! fitted to the terminal's width (a long value is cut with `…`, never wrapped), the hub and
//! registered clusters marked; what typing filters on (name, region, account, tags).

use crate::core::model::EksCluster;
use crate::ports::PickList;

/// What the picker puts before each row: cursor, checkbox and spaces (`> [ ] `).
pub(crate) const ROW_PREFIX: usize = 6;

/// How a cluster stands to this hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    None,
    Hub,
    Registered,
    /// DescribeCluster says it no longer exists: it cannot be picked.
    Gone,
}

impl Mark {
    fn text(self) -> &'static str {
        match self {
            Mark::None => "",
            Mark::Hub => "(the hub)",
            Mark::Registered => "(registered)",
            Mark::Gone => "(no longer exists)",
        }
    }
}

const HEADINGS: [&str; 6] = ["NAME", "REGION", "ACCOUNT", "VERSION", "STATUS", ""];
/// Columns no narrower than this are cut no further (the name first, then the widest).
const MIN_WIDTH: usize = 6;

/// The rows of `clusters` for a terminal `width` columns wide.
pub(crate) fn cluster_table(clusters: &[(&EksCluster, Mark)], width: usize) -> PickList {
    let cells: Vec<[String; 6]> = clusters
        .iter()
        .map(|(c, mark)| {
            [
                c.arn.name.clone(),
                c.arn.region.clone(),
                c.arn.account.clone(),
                c.version.clone().unwrap_or_else(|| "-".into()),
                c.status.clone(),
                mark.text().to_owned(),
            ]
        })
        .collect();
    let widths = fit(&cells, width.saturating_sub(ROW_PREFIX + 1));
    let header = format!(
        "{}{}",
        " ".repeat(ROW_PREFIX),
        line(&HEADINGS.map(str::to_owned), &widths)
    );
    let rows = cells.iter().map(|row| line(row, &widths)).collect();
    let search = clusters
        .iter()
        .zip(&cells)
        .map(|((c, _), row)| {
            let tags: Vec<String> = c.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}", row.join(" "), tags.join(" "))
        })
        .collect();
    PickList {
        header: cut(&header, width.saturating_sub(1)),
        rows,
        search,
        picked: Vec::new(),
        locked: clusters
            .iter()
            .enumerate()
            .filter(|(_, (_, mark))| *mark == Mark::Gone)
            .map(|(i, _)| i)
            .collect(),
        note: String::new(),
    }
}

/// Column widths: each its longest value, then the widest cut down until the line fits `room`.
fn fit(cells: &[[String; 6]], room: usize) -> [usize; 6] {
    let mut widths = HEADINGS.map(str::len);
    for row in cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let total = |w: &[usize; 6]| w.iter().sum::<usize>() + w.len() - 1;
    while total(&widths) > room {
        // The name gives way first: it is the longest by far as a rule; then the widest.
        let (index, widest) = widths
            .iter()
            .enumerate()
            .max_by_key(|(i, w)| (**w, *i == 0))
            .map_or((0, 0), |(i, w)| (i, *w));
        if widest <= MIN_WIDTH {
            break;
        }
        widths[index] -= 1;
    }
    widths
}

fn line(row: &[String; 6], widths: &[usize; 6]) -> String {
    let cells: Vec<String> = row
        .iter()
        .zip(widths)
        .map(|(cell, width)| format!("{:<width$}", cut(cell, *width)))
        .collect();
    cells.join(" ").trim_end().to_owned()
}

/// `text` in at most `width` characters, cut with `…`.
pub(crate) fn cut(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let kept: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{kept}\u{2026}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::eks_cluster;

    #[test]
    fn columns_take_the_longest_value_and_marks_show() {
        let hub = eks_cluster("123456789012", "us-east-1", "argocd-hub");
        let long = eks_cluster("123456789012", "eu-west-1", "a-rather-long-cluster-name");
        let table = cluster_table(&[(&hub, Mark::Hub), (&long, Mark::Registered)], 160);
        assert_eq!(
            table.header,
            "      NAME                       REGION    ACCOUNT      VERSION STATUS"
        );
        assert_eq!(
            table.rows[0],
            "argocd-hub                 us-east-1 123456789012 1.35    ACTIVE (the hub)"
        );
        assert!(table.rows[1].ends_with("ACTIVE (registered)"), "{table:?}");
        assert!(table.search[1].contains("a-rather-long-cluster-name"));
    }

    #[test]
    fn at_80_columns_no_row_is_wider_than_the_terminal() {
        let name = "x".repeat(90);
        let long = eks_cluster("123456789012", "ap-southeast-3", &name);
        let short = eks_cluster("123456789012", "us-east-1", "prod");
        let table = cluster_table(&[(&long, Mark::Registered), (&short, Mark::None)], 80);
        for row in &table.rows {
            assert!(row.chars().count() + ROW_PREFIX < 80, "{row}");
        }
        assert!(table.header.chars().count() < 80, "{}", table.header);
        assert!(table.rows[0].starts_with("xxxx") && table.rows[0].contains('\u{2026}'));
        assert!(table.rows[0].ends_with("(registered)"), "{}", table.rows[0]);
        // What is cut from the row is still found by typing it.
        assert!(table.search[0].contains(&name));
    }

    #[test]
    fn tags_are_searched() {
        let mut cluster = eks_cluster("123456789012", "us-east-1", "prod");
        cluster.tags.insert("team".into(), "payments".into());
        let table = cluster_table(&[(&cluster, Mark::None)], 80);
        assert!(table.search[0].contains("team=payments"), "{table:?}");
        assert!(!table.rows[0].contains("payments"));
    }
}
