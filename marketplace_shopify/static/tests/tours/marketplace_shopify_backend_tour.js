/** @odoo-module **/
/**
 * An administrator connects a Shopify store from scratch: the marketplace
 * type, the shop and its credentials, the warehouse, Test connection (against
 * the simulator), the webhook URL to register, the shop's location mapped to
 * a stock location. The test (marketplace_shopify/tests/test_tours.py) passes
 * what only it knows (the simulator's address, its location id) in a cookie.
 */
import { registry } from "@web/core/registry";
import { screenshotSteps } from "@marketplace_connector/../tests/tours/screenshot";

function given(key) {
    const cookie = document.cookie
        .split("; ")
        .find((c) => c.startsWith("marketplace_tour="));
    return JSON.parse(decodeURIComponent(cookie.split("=")[1]))[key];
}

function pick(field, text, scope = ".o_form_view") {
    return [
        {
            content: `type ${text} in ${field}`,
            trigger: `${scope} .o_field_widget[name=${field}] input`,
            run: `edit ${text}`,
        },
        {
            trigger: `.o-autocomplete--dropdown-menu .dropdown-item:contains('${text}')`,
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("marketplace_shopify_backend_setup", {
    steps: () => [
        {
            content: "create a backend",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: "edit Acme Shopify store",
        },
        {
            content: "no Shopify field before the type is chosen",
            trigger: ".o_form_view:not(:has(.o_field_widget[name=shop_domain]))",
        },
        {
            content: "choose Shopify",
            trigger: ".o_form_view .o_field_widget[name=marketplace_type] select",
            run: 'select "shopify"',
        },
        {
            content: "the shop's fields appear",
            trigger: ".o_form_view .o_field_widget[name=shop_domain] input",
            run: "edit acme-test.myshopify.com",
        },
        {
            content: "the API version is proposed",
            trigger: ".o_form_view .o_field_widget[name=api_version] input:value(2026-10)",
        },
        {
            content: "point the API at the store (the simulator)",
            trigger: ".o_form_view .o_field_widget[name=api_url] input",
            run: (helpers) => helpers.edit(given("api_url")),
        },
        {
            trigger: ".o_form_view .o_field_widget[name=access_token] input[type=password]",
            run: (helpers) => helpers.edit(given("access_token")),
        },
        {
            trigger: ".o_form_view .o_field_widget[name=webhook_secret] input[type=password]",
            run: (helpers) => helpers.edit(given("webhook_secret")),
        },
        {
            content: "open the Orders tab",
            trigger: ".o_form_view .o_notebook .nav-link:contains('Orders')",
            run: "click",
        },
        ...pick("warehouse_id", "Acme Warehouse"),
        {
            content: "paid and authorised orders import by default, pending ones do not",
            trigger:
                ".o_field_widget[name=import_financial_state_ids] .form-check:has(label:contains('Authorized')) input:checked",
        },
        {
            trigger:
                ".o_field_widget[name=import_financial_state_ids] .form-check:has(label:contains('Partially paid')) input:checked",
        },
        {
            trigger:
                ".o_field_widget[name=import_financial_state_ids] .form-check:has(label:contains('Pending')) input:not(:checked)",
        },
        {
            content: "open the Stock tab",
            trigger: ".o_form_view .o_notebook .nav-link:contains('Stock')",
            run: "click",
        },
        {
            content: "map the shop's location",
            trigger: ".o_field_widget[name=channel_location_ids] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=channel_location_ids] .o_data_row .o_field_widget[name=name] input",
            run: "edit Shop location",
        },
        {
            trigger: ".o_field_widget[name=channel_location_ids] .o_data_row .o_field_widget[name=external_id] input",
            run: (helpers) => helpers.edit(given("location_id")),
        },
        ...pick("location_id", "WH/Stock", ".o_field_widget[name=channel_location_ids] .o_data_row"),
        {
            content: "test the connection (the form is saved first)",
            trigger: ".o_form_view .o_statusbar_buttons button[name=action_test_connection]",
            run: "click",
        },
        {
            content: "the shop answered",
            trigger: ".o_notification:contains('Connection OK'):contains('acme-test.myshopify.com')",
        },
        {
            trigger: ".o_notification .o_notification_close",
            run: "click",
        },
        {
            content: "saved: the mapped location is listed",
            trigger:
                ".o_form_saved .o_field_widget[name=channel_location_ids] .o_data_row:contains('Shop location'):contains('WH/Stock')",
        },
        {
            content: "open the Connection tab",
            trigger: ".o_form_view .o_notebook .nav-link:contains('Connection')",
            run: "click",
        },
        {
            content: "the webhook URL to register with Shopify is shown",
            trigger: ".o_form_view .o_field_widget[name=webhook_url]:contains('/marketplace/webhook/')",
        },
        ...screenshotSteps("backend_form"),
    ],
});
