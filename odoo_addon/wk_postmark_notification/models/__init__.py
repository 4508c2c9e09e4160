from . import ir_mail_server
from . import mail_mail
from . import postmark_notification
