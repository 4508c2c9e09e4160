import { Component, onWillStart, onWillUnmount, useState } from "@odoo/owl";

import { useDiscussSystray } from "@mail/utils/common/hooks";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { useDropdownState } from "@web/core/dropdown/dropdown_hooks";
import { deserializeDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

const MODEL = "postmark.notification";
const BUS_NOTIFICATION = "wk_postmark_notification/updated";

/** Icon and colour of each event state. */
const STATE_ICONS = {
    delivered: "fa-check text-success",
    opened: "fa-eye text-info",
    clicked: "fa-mouse-pointer text-info",
    bounced: "fa-exclamation-circle text-danger",
    soft_bounced: "fa-hourglass-half text-warning",
    deferred: "fa-clock-o text-warning",
    spam_complaint: "fa-ban text-danger",
    unsubscribed: "fa-user-times text-warning",
    subscribed: "fa-user-plus text-success",
    auto_replied: "fa-reply text-muted",
    rejected: "fa-times-circle text-danger",
    smtp_api_error: "fa-plug text-danger",
    failed: "fa-times text-danger",
    unknown: "fa-question-circle text-muted",
};

/**
 * Systray menu with what Postmark reported about the emails the current
 * user sent: unread count, latest events, mark read, open.
 */
export class PostmarkSystray extends Component {
    static components = { Dropdown };
    static props = [];
    static template = "wk_postmark_notification.PostmarkSystray";

    setup() {
        this.discussSystray = useDiscussSystray();
        this.orm = useService("orm");
        this.action = useService("action");
        this.bus = useService("bus_service");
        this.dropdown = useDropdownState();
        this.state = useState({ unread: 0, items: [], loaded: false });
        this.onBusUpdate = () => this.load();
        this.bus.subscribe(BUS_NOTIFICATION, this.onBusUpdate);
        onWillStart(() => this.load());
        onWillUnmount(() => this.bus.unsubscribe(BUS_NOTIFICATION, this.onBusUpdate));
    }

    async load() {
        const data = await this.orm.silent.call(MODEL, "get_systray_data", [], { limit: 10 });
        Object.assign(this.state, data, { loaded: true });
    }

    iconClass(item) {
        return STATE_ICONS[item.state] || STATE_ICONS.unknown;
    }

    timeAgo(item) {
        return item.event_date ? deserializeDateTime(item.event_date).toRelative() : "";
    }

    get title() {
        return _t("Email delivery notifications");
    }

    async onClickItem(item) {
        this.dropdown.close();
        const action = await this.orm.call(MODEL, "action_open", [[item.id]]);
        await this.action.doAction(action);
    }

    async onClickMarkRead(item) {
        await this.orm.call(MODEL, "action_mark_read", [[item.id]]);
        await this.load();
    }

    async onClickMarkAllRead() {
        await this.orm.call(MODEL, "action_mark_all_read", []);
        await this.load();
    }

    onClickViewAll() {
        this.dropdown.close();
        this.action.doAction("wk_postmark_notification.action_postmark_notification_my", {
            clearBreadcrumbs: true,
        });
    }
}

registry
    .category("systray")
    .add("wk_postmark_notification.postmark_systray", { Component: PostmarkSystray }, { sequence: 22 });
