/** @odoo-module **/
/**
 * A marketplace manager finds a failed inbound event, reads why it failed and,
 * the cause fixed, retries it: the event is queued again and its error gone.
 * Data: marketplace_connector/tests/test_tours.py.
 */
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("marketplace_event_retry", {
    steps: () => [
        {
            content: "open the search options",
            trigger: ".o_control_panel_actions .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "filter on failed or dead events",
            trigger: ".o_filter_menu .dropdown-item:contains('Failed or dead')",
            run: "click",
        },
        {
            content: "close the search options",
            trigger: ".o_control_panel_actions .o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "the processed order's event is filtered out",
            trigger: ".o_list_view:not(:has(.o_data_cell:contains('TOUR-SYNCED')))",
        },
        {
            content: "the failed event is listed with its state and reason",
            trigger:
                ".o_data_row:has(.o_data_cell[name=external_id]:contains('TOUR-UNKNOWN')) " +
                ".o_data_cell[name=state]:contains('Failed')",
        },
        {
            trigger:
                ".o_data_row:has(.o_data_cell[name=external_id]:contains('TOUR-UNKNOWN')) " +
                ".o_data_cell[name=last_error]:contains('LAMP-XL')",
        },
        {
            content: "open the failed event",
            trigger: ".o_data_cell[name=external_id]:contains('TOUR-UNKNOWN')",
            run: "click",
        },
        {
            content: "the event says why it failed",
            trigger: ".o_form_view .alert-danger .o_field_widget[name=last_error]:contains('LAMP-XL')",
        },
        {
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Failed')",
        },
        {
            content: "the payload is readable by a manager, as indented JSON",
            trigger: ".o_notebook .nav-link:contains('Payload')",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=payload_text]:contains('\"sku\": \"LAMP-XL\"')",
        },
        {
            content: "retry the event",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_retry]",
            run: "click",
        },
        {
            content: "the event is queued again, its error cleared and Retry gone",
            trigger: ".o_statusbar_status .o_arrow_button_current:contains('Queued')",
        },
        {
            trigger:
                ".o_form_view:not(:has(.alert-danger)):not(:has(.o_statusbar_buttons button[name=action_retry]))",
        },
    ],
});
