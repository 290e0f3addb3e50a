/** @odoo-module **/
/**
 * A warehouse user (sales and stock rights, no marketplace management) finds
 * the marketplace orders that need attention among the sales orders, opens
 * one and reads why it needs attention.
 * Data: marketplace_connector/tests/test_tours.py.
 */
import { registry } from "@web/core/registry";
import { screenshotSteps } from "@marketplace_connector/../tests/tours/screenshot";

registry.category("web_tour.tours").add("marketplace_order_attention", {
    steps: () => [
        {
            content: "both marketplace orders are listed before filtering",
            trigger: ".o_list_view .o_data_cell[name=marketplace_external_name]:contains('#TOUR-SYNCED')",
        },
        {
            content: "open the search options",
            trigger: ".o_control_panel_actions .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "filter on the orders that need attention",
            trigger: ".o_filter_menu .dropdown-item:contains('Marketplace: needs attention')",
            run: "click",
        },
        {
            content: "close the search options",
            trigger: ".o_control_panel_actions .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "the synchronised order is filtered out",
            trigger: ".o_list_view:not(:has(.o_data_cell:contains('#TOUR-SYNCED')))",
        },
        {
            content: "the oversold order is listed as needing attention",
            trigger:
                ".o_data_row:has(.o_data_cell[name=marketplace_external_name]:contains('#TOUR-OVERSOLD')) " +
                ".o_data_cell[name=marketplace_sync_state]:contains('Needs attention')",
        },
        {
            content: "open the oversold order",
            trigger: ".o_data_cell[name=marketplace_external_name]:contains('#TOUR-OVERSOLD')",
            run: "click",
        },
        {
            content: "the order says why it needs attention, above its sheet",
            trigger:
                ".o_form_view .alert-warning:contains('Marketplace:') " +
                ".o_field_widget[name=marketplace_last_error]:contains('Oversold: WIDGET short by 10')",
        },
        {
            content: "open the Other Info tab",
            trigger: ".o_notebook .nav-link:contains('Other Info')",
            run: "click",
        },
        {
            content: "the marketplace, its order number and the sync state are shown",
            trigger: ".o_notebook .o_field_widget[name=marketplace_sync_state]:contains('Needs attention')",
        },
        {
            trigger: ".o_notebook .o_field_widget[name=marketplace_backend_id]:contains('Test channel')",
        },
        {
            trigger: ".o_field_widget[name=marketplace_external_name]:contains('#TOUR-OVERSOLD')",
        },
        {
            trigger: ".o_field_widget[name=marketplace_oversold] input:checked",
        },
        ...screenshotSteps("sale_order_sync_state"),
    ],
});
