from . import (
    test_access,
    test_bridge_rpc,
    test_contract,
    test_correlation,
    test_headers,
    test_ingest,
    test_mail_server,
    test_systray_tour,
)
