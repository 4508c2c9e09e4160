def uninstall_hook(env):
    """Drop the system parameters the addon and the bridge set."""
    env["ir.config_parameter"].sudo().search(
        [("key", "=like", "wk\\_postmark\\_notification.%")]
    ).unlink()
