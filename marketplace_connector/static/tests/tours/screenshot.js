/** @odoo-module **/
/**
 * Steps that ask the test driving the browser for a screenshot of the page as
 * it is (marketplace_connector/tests/tour_common.py): the request is a console
 * log, the answer a class on the body. Without MARKETPLACE_SCREENSHOTS set the
 * test answers at once and writes nothing.
 */
export function screenshotSteps(name) {
    return [
        {
            content: `screenshot ${name}`,
            trigger: "body:not(:has(.o_notification_manager .o_notification))",
            run: () => console.log(`marketplace-screenshot:${name}`),
        },
        {
            content: `screenshot ${name} taken`,
            trigger: `body.o_marketplace_screenshot_${name}`,
        },
    ];
}
