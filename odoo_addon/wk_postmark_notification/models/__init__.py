from . import ir_mail_server, mail_mail, postmark_notification
