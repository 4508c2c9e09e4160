import { rpc } from "@web/core/network/rpc";
import { registry } from "@web/core/registry";

const MODEL = "postmark.notification";

/** Mark the user's events unread again, straight on the server: only the bus tells the systray. */
async function markAllUnreadOnServer() {
    const call = (method, args) =>
        rpc(`/web/dataset/call_kw/${MODEL}/${method}`, { model: MODEL, method, args, kwargs: {} });
    const ids = await call("search", [[]]);
    await call("write", [ids, { is_read: false }]);
}

registry.category("web_tour.tours").add("wk_postmark_systray_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "The systray counts the unread Postmark events",
            trigger: ".o-wk-PostmarkSystray-toggle .o-wk-PostmarkSystray-counter:contains(2)",
        },
        {
            content: "Open the Postmark menu",
            trigger: ".o-wk-PostmarkSystray-toggle",
            run: "click",
        },
        {
            content: "Mark the bounce read",
            trigger:
                ".o-wk-PostmarkSystray-item.o-unread:contains(tour-bounce@example.com):contains(Bounced) .o-wk-PostmarkSystray-markRead",
            run: "click",
        },
        {
            content: "One unread event is left",
            trigger: ".o-wk-PostmarkSystray-counter:contains(1)",
        },
        {
            content: "Mark everything read",
            trigger: ".o-wk-PostmarkSystray-markAll",
            run: "click",
        },
        {
            content: "Nothing unread is left",
            trigger: ".o-wk-PostmarkSystray:not(:has(.o-unread))",
        },
        {
            content: "The counter is gone; now the server changes the events behind the menu's back",
            trigger: ".o-wk-PostmarkSystray-toggle:not(:has(.o-wk-PostmarkSystray-counter))",
            run: markAllUnreadOnServer,
        },
        {
            content: "The bus brings the change in without a reload",
            trigger: ".o-wk-PostmarkSystray-toggle .o-wk-PostmarkSystray-counter:contains(2)",
        },
        {
            content: "Open the bounce from the menu",
            trigger: ".o-wk-PostmarkSystray-item.o-unread:contains(Bounced)",
            run: "click",
        },
        {
            content: "Its form opens",
            trigger: ".o_form_view .o_field_widget[name=recipient]:contains(tour-bounce@example.com)",
        },
        {
            content: "Opening it marked it read",
            trigger: ".o-wk-PostmarkSystray-toggle .o-wk-PostmarkSystray-counter:contains(1)",
        },
    ],
});
