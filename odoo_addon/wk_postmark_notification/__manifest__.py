{
    "name": "Postmark Delivery Notifications",
    "summary": "See what Postmark did with the emails you sent: deliveries, "
    "bounces, spam complaints, opens and clicks",
    "version": "18.0.1.0.0",
    "category": "Productivity/Discuss",
    "license": "LGPL-3",
    "author": "wk",
    "depends": ["mail"],
    "data": [
        "security/security.xml",
        "security/ir.model.access.csv",
        "views/postmark_notification_views.xml",
        "views/ir_mail_server_views.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "wk_postmark_notification/static/src/**/*",
        ],
        "web.assets_tests": [
            "wk_postmark_notification/static/tests/tours/**/*",
        ],
    },
    "uninstall_hook": "uninstall_hook",
    "installable": True,
    "application": False,
}
