import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("wk_postmark_systray_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "The systray shows unread Postmark events",
            trigger: ".o-wk-PostmarkSystray-toggle .o-wk-PostmarkSystray-counter:contains(2)",
        },
        {
            content: "Open the Postmark menu",
            trigger: ".o-wk-PostmarkSystray-toggle",
            run: "click",
        },
        {
            content: "The bounce is listed",
            trigger: ".o-wk-PostmarkSystray-item.o-unread:contains(tour-bounce@example.com)",
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
            content: "The counter is gone",
            trigger: ".o-wk-PostmarkSystray-toggle:not(:has(.o-wk-PostmarkSystray-counter))",
        },
        {
            content: "Open an event from the menu",
            trigger: ".o-wk-PostmarkSystray-item:contains(tour-bounce@example.com)",
            run: "click",
        },
        {
            content: "Its form opens",
            trigger: ".o_form_view .o_field_widget[name=recipient]:contains(tour-bounce@example.com)",
        },
    ],
});
