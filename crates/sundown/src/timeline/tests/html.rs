//! Tests of the HTML page, read back with an XML parser: the embedded
//! picture and the tables.

use super::*;

#[test]
fn html_embeds_the_svg_and_tables() {
    let r = fixture();
    let html = render_html(&r);
    assert!(html.starts_with("<!DOCTYPE html>"));
    let doc = parse_html(&html);
    assert!(doc.descendants().any(|n| n.has_tag_name("svg")));
    let table = doc
        .descendants()
        .find(|n| n.has_tag_name("table") && class_is(n, "components"))
        .expect("components table");
    let rows: Vec<Vec<String>> = table
        .children()
        .filter(|n| n.has_tag_name("tr"))
        .map(|tr| {
            tr.children()
                .filter(|n| n.is_element())
                .map(|td| {
                    td.descendants()
                        .filter(|t| t.is_text())
                        .filter_map(|t| t.text())
                        .collect()
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), 1 + r.components.len());
    assert_eq!(
        rows[0],
        [
            "name",
            "kind",
            "phase",
            "depends on",
            "outcome",
            "started",
            "ready",
            "asked to stop",
            "down",
            "stop_ms",
            "killed_by",
            "exit",
            "restarts"
        ]
    );
    let row = |name: &str| rows.iter().find(|r| r[0] == name).expect(name);
    assert_eq!(row(WEB)[3], "workers, cache");
    let w = row("workers");
    assert_eq!(
        [&w[1], &w[2], &w[4], &w[9], &w[10], &w[11]],
        [
            "sim",
            "phase 2",
            "timed_out_killed",
            "2020",
            "phase_timeout at 3900 ms",
            "signal SIGKILL"
        ]
    );
    assert_eq!(row("postgres")[11], "status 0");
    assert_eq!(row("metrics")[4], "never_started");
    let flagged: Vec<String> = table
        .children()
        .filter(|n| class_is(n, "flagged"))
        .filter_map(|tr| tr.descendants().find_map(|n| n.text()).map(String::from))
        .collect();
    assert_eq!(flagged, ["workers", "cache"]);
    assert!(
        doc.descendants()
            .any(|n| n.has_tag_name("table") && class_is(&n, "phases"))
    );
    assert!(html.contains("web&lt;&amp;&gt;&quot;x&apos;"));
}
