import json

from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import file_path


@tagged("post_install", "-at_install")
class TestBridgeContract(TransactionCase):
    """bridge_contract.json is what postmark-bridge is built against."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        path = file_path("wk_postmark_notification/bridge_contract.json")
        with open(path, encoding="utf-8") as contract:
            cls.contract = json.load(contract)

    def assertFields(self, model, spec):
        for name, ftype in spec.items():
            with self.subTest(model=model._name, field=name):
                self.assertIn(name, model._fields, f"{model._name}.{name} is missing")
                self.assertEqual(
                    model._fields[name].type, ftype, f"{model._name}.{name}"
                )

    def assertSelection(self, field, expected):
        values = dict(field._description_selection(self.env))
        self.assertEqual(values, expected)

    def assertMethod(self, model, name):
        method = getattr(model, name, None)
        self.assertTrue(callable(method), f"{model._name}.{name} is missing")
        self.assertFalse(
            name.startswith("_"), "a private method cannot be called over RPC"
        )

    def test_notification_model(self):
        spec = self.contract["notification"]
        Events = self.env[spec["model"]]
        self.assertFields(Events, spec["fields_sent_by_bridge"])
        self.assertFields(Events, spec["fields_set_by_odoo"])
        self.assertSelection(Events._fields["state"], spec["states"])
        self.assertSelection(Events._fields["record_type"], spec["record_types"])
        self.assertMethod(Events, spec["ingest_method"])
        self.assertEqual(
            Events._fields["mail_server_id"].comodel_name, "ir.mail_server"
        )

    def test_mail_server_model(self):
        spec = self.contract["mail_server"]
        Servers = self.env[spec["model"]]
        self.assertFields(Servers, spec["fields_read_by_bridge"])
        self.assertFields(Servers, spec["fields_written_by_bridge"])
        self.assertSelection(
            Servers._fields["postmark_sync_state"], spec["sync_states"]
        )
        self.assertMethod(Servers, spec["report_method"])
        self.assertMethod(Servers, spec["hello_method"])

    def test_group_parameter_and_metadata_keys(self):
        self.assertTrue(self.env.ref(self.contract["bridge_group"]))
        from ..models import mail_mail, postmark_notification

        keys = self.contract["metadata_keys"]
        self.assertEqual(
            (keys["database"], keys["message"], keys["partner"]),
            (
                postmark_notification.METADATA_DATABASE,
                postmark_notification.METADATA_MESSAGE,
                postmark_notification.METADATA_PARTNER,
            ),
        )
        self.assertTrue(mail_mail)
        self.assertEqual(
            self.contract["bridge_url_parameter"], "wk_postmark_notification.bridge_url"
        )
        from ..models.ir_mail_server import BRIDGE_URL_PARAM, REPORT_FIELDS

        self.assertEqual(BRIDGE_URL_PARAM, self.contract["bridge_url_parameter"])
        self.assertEqual(
            REPORT_FIELDS, set(self.contract["mail_server"]["fields_written_by_bridge"])
        )
        self.assertEqual(
            postmark_notification.BRIDGE_FIELDS,
            set(self.contract["notification"]["fields_sent_by_bridge"]),
        )
