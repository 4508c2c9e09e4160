from . import test_access
from . import test_contract
from . import test_correlation
from . import test_headers
from . import test_ingest
from . import test_mail_server
from . import test_systray_tour
