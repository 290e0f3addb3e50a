/** @odoo-module **/
/**
 * A marketplace manager reads the Overview of a backend that has just been
 * set up: what has not happened yet says "never", not an empty value.
 * Data: marketplace_connector/tests/test_tours.py.
 */
import { registry } from "@web/core/registry";

const card = ".o_kanban_record:contains('Test channel')";

registry.category("web_tour.tours").add("marketplace_overview", {
    steps: () => [
        {
            content: "the backend's card is on the overview",
            trigger: `${card} .badge`,
        },
        {
            content: "no push yet: never, and no waiting change shown",
            trigger: `${card} tr:contains('Last push') td:last-child:contains('never')`,
            run: () => {
                const row = [...document.querySelectorAll(`.o_kanban_record tr`)].find((tr) =>
                    tr.textContent.includes("Last push")
                );
                if (row.textContent.includes("oldest change waiting")) {
                    throw new Error("an empty push lag is shown as a waiting change");
                }
            },
        },
        {
            content: "no reconciliation yet: never",
            trigger: `${card} tr:contains('Last reconciliation') td:last-child:contains('never')`,
        },
    ],
});
