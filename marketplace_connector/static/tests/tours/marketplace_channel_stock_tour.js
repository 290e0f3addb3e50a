/** @odoo-module **/
/**
 * A stock manager reads what each channel is offered of one product (Channel
 * Stock), then why (the Stock Ledger's entries for that product).
 * Data: marketplace_connector/tests/test_tours.py.
 */
import { registry } from "@web/core/registry";
import { screenshotSteps } from "@marketplace_connector/../tests/tours/screenshot";

/** Open a menu of the app, under the navbar's "More" when it overflows. */
function openMenu(name) {
    const entry = `.o_main_navbar .o_menu_sections a:contains('${name}'), .o-dropdown--menu .dropdown-item:contains('${name}')`;
    return [
        {
            content: `find the menu ${name}`,
            trigger: ".o_main_navbar .o_menu_sections",
            run: async () => {
                // the navbar moves what does not fit under "More" once drawn
                for (let tries = 0; tries < 50; tries++) {
                    const shown = [...document.querySelectorAll(".o_menu_sections a")].some(
                        (el) => el.offsetParent && el.textContent.trim() === name
                    );
                    const more = document.querySelector(".o_menu_sections_more button");
                    if (more && !shown) {
                        more.click();
                        return;
                    }
                    if (shown) {
                        return;
                    }
                    await new Promise((resolve) => setTimeout(resolve, 100));
                }
            },
        },
        {
            content: `open the menu ${name}`,
            trigger: entry,
            run: "click",
        },
        {
            trigger: `.o_breadcrumb:contains('${name}')`,
        },
    ];
}

function searchProduct(name) {
    return [
        {
            content: `search the product ${name}`,
            trigger: ".o_searchview_input",
            run: `edit ${name}`,
        },
        {
            trigger: ".o_searchview_autocomplete .o_menu_item:contains('Product')",
            run: "click",
        },
        {
            trigger: `.o_searchview_facet:contains('${name}')`,
        },
    ];
}

registry.category("web_tour.tours").add("marketplace_channel_stock", {
    steps: () => [
        {
            content: "open the Marketplaces app",
            trigger: ".o_navbar_apps_menu button",
            run: "click",
        },
        {
            trigger: ".o_app[data-menu-xmlid='marketplace_connector.menu_marketplace_root']",
            run: "click",
        },
        ...openMenu("Channel Stock"),
        ...searchProduct("Widget"),
        {
            content: "only the product searched is listed",
            trigger: ".o_list_view:not(:has(.o_data_cell[name=product_id]:contains('Gadget')))",
        },
        {
            content: "the channel is offered the free stock, confirmed by the channel",
            trigger:
                ".o_data_row:has(.o_data_cell[name=product_id]:contains('Widget')) " +
                ".o_data_cell[name=ats_quantity]:contains('26')",
        },
        {
            trigger:
                ".o_data_row:has(.o_data_cell[name=product_id]:contains('Widget')) " +
                ".o_data_cell[name=last_pushed_quantity]:contains('26')",
        },
        {
            trigger:
                ".o_data_row:has(.o_data_cell[name=product_id]:contains('Widget')) " +
                ".o_data_cell[name=channel_location_id]:contains('Main')",
        },
        {
            trigger:
                ".o_data_row:has(.o_data_cell[name=product_id]:contains('Widget')) " +
                ".o_data_cell[name=state]:contains('In sync')",
        },
        ...screenshotSteps("channel_stock"),
        ...openMenu("Stock Ledger"),
        ...searchProduct("Widget"),
        {
            content: "the sale that took the units is on the ledger",
            trigger:
                ".o_data_row:has(.o_data_cell[name=kind]:contains('Sale')) " +
                ".o_data_cell[name=quantity]:contains('4')",
        },
        {
            trigger:
                ".o_data_row:has(.o_data_cell[name=kind]:contains('Sale')) " +
                ".o_data_cell[name=free_before]:contains('30')",
        },
        {
            trigger: ".o_list_view:not(:has(.o_data_cell[name=product_id]:contains('Gadget')))",
        },
    ],
});
